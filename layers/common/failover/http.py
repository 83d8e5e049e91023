"""Routee-style error responses for the Event Handler routes."""

from __future__ import annotations

import json
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

# Routee codes: HTTP status, module (000 generic), error number.
VALIDATION_ERROR = "400000000"


def routee_error(status: int, developer_message: str, properties: dict[str, str] | None = None) -> Response:
    body: dict[str, object] = {"code": f"{status}000000", "developerMessage": developer_message}
    if status == HTTPStatus.BAD_REQUEST:
        body["code"] = VALIDATION_ERROR
    if properties:
        body["properties"] = properties
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))
