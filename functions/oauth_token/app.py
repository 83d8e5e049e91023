"""POST /oauth/token: Routee's OAuth client credentials (Basic applicationId:secret, grant_type=client_credentials)."""

import json

import jwt  # noqa: F401  every invocation uses it: loaded in the init phase, not by the first request
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from failover.access import InvalidClient, InvalidRequest, TooManyAttempts
from failover.http import body_too_large, routee_error, spring_unauthorized
from failover.observability import logger
from failover.wiring import build_access

app = APIGatewayRestResolver()
access = build_access()


@app.post("/oauth/token")
def issue_token() -> dict:
    event = app.current_event
    return access.token(
        event.headers.get("authorization"),
        event.headers.get("content-type"),
        event.decoded_body,
        source_address=event.request_context.identity.source_ip,
    )


@app.exception_handler(InvalidClient)
def bad_credentials(error: InvalidClient):
    return spring_unauthorized("/oauth/token", "Bad credentials")


@app.exception_handler(TooManyAttempts)
def too_many_attempts(error: TooManyAttempts):
    response = routee_error(429, str(error))
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@app.exception_handler(InvalidRequest)
def bad_request(error: InvalidRequest):
    body = {"error": error.error, "error_description": error.description}
    return Response(status_code=400, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


@app.exception_handler(UnicodeDecodeError)
def undecodable_body(error: UnicodeDecodeError):
    body = {"error": "invalid_request", "error_description": "the body is not UTF-8"}
    return Response(status_code=400, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    return body_too_large(event) or app.resolve(event, context)
