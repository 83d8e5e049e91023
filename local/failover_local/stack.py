"""The whole product on one machine: the API on real HTTP, moto as AWS, and the Routee channel simulator.

HTTP requests become API Gateway proxy events for the deployed handlers (routes from template.yaml); moto runs
the state machine and dispatches its Lambda tasks in-process; the Routee provider talks real HTTP to the
simulator (or to any Routee-compatible endpoint configured in the environment).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import urlsplit

import requests

from failover_local.aws import LocalAws
from failover_local.faults import FaultPlan
from failover_local.simulator import Simulator

# Swagger UI's assets come from the swagger-ui-py package (a dev dependency), so /docs works offline.
SWAGGER_ASSETS = importlib.resources.files("swagger_ui") / "static"
SWAGGER_ASSET_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
SWAGGER_UI = b"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>failover API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"""
# Our own initializer (the package's points at a public demo document).
SWAGGER_INITIALIZER = b"""window.onload = function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});
};
"""


def swagger_asset(name: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of one Swagger UI file by its bare name, or None."""
    if name == "swagger-initializer.js":
        return "text/javascript", SWAGGER_INITIALIZER
    content_type = SWAGGER_ASSET_TYPES.get(os.path.splitext(name)[1])
    asset = SWAGGER_ASSETS / name
    if content_type is None or "/" in name or not asset.is_file():
        return None
    return content_type, asset.read_bytes()


DEFAULT_PORT = 3000
DEFAULT_SIMULATOR_PORT = 3001
HOST = "127.0.0.1"
LISTEN_BACKLOG = 128  # connections the kernel queues before the server accepts them (capped by net.core.somaxconn)


@dataclass(frozen=True)
class RouteeEndpoint:
    """Where the Routee provider sends: the simulator, unless the environment names another endpoint."""

    api_url: str
    auth_url: str
    application_id: str
    application_secret: str

    @classmethod
    def from_environment(cls) -> RouteeEndpoint | None:
        names = ("ROUTEE_API_URL", "ROUTEE_AUTH_URL", "ROUTEE_APPLICATION_ID", "ROUTEE_APPLICATION_SECRET")
        values = [os.environ.get(name, "") for name in names]
        return cls(*values) if all(values) else None


class StatusLog:
    """One human-readable line per status change of a flow or a message, so a person can watch failover."""

    def __init__(self, out: TextIO = sys.stdout):
        self._out = out
        self._seen: dict[tuple[str, str], str] = {}
        self._steps: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def __call__(self, item: dict[str, Any]) -> None:
        pk, sk = item.get("pk", ""), item.get("sk", "")
        if not pk.startswith("FLOW#"):
            return
        tracking_id = pk.removeprefix("FLOW#")
        with self._lock:
            if sk == "#FLOW":
                self._steps[tracking_id] = json.loads(item["steps"])
                status = item["status"] + (f" (statusCode {item['statusCode']})" if item.get("statusCode") else "")
                where = "flow"
            else:
                status = (item.get("status") or {}).get("name")
                if status is None:
                    return
                detail = ((item.get("status") or {}).get("reason") or {}).get("detailedStatus")
                status += f" ({detail})" if detail and detail != status else ""
                step = self._steps.get(tracking_id, [])[int(item["index"])] if tracking_id in self._steps else {}
                where = f"#{step.get('order', '?')} {step.get('type', '?')}"
            if self._seen.get((pk, sk)) == status:
                return
            self._seen[(pk, sk)] = status
        now = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        self._out.write(f"{now}  {tracking_id}  {where:<10} {status}\n")
        self._out.flush()


class LocalStack:
    def __init__(
        self,
        port: int = DEFAULT_PORT,
        simulator_port: int = DEFAULT_SIMULATOR_PORT,
        time_scale: float | None = None,
        routee: RouteeEndpoint | None = None,
        on_status: Callable[[dict[str, Any]], None] | None = None,
        simulator_options: dict[str, Any] | None = None,
        applications: dict[str, str] | None = None,  # default: FAILOVER_LOCAL_APPS
        faults: FaultPlan | None = None,  # default: FAILOVER_LOCAL_FAULTS (docs/faults.md)
    ):
        self.port = port
        self.simulator_port = simulator_port
        self.time_scale = float(os.environ.get("FAILOVER_TIME_SCALE", "1")) if time_scale is None else time_scale
        self._routee = routee
        self._on_status = on_status
        self._simulator_options = simulator_options or {}
        self._applications = applications
        self._faults = faults
        self.simulator: Simulator | None = None
        self.aws: LocalAws | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        # The API first: its URL goes into every callback URL handed to the provider.
        self._server = _Server((HOST, self.port), _Handler)
        self._server.stack = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

        routee = self._routee
        if routee is None:
            self.simulator = Simulator(self.simulator_port, time_scale=self.time_scale, **self._simulator_options)
            self.simulator.start()
            routee = RouteeEndpoint(
                self.simulator.base_url,
                self.simulator.base_url,
                self.simulator.application_id,
                self.simulator.application_secret,
            )
        self.aws = LocalAws(
            parameters={
                "TimeScale": str(self.time_scale),
                "RouteeApiUrl": routee.api_url,
                "RouteeAuthUrl": routee.auth_url,
                "RouteeApplicationId": routee.application_id,
                "RouteeApplicationSecret": routee.application_secret,
            },
            environment={
                "PUBLIC_API_URL": self.url,  # API Gateway's URL in the cloud; this server's here
                "CALLBACK_ALLOW_LOOPBACK": "true",  # customers' receivers on 127.0.0.1 over http
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            },
            on_item_written=self._on_status,
            applications=self._applications,
            faults=self._faults,
        ).start()
        self.ready.set()

    def stop(self) -> None:
        self.ready.clear()
        if self.aws is not None:
            self.aws.stop_executions()
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None


class _Server(ThreadingHTTPServer):
    """One thread per connection, and a listen backlog that holds a burst (socketserver's default is 5: a burst
    of receipts overflowed it and lost connections)."""

    daemon_threads = True
    block_on_close = True
    request_queue_size = LISTEN_BACKLOG
    stack: LocalStack


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # the status log tells the story; access logs would drown it

    def _respond(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        stack = self.server.stack
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if parts.path == "/health":
            ready = stack.ready.is_set()
            status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
            payload = json.dumps({"status": "ok" if ready else "starting"}).encode()
            self._respond(status, {"Content-Type": "application/json"}, payload)
            return
        if parts.path == "/docs" and self.command == "GET":
            # Dev only: Swagger UI on the API's own OpenAPI document, every asset served from here.
            self._respond(HTTPStatus.OK, {"Content-Type": "text/html; charset=utf-8"}, SWAGGER_UI)
            return
        if parts.path.startswith("/docs/") and self.command == "GET":
            asset = swagger_asset(parts.path.removeprefix("/docs/"))
            status, (content_type, payload) = (
                (HTTPStatus.OK, asset) if asset else (HTTPStatus.NOT_FOUND, ("text/plain", b"not found"))
            )
            self._respond(status, {"Content-Type": content_type}, payload)
            return
        if not stack.ready.is_set() or stack.aws is None:
            self._respond(
                HTTPStatus.SERVICE_UNAVAILABLE, {"Content-Type": "application/json"}, b'{"message":"starting"}'
            )
            return
        headers = {key: value for key, value in self.headers.items()}
        status, response_headers, payload = stack.aws.handle_http(self.command, parts.path, headers, body, parts.query)
        self._respond(status, response_headers, payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


def bearer_session(url: str, application_id: str, secret: str) -> requests.Session:
    """A requests session that authenticates as a Routee client does: client credentials, then Bearer."""
    session = requests.Session()
    response = session.post(
        f"{url}/oauth/token",
        auth=(application_id, secret),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    response.raise_for_status()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session
