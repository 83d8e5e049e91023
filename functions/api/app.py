"""Public API: Routee's Failover API (POST /failover, GET /failover/tracking/{trackingId}, POST /failover/tracking)
and our extensions (Idempotency-Key, POST /failover/{trackingId}/cancel, POST /callbacks/redeliver,
GET /openapi.json).

The authorizer has checked the bearer token; its context names the calling application.
"""

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from pydantic import ValidationError

from failover.access import NotAdmitted, RateLimited
from failover.bodies import BodyProblem, loads
from failover.domain import MAX_PAGE_SIZE
from failover.http import body_too_large, openapi_document, proxy_error, routee_error, unsupported_media_type
from failover.idempotency import MAX_KEY_LENGTH, IdempotencyAlreadyInProgressError, IdempotencyValidationError
from failover.models import (
    CreatedFlowModel,
    ErrorModel,
    FailoverRequest,
    FlowPageModel,
    FlowSnapshotModel,
    GatewayMessageModel,
    TrackingFilter,
    TrackingSearch,
    error_properties,
)
from failover.observability import logger
from failover.service import AlreadyFinished, InvalidRequest, NotFound
from failover.wiring import build_access, build_callbacks, build_service

if TYPE_CHECKING:
    from failover.callbacks import CallbackService

app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=loads)  # bounded: failover.bodies
service = build_service(idempotent_creates=True)
access = build_access()

TITLE = "failover"
VERSION = "1.0.0"


def _json(model: type, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


# Every authenticated route answers these besides its own.
_COMMON = {
    401: _json(GatewayMessageModel, "Missing, expired or forged bearer token"),
    403: _json(GatewayMessageModel, "The authorizer denied the token"),
    413: _json(ErrorModel, "Request body over 64 KiB"),
    415: _json(ErrorModel, "A request body that is not application/json (optionally with charset=utf-8)"),
    429: _json(ErrorModel, "The application's requests per minute are used up (see Retry-After)"),
}
_BAD_REQUEST = {400: _json(ErrorModel, "Validation failed: properties name each bad field")}
_NOT_FOUND = {404: _json(ErrorModel, "Unknown trackingId, or another application's flow")}


class NoApplication(Exception):
    """No authorizer context: the route was reached without the authorizer (a misconfiguration)."""


@functools.cache
def callbacks() -> "CallbackService":
    """Built at the first POST /callbacks/redeliver, the only route that uses it: the callback modules would
    add ~5 ms to every cold start of this function for a rarely called route (bench/results.md)."""
    return build_callbacks()


def caller() -> str:
    """The calling application; admitted (expiry, status, rate limit) before routing, in lambda_handler."""
    application_id = app.current_event.request_context.authorizer.get("applicationId")
    if not application_id:
        raise NoApplication()
    return application_id


@app.post(
    "/failover",
    summary="Start a failover flow",
    responses={
        200: _json(
            CreatedFlowModel, "The created flow, echoed (Queued); with a repeated Idempotency-Key, the first answer"
        ),
        **_BAD_REQUEST,
        409: _json(ErrorModel, "A request with this Idempotency-Key is still being processed"),
        422: _json(ErrorModel, "This Idempotency-Key was used with another body"),
        **_COMMON,
    },
)
def create_flow(
    request: FailoverRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            description="Our extension: the same key and body within 24 h answer the first response again",
        ),
    ] = None,
) -> dict:
    return service.create_flow(request, caller(), idempotency_key)


@app.post(
    "/failover/tracking",
    summary="Search the caller's flows in a time range, newest first, optionally filtered",
    responses={200: _json(FlowPageModel, "One page of flows"), **_BAD_REQUEST, **_COMMON},
)
def search_flows(
    search: Annotated[TrackingFilter | None, Body(description="Routee's filter (may be left out)")] = None,
    dateStart: Annotated[datetime | None, Query(description="Required here or in the body (our extension)")] = None,
    dateEnd: Annotated[datetime | None, Query(description="Required here or in the body (our extension)")] = None,
    page: Annotated[int | None, Query(ge=0, le=100_000, description="0-based; default 0")] = None,
    size: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Default 10")] = None,
    pageToken: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=1024,
            description="Our extension: the previous page's nextPageToken; the page after it, at the cost of one page",
        ),
    ] = None,
) -> dict:
    # Routee's (Spring's) range and paging come in the query string; the body may carry them as well.
    query = {"dateStart": dateStart, "dateEnd": dateEnd, "page": page, "size": size, "pageToken": pageToken}
    try:
        request = TrackingSearch.of(query, search)
    except ValidationError as error:  # a missing or reversed range
        raise InvalidRequest(error_properties(list(error.errors()))) from None
    return service.search(request, caller())


