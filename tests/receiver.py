"""The one test HTTP endpoint: a receiver on 127.0.0.1, served by pytest-httpserver.

Every test that needs someone to POST to uses it (no hand-written http.server copies): it stands for a customer's
callback URL or a Routee client's receipt URL. It records every request and answers each from a script ("ok",
"500", "slow": 200 after 5 s, "hangup": the connection dropped without an answer), then its default ("ok").
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
SLOW_SECONDS = 5  # longer than any client timeout of ours (callbacks: 2 s; receipts: 2 s), and bounded


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() on arrival
    answered: int  # the status code it was answered with; 0: hung up


class Receiver:
    """Records every request; answers from `answers` (after `fail_first` 500s) in turn, then 200. Starts at once;
    `down()` stops it and `up()` starts it again on the same port, so a URL handed out before stays valid."""

    def __init__(self, answers: list[str] | None = None, fail_first: int = 0, default: str = "ok"):
        self.answers = ["500"] * fail_first + list(answers or [])
        self.default = default
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._server.expect_request(re.compile(".*")).respond_with_handler(self._answer)
        self.up()

    def _answer(self, request: Request) -> Response:
        with self._lock:
            answer = self.answers.pop(0) if self.answers else self.default
            status = {"500": 500, "hangup": 0}.get(answer, 200)
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.hits.append(Hit(request.full_path.rstrip("?"), headers, request.get_data(), time.monotonic(), status))
        if answer == "slow":
            time.sleep(SLOW_SECONDS)
        if answer == "hangup":  # the connection closed without a status line: the client sees it drop
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        return Response(status=status or 200)  # a hung-up connection gets nothing

    def up(self) -> Receiver:
        if not self._server.is_running():
            self._server.start()
        return self

    def down(self) -> Receiver:
        if self._server.is_running():
            self._server.stop()
        return self

    close = down

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def attempts(self) -> int:
        with self._lock:
            return len(self.hits)

    def delivered(self, path: str | None = None) -> list[Hit]:
        """The requests answered 200 (of one path, if given), in arrival order."""
        with self._lock:
            return [hit for hit in self.hits if hit.answered == 200 and path in (None, hit.path)]

    def bodies(self, path: str) -> list[bytes]:
        return [hit.body for hit in self.delivered(path)]

    def json_bodies(self, path: str | None = None) -> list[dict[str, Any]]:
        return [json.loads(hit.body) for hit in self.delivered(path)]

    def arrivals(self, path: str) -> list[float]:
        return [hit.at for hit in self.delivered(path)]
