"""Routee-style error responses for the Event Handler routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from failover import domain
from failover.bodies import JSON_MEDIA_TYPE, media_type_problem

# Routee codes: HTTP status, module (000 generic), error number.
VALIDATION_ERROR = "400000000"
MAX_BODY_BYTES = 64 * 1024


def routee_error(status: int, developer_message: str, properties: dict[str, str] | None = None) -> Response:
    body: dict[str, object] = {"code": f"{status}000000", "developerMessage": developer_message}
    if status == HTTPStatus.BAD_REQUEST:
        body["code"] = VALIDATION_ERROR
    if properties:
        body["properties"] = properties
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def spring_unauthorized(path: str, message: str) -> Response:
    """Routee's 401 is not in its own error format but Spring's."""
    body = {
        "timestamp": domain.timestamp(datetime.now(UTC)),
        "status": 401,
        "error": "Unauthorized",
        "message": message,
        "path": path,
    }
    return Response(status_code=401, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def proxy_error(
    status: int, developer_message: str, properties: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> dict:
    """routee_error as an API Gateway proxy response, for answers given before the Event Handler runs."""
    response = routee_error(status, developer_message, properties)
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": response.body,
    }


def body_too_large(event: dict, limit: int = MAX_BODY_BYTES) -> dict | None:
    """A proxy response for a request body over `limit` bytes, or None. API Gateway itself allows 10 MB."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size <= limit:
        return None
    return proxy_error(413, f"Request body over {limit} bytes")


def unsupported_media_type(event: dict) -> dict | None:
    """415 for a request body that is not application/json (optionally ;charset=utf-8), or None (and the header
    made canonical)."""
    if not event.get("body"):
        return None
    headers = event.get("headers") or {}
    content_type = next((value for key, value in headers.items() if key.lower() == "content-type"), None)
    problem = media_type_problem(content_type)
    if problem is None:
        # Media types are case-insensitive; the Event Handler compares them as written. Hand it the canonical one.
        for key in [k for k in headers if k.lower() == "content-type"]:
            headers[key] = JSON_MEDIA_TYPE
        for key in [k for k in event.get("multiValueHeaders") or {} if k.lower() == "content-type"]:
            event["multiValueHeaders"][key] = [JSON_MEDIA_TYPE]
        return None
    return proxy_error(415, f"Unsupported Content-Type: {problem}", {"Content-Type": problem})


_POWERTOOLS_422 = "#/components/schemas/HTTPValidationError"


def openapi_document(schema_json: str) -> str:
    """Powertools' OpenAPI document without its default 422: bad input here is Routee's 400, described per route."""
    schema = json.loads(schema_json)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            content = responses.get("422", {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") == _POWERTOOLS_422:
                del responses["422"]
    schemas = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if unused not in json.dumps(schema.get("paths", {})):
            schemas.pop(unused, None)
    return json.dumps(schema)