@app.get(
    "/failover/tracking/<trackingId>",
    summary="The flow's snapshot",
    responses={200: _json(FlowSnapshotModel, "The flow's snapshot"), **_NOT_FOUND, **_COMMON},
)
def track_flow(trackingId: str) -> dict:
    return service.snapshot(trackingId, caller())


@app.post(
    "/failover/<trackingId>/cancel",
    summary="Cancel a Queued or InProgress flow: it ends Failed with statusCode 4",
    responses={
        200: _json(FlowSnapshotModel, "The cancelled flow"),
        **_NOT_FOUND,
        409: _json(ErrorModel, "The flow has already ended"),
        **_COMMON,
    },
)
def cancel_flow(trackingId: str) -> dict:
    return service.cancel(trackingId, caller())


@app.post(
    "/callbacks/redeliver",
    summary="Move the caller's dead-lettered callbacks back to the delivery queue",
    responses={
        200: {"description": "How many deliveries were moved; complete: false asks for another call"},
        **_COMMON,
    },
)
def redeliver_callbacks(
    trackingId: Annotated[str | None, Query(description="Only this flow's callbacks")] = None,
) -> dict[str, int | bool]:
    """Dead-lettered callbacks of the caller's flows (or of one flow: ?trackingId=) go back to the queue.

    One request scans for at most 20 s; "complete": false means the scan stopped there: call again to go on.
    """
    moved, complete = callbacks().redeliver(application_id=caller(), tracking_id=trackingId)
    return {"redelivered": moved, "complete": complete}


@app.get("/openapi.json", include_in_schema=False)
def openapi():
    """This API's OpenAPI 3 document, generated from the routes and the pydantic models. Public."""
    # Imported here, as Powertools imports them for its own schema: the OpenAPI models cost ~100 ms to build,
    # which no other route needs (bench/results.md).
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    context = app.current_event.request_context
    domain_name = app.current_event.raw_event.get("requestContext", {}).get("domainName")
    servers = [Server(url=f"https://{domain_name}/{context.stage}")] if domain_name else [Server(url="/")]
    schema = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description="A self-hosted, Routee-compatible multi-channel message failover service.",
        servers=servers,
        security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
        security=[{"bearerAuth": []}],
    )
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document(schema))


@app.exception_handler(InvalidRequest)
def invalid_request(error: InvalidRequest):
    return routee_error(400, "Validation failed: " + ", ".join(error.properties), error.properties)


@app.exception_handler(RequestValidationError)
def bad_request(error: RequestValidationError):
    properties = error_properties(list(error.errors()))
    return routee_error(400, "Validation failed: " + ", ".join(properties), properties)


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_content_type(error: RequestUnsupportedContentType):
    problem = "must be application/json, optionally with charset=utf-8"
    return routee_error(415, f"Unsupported Content-Type: {problem}", {"Content-Type": problem})


@app.exception_handler(BodyProblem)
def body_out_of_limits(error: BodyProblem):
    return routee_error(400, "Validation failed: body", {"body": str(error)})


@app.exception_handler(UnicodeDecodeError)
def undecodable_body(error: UnicodeDecodeError):
    return routee_error(400, "Validation failed: body", {"body": "is not valid JSON (not UTF-8)"})


@app.exception_handler(NotFound)
def not_found(error: NotFound):
    return routee_error(404, f"Tracking id {error} not found")


@app.exception_handler(AlreadyFinished)
def already_finished(error: AlreadyFinished):
    return routee_error(409, str(error))


@app.exception_handler(IdempotencyValidationError)
def idempotency_key_reused(error: IdempotencyValidationError):
    return routee_error(422, "Idempotency-Key already used with another request body")


@app.exception_handler(IdempotencyAlreadyInProgressError)
def idempotency_in_progress(error: IdempotencyAlreadyInProgressError):
    return routee_error(409, "A request with this Idempotency-Key is still being processed")


@app.exception_handler(NoApplication)
def no_application(error: NoApplication):
    return Response(status_code=401, content_type=content_types.APPLICATION_JSON, body='{"message":"Unauthorized"}')


_UNAUTHORIZED = '{"message":"Unauthorized"}'  # API Gateway's own 401 body


def admission(event: dict) -> dict | None:
    """Before routing, so that every authenticated request counts, whatever its body: the token's expiry and
    the application's status (the authorizer's answer may come from API Gateway's cache) and the rate limit."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    application_id = authorizer.get("applicationId")
    if not application_id:
        return None  # a public route (the OpenAPI document); a protected one answers 401 in caller()
    try:
        access.admit(application_id, authorizer.get("expiresAt"))
    except NotAdmitted:
        return {"statusCode": 401, "headers": {"Content-Type": "application/json"}, "body": _UNAUTHORIZED}
    except RateLimited as error:
        return proxy_error(429, str(error), headers={"Retry-After": str(error.retry_after)})
    return None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event, context):
    service.bind_invocation(context)
    return admission(event) or body_too_large(event) or unsupported_media_type(event) or app.resolve(event, context)
