"""Public API: POST /failover, GET /failover/tracking/{trackingId} (Routee's Failover API)."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths

from failover.domain import FailoverRequest, error_properties
from failover.http import routee_error
from failover.observability import logger, tracer
from failover.service import NotFound
from failover.wiring import build_service

app = APIGatewayRestResolver(enable_validation=True)
service = build_service()


@app.post("/failover")
@tracer.capture_method
def create_flow(request: FailoverRequest) -> dict:
    return service.create_flow(request)


@app.get("/failover/tracking/<tracking_id>")
@tracer.capture_method
def track_flow(tracking_id: str) -> dict:
    return service.snapshot(tracking_id)


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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
