"""Public API: POST /failover, GET /failover/tracking/{trackingId} (Routee's Failover API).

The authorizer has checked the bearer token; its context names the calling application.
"""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths

from failover.access import RateLimited
from failover.domain import FailoverRequest, error_properties
from failover.http import body_too_large, routee_error
from failover.observability import logger, tracer
from failover.service import InvalidRequest, NotFound
from failover.wiring import build_access, build_callbacks, build_service

app = APIGatewayRestResolver(enable_validation=True)
service = build_service()
access = build_access()
callbacks = build_callbacks()


class NoApplication(Exception):
    """No authorizer context: the route was reached without the authorizer (a misconfiguration)."""


def caller() -> str:
    application_id = app.current_event.request_context.authorizer.get("applicationId")
    if not application_id:
        raise NoApplication()
    access.check_rate(application_id)
    return application_id


@app.post("/failover")
@tracer.capture_method
def create_flow(request: FailoverRequest) -> dict:
    return service.create_flow(request, caller())


@app.get("/failover/tracking/<tracking_id>")
@tracer.capture_method
def track_flow(tracking_id: str) -> dict:
    return service.snapshot(tracking_id, caller())


@app.post("/callbacks/redeliver")
@tracer.capture_method
def redeliver_callbacks() -> dict:
    """Dead-lettered callbacks of the caller's flows (or of one flow: ?trackingId=) go back to the queue."""
    tracking_id = app.current_event.get_query_string_value("trackingId")
    return {"redelivered": callbacks.redeliver(application_id=caller(), tracking_id=tracking_id)}


@app.exception_handler(InvalidRequest)
def invalid_request(error: InvalidRequest):
    return routee_error(400, "Validation failed: " + ", ".join(error.properties), error.properties)


@app.exception_handler([RequestValidationError, RequestUnsupportedContentType])
def bad_request(error: RequestValidationError | RequestUnsupportedContentType):
    content_type = app.current_event.headers.get("content-type") or ""
    if content_type and not content_type.lower().startswith("application/json"):
        properties = {"Content-Type": "must be application/json"}
    else:
        properties = error_properties(list(error.errors()))
    return routee_error(400, "Validation failed: " + ", ".join(properties), properties)


@app.exception_handler(NotFound)
def not_found(error: NotFound):
    return routee_error(404, f"Tracking id {error} not found")


@app.exception_handler(NoApplication)
def no_application(error: NoApplication):
    return Response(status_code=401, content_type=content_types.APPLICATION_JSON, body='{"message":"Unauthorized"}')


@app.exception_handler(RateLimited)
def rate_limited(error: RateLimited):
    response = routee_error(429, str(error))
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return body_too_large(event) or app.resolve(event, context)
