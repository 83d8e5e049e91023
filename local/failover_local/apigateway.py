"""API Gateway REST proxy integration, locally: route matching, the proxy event, the response mapping."""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as template.yaml declares it: /failover/tracking/{trackingId}
    function: str  # logical id of the function behind it
    authorizer: Authorizer | None = None  # None: the route is public (Auth: Authorizer: NONE)
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


@dataclass(frozen=True)
class Authorizer:
    """A TOKEN Lambda authorizer as template.yaml declares it."""

    function: str  # logical id
    header: str = "Authorization"
    ttl_seconds: int = 300  # ReauthorizeEvery: API Gateway caches each token's answer this long


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        found = route.pattern.match(path)
        if found and route.method == method.upper():
            return route, found.groupdict()
    return None


def token_event(authorizer: Authorizer, token: str, method: str, path: str, stage: str | None) -> dict[str, Any]:
    arn = f"arn:aws:execute-api:eu-west-1:123456789012:local/{stage}/{method.upper()}{path}"
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}


def proxy_event(
    route: Route,
    method: str,
    path: str,
    path_parameters: dict[str, str],
    headers: dict[str, str],
    body: bytes | None,
    query: str = "",
    stage: str | None = "v1",
    authorizer_context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    multi_query = parse_qs(query, keep_blank_values=True) if query else {}
    text: str | None = None
    encoded = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method.upper(),
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            **({"authorizer": authorizer_context} if authorizer_context is not None else {}),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def http_response(result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(map(str, values))
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return int(result.get("statusCode", 200)), headers, raw
