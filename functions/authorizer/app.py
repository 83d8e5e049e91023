"""API Gateway TOKEN authorizer: a valid bearer token of an active application, or 401."""

import jwt  # noqa: F401  every invocation uses it: loaded in the init phase, not by the first request
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)

from failover.observability import logger
from failover.wiring import build_access

access = build_access()


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context) -> dict:
    authorization = access.authorize(event.authorization_token)
    if authorization is None:
        raise Exception("Unauthorized")  # API Gateway's only way to answer 401 from an authorizer
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=authorization.application_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        # expiresAt travels with the cached answer: the API refuses the token at its exp, cache or not.
        context={"applicationId": authorization.application_id, "expiresAt": authorization.expires_at},
    )
    policy.allow_all_routes()  # the answer is cached per token, for every route of the API
    return policy.asdict()
