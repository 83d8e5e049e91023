"""A Routee-compatible HTTP server on loopback: OAuth, /sms, /viber, /voice/conversation, tracking, balance."""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from failover_local.simulator import scenarios, validation
from failover_local.simulator.delivery import RECEIPT_ATTEMPTS, RECEIPT_BACKOFF, Chain, Delivery, Dispatcher
from failover_local.simulator.scenarios import PRICES, SMS, VIBER, VOICE, Delays, Event

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001
DEFAULT_APPLICATION_ID = "simulator-app"
DEFAULT_APPLICATION_SECRET = "simulator-secret"
DEFAULT_BALANCE = 100.0
DEFAULT_TOKEN_LIFETIME = 3600.0
DEFAULT_TTL_SECONDS = {VIBER: 86400.0, SMS: 4320 * 60.0, VOICE: 0.0}  # when a send gives no ttl
RETRY_AFTER = 1.0  # seconds before scaling, in the 503 of digit 9
SCOPE = "sms viber voice account failover"
PERMISSIONS = ["MT_ROLE_SMS", "MT_ROLE_VIBER", "MT_ROLE_VOICE", "MT_ROLE_ACCOUNT", "MT_ROLE_FAILOVER"]
# Routee answers a Viber send, and reports it, with the sender's name, not its senderInfoTrackingId.
VIBER_SENDER_NAME = "Simulator"
INITIAL_STATUS = {VIBER: "QUEUED", SMS: "Queued", VOICE: "Queued"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def routee_error(code: str, message: str, properties: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "developerMessage": message}
    if properties:
        body["properties"] = properties
    return body


@dataclass
class Message:
    tracking_id: str
    channel: str
    to: str
    sender: str
    request: dict[str, Any]
    created: datetime
    created_monotonic: float
    digit: int
    price: float  # debited from the balance at send
    ttl_seconds: float
    events: list[Event]
    parts: int = 1
    analysis: dict[str, Any] = field(default_factory=dict)
    part_ids: list[str] = field(default_factory=list)  # SMS: one smsId per part
    call_id: str = ""  # Voice: the receipt's messageId, which is not the conversation's trackingId


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    body: Any = None


class Simulator:
    """Routee's channel APIs on one port. start() / stop(), or use it as a context manager."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = DEFAULT_HOST,
        application_id: str | None = None,
        application_secret: str | None = None,
        time_scale: float | None = None,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        balance: float = DEFAULT_BALANCE,
        delays: Delays | None = None,
        receipt_attempts: int = RECEIPT_ATTEMPTS,
        receipt_backoff: float = RECEIPT_BACKOFF,
        verbose: bool = False,
    ):
        env = os.environ
        self.host = host
        self.requested_port = port
        self.application_id = application_id or env.get("SIMULATOR_APPLICATION_ID") or DEFAULT_APPLICATION_ID
        self.application_secret = (
            application_secret or env.get("SIMULATOR_APPLICATION_SECRET") or DEFAULT_APPLICATION_SECRET
        )
        self.time_scale = float(env.get("FAILOVER_TIME_SCALE") or 1) if time_scale is None else float(time_scale)
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.token_lifetime = token_lifetime
        self.delays = delays or Delays()
        self.verbose = verbose
        self._balance = balance
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # token → expiry, time.monotonic()
        self._messages: dict[str, Message] = {}
        self._refused_once: set[tuple[str, str]] = set()
        self._requests: list[RequestRecord] = []
        self._deliveries: list[Delivery] = []
        self._dispatcher = Dispatcher(
            self.time_scale, attempts=receipt_attempts, backoff=receipt_backoff, on_delivery=self._delivered
        )
        self.errors = 0  # requests that hit a bug in the simulator (answered 500)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -----------------------------------------------------------------------------------------------------
    # Lifecycle
    # -----------------------------------------------------------------------------------------------------

    def start(self) -> Simulator:
        server = _Server((self.host, self.requested_port), _Handler)
        server.simulator = self
        self._server = server
        self._dispatcher.start()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="simulator-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cancel pending receipts, and join every thread the simulator started."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()  # joins the request threads
        assert self._thread is not None
        self._thread.join()
        self._dispatcher.stop()
        self._server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -----------------------------------------------------------------------------------------------------
    # Inspection, for tests and the local stack
    # -----------------------------------------------------------------------------------------------------

    @property
    def balance(self) -> float:
        with self._lock:
            return self._balance

    @balance.setter
    def balance(self, value: float) -> None:
        with self._lock:
            self._balance = value

    def messages(self, channel: str | None = None, to: str | None = None) -> list[Message]:
        """Accepted sends, oldest first."""
        with self._lock:
            found = list(self._messages.values())
        return [m for m in found if (channel is None or m.channel == channel) and (to is None or m.to == to)]

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def count(self, method: str, path: str, status: int | None = None) -> int:
        """How many requests were answered for `method path` (with `status`, if given)."""
        return sum(
            1 for r in self.requests if r.method == method and r.path == path and (status is None or r.status == status)
        )

    @property
    def deliveries(self) -> list[Delivery]:
        """Every receipt POST attempt, in the order they completed."""
        with self._lock:
            return list(self._deliveries)

    def pending_receipts(self) -> int:
        """Receipts not yet delivered or given up on (waiting for their time, a retry, or in flight)."""
        return self._dispatcher.pending()

    def expire_tokens(self) -> None:
        """Expire every issued token now, as if their lifetime had passed (the clients do not know)."""
        with self._lock:
            self._tokens.clear()

    def _delivered(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)
        if self.verbose:
            outcome = delivery.status or delivery.error
            print(f"receipt {delivery.body.get('status', {}).get('name')} → {delivery.url}: {outcome}", file=sys.stderr)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    # -----------------------------------------------------------------------------------------------------
    # Authentication
    # -----------------------------------------------------------------------------------------------------

    def issue_token(self, authorization: str | None, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        credentials = None
        if authorization and authorization.startswith("Basic "):
            try:
                credentials = base64.b64decode(authorization[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                credentials = None
        if credentials != f"{self.application_id}:{self.application_secret}":
            return 401, spring_401("/oauth/token", "Bad credentials")
        grant = (form.get("grant_type") or [""])[0]
        if grant != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": f"Unsupported grant type: {grant}"}
        token = str(uuid.uuid4())
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
        expires_in = max(0, int(self.token_lifetime + 0.999) - 1)  # Routee reports the seconds left: 3599
        return 200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
            "scope": SCOPE,
            "permissions": PERMISSIONS,
        }

    def check_token(self, authorization: str | None, path: str) -> tuple[int, dict[str, Any]] | None:
        """None when the bearer token is valid; otherwise Routee's 401 (Spring or OAuth style)."""
        if not authorization or not authorization.startswith("Bearer "):
            return 401, spring_401(path, "Full authentication is required to access this resource")
        token = authorization[7:].strip()
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            return 401, {"error": "invalid_token", "error_description": f"Invalid access token: {token}"}
        if expiry <= time.monotonic():
            return 401, {"error": "invalid_token", "error_description": f"Access token expired: {token}"}
        return None

    # -----------------------------------------------------------------------------------------------------
    # Sending
    # -----------------------------------------------------------------------------------------------------

    def send(self, channel: str, path: str, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, body, extra headers) for a send request that passed authentication."""
        if not isinstance(body, dict):
            return 400, routee_error(validation.VALIDATION_CODE, "Request body is not a JSON object"), {}
        problems = {SMS: validation.sms, VIBER: validation.viber, VOICE: validation.voice}[channel](body)
        if problems:
            return 400, routee_error(problems.code, problems.message, problems.properties), {}
        to = validation.voice_address(body["to"]) if channel == VOICE else body["to"]
        digit = scenarios.outcome_digit(channel, to)
        if digit == scenarios.REFUSE_AUTH:
            return 401, spring_401(path, "Bad credentials"), {}
        now = datetime.now(UTC)
        with self._lock:
            if digit == scenarios.REFUSE_FIRST and (channel, to) not in self._refused_once:
                self._refused_once.add((channel, to))
                retry_after = str(round(RETRY_AFTER * self.time_scale))
                unavailable = routee_error("503000000", "Service temporarily unavailable, try again later")
                return 503, unavailable, {"Retry-After": retry_after}
            message = self._new_message(channel, to, body, digit, now)
            if digit == scenarios.REFUSE_BALANCE or self._balance < message.price:
                return 400, routee_error("400001009", "Insufficient Balance"), {}
            self._balance = round(self._balance - message.price, 6)
            self._messages[message.tracking_id] = message
        self._schedule_receipts(message)
        return 200, send_response(message), {}

    def _new_message(self, channel: str, to: str, body: dict[str, Any], digit: int, now: datetime) -> Message:
        parts, analysis = 1, {}
        if channel == SMS:
            analysis = scenarios.body_analysis(body["body"], bool(body.get("transcode", False)))
            parts = int(analysis["parts"])
        if channel == SMS:
            ttl = float(body["ttl"]) * 60 if body.get("ttl") is not None else DEFAULT_TTL_SECONDS[SMS]
        else:
            ttl = float(body.get("ttl") or DEFAULT_TTL_SECONDS[channel])
        return Message(
            tracking_id=str(uuid.uuid4()),
            channel=channel,
            to=to,
            sender=VIBER_SENDER_NAME if channel == VIBER else body["from"],
            request=body,
            created=now,
            created_monotonic=time.monotonic(),
            digit=digit,
            price=round(PRICES[channel] * parts, 6),
            ttl_seconds=ttl,
            # "After the ttl" counts from the ttl as the engine waits it: scaled, then whole seconds.
            events=scenarios.script(channel, digit, self.delays, math.ceil(ttl * self.time_scale) / self.time_scale),
            parts=parts,
            analysis=analysis,
            part_ids=[str(uuid.uuid4()) for _ in range(parts)],
            call_id=str(uuid.uuid4()),
        )

    def _schedule_receipts(self, message: Message) -> None:
        if message.channel == VIBER:
            url, strategy = message.request.get("callbackUrl"), "OnChange"
        else:
            callback = message.request.get("callback") or {}
            url, strategy = callback.get("url"), callback.get("strategy", "OnChange")
        if not url:
            return
        items = []
        for event in message.events:
            if strategy == "OnCompletion" and event.status not in scenarios.FINAL[message.channel]:
                continue
            due = message.created_monotonic + event.at * self.time_scale
            items.extend((due, receipt) for receipt in receipts(message, event, self.time_scale))
        self._dispatcher.submit(Chain(url, items))

    # -----------------------------------------------------------------------------------------------------
    # Tracking
    # -----------------------------------------------------------------------------------------------------

    def current(self, message: Message) -> tuple[str, datetime]:
        """The message's status now: the latest event that has happened; a stale one does not undo a final."""
        status, moment = INITIAL_STATUS[message.channel], message.created
        elapsed = (time.monotonic() - message.created_monotonic) / self.time_scale
        final = scenarios.FINAL[message.channel]
        for event in message.events:
            if event.at > elapsed:
                break
            if status in final and event.status not in final:
                continue
            status, moment = event.status, message.created + timedelta(seconds=event.at * self.time_scale)
        return status, moment

    def tracking(self, channel: str, tracking_id: str) -> tuple[int, Any]:
        with self._lock:
            message = self._messages.get(tracking_id)
        if message is None or message.channel != channel:
            code = "404005000" if channel == SMS else "404019000"
            return 404, routee_error(code, f"Tracking {tracking_id} not found")
        status, moment = self.current(message)
        if channel == SMS:
            return 200, [
                {
                    **sms_common(message, part),
                    "body": message.request["body"],
                    "status": {"status": status, "date": iso(moment)},
                    "createdAt": iso(message.created),
                }
                for part in range(1, message.parts + 1)
            ]
        answer = send_response(message)
        answer["status"] = {"status": status, "date": iso(moment)}
        answer["price"] = PRICES[VIBER]
        answer["createdAt"] = iso(message.created)
        return 200, answer

    def balance_answer(self) -> dict[str, Any]:
        return {"balance": self.balance, "currency": {"code": "EUR", "name": "Euro", "sign": "€"}}


# ---------------------------------------------------------------------------------------------------------
# Payloads, in Routee's wire format
# ---------------------------------------------------------------------------------------------------------


def spring_401(path: str, message: str) -> dict[str, Any]:
    return {
        "timestamp": iso(datetime.now(UTC)),
        "status": 401,
        "error": "Unauthorized",
        "message": message,
        "path": path,
    }


def send_response(message: Message) -> dict[str, Any]:
    request, created = message.request, iso(message.created)
    if message.channel == SMS:
        answer = {
            "trackingId": message.tracking_id,
            "status": "Queued",
            "createdAt": created,
            "from": message.sender,
            "to": message.to,
            "body": request["body"],
            "bodyAnalysis": message.analysis,
            "flash": bool(request.get("flash", False)),
        }
        for optional in ("label", "callback"):
            if request.get(optional) is not None:
                answer[optional] = request[optional]
        return answer
    if message.channel == VIBER:
        content = request["body"]
        answer = {
            "trackingId": message.tracking_id,
            "to": message.to,
            "from": message.sender,
            "country": scenarios.country_of(message.to),
            "status": {"status": "QUEUED", "date": created},
            "ttl": int(message.ttl_seconds),
        }
        # Routee answers with other spellings than it accepts: imageURL → imageUrl, action → viberAction.
        for key, answered in (("text", "message"), ("imageURL", "imageUrl"), ("action", "viberAction")):
            if key in content:
                answer[answered] = content[key]
        for optional in ("callbackUrl", "label"):
            if request.get(optional) is not None:
                answer[optional] = request[optional]
        return answer
    answer = {
        "trackingId": message.tracking_id,
        "createdAt": created,
        "from": message.sender,
        "to": request["to"],
        "dialPlan": request["dialPlan"],
        "status": "Queued",
    }
    for optional in ("callback", "machineDetection"):
        if request.get(optional) is not None:
            answer[optional] = request[optional]
    return answer


def sms_common(message: Message, part: int) -> dict[str, Any]:
    common = {
        "messageId": message.tracking_id,
        "smsId": message.part_ids[part - 1],
        "part": part,
        "parts": message.parts,
        "to": message.to,
        "from": message.sender,
        "country": scenarios.country_of(message.to),
        "operator": "Simulator",
        "applicationName": "default",
        "price": PRICES[SMS],
        "direction": "Outbound",
        "originatingService": "Sms",
    }
    if message.request.get("label"):
        common["label"] = message.request["label"]
    return common


def receipts(message: Message, event: Event, time_scale: float) -> list[dict[str, Any]]:
    """The receipt bodies Routee POSTs for `event`: one per part for SMS, one otherwise."""
    updated = iso(message.created + timedelta(seconds=event.at * time_scale))
    reason = {"detailedStatus": event.detailed, "description": scenarios.DESCRIPTIONS.get(event.detailed or "", "")}
    if message.channel == SMS:
        return [
            {
                **sms_common(message, part),
                "status": {"name": event.status, "reason": reason, "updatedDate": updated},
                "message": message.request["body"],
                "latency": max(0, round(event.at * time_scale)),
            }
            for part in range(1, message.parts + 1)
        ]
    if message.channel == VIBER:
        return [
            {
                "trackingId": message.tracking_id,
                "to": message.to,
                "from": message.sender,
                "status": {"name": event.status, "reason": reason, "updatedDate": updated},
                "ttl": int(message.ttl_seconds),
                "price": PRICES[VIBER],
                "originatingService": "Viber",
                "createdAt": iso(message.created),
            }
        ]
    answered = event.status == "Completed"  # only answered calls are charged
    return [
        {
            "messageId": message.call_id,
            "conversationTrackingId": message.tracking_id,
            "to": message.to,
            "from": message.sender,
            "status": {"name": event.status, "updatedDate": updated},
            "duration": scenarios.VOICE_ANSWERED_SECONDS if answered else 0,
            "price": PRICES[VOICE] if answered else 0.0,
            "originatingService": "Voice",
        }
    ]


# ---------------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins the request threads: none is left behind
    block_on_close = True
    request_queue_size = 128  # a burst of sends is queued, not refused (socketserver's default backlog is 5)
    simulator: Simulator


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a silent client cannot hold a request thread (and stop()) for long
    server_version = "RouteeSimulator/1.0"

    _SENDS = {"/sms": SMS, "/viber": VIBER, "/voice/conversation": VOICE}

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._guarded(self._post)

    def do_GET(self) -> None:  # noqa: N802
        self._guarded(self._get)

    def _guarded(self, handle: Any) -> None:
        """A bug in the simulator answers 500 in Routee's format instead of dropping the connection."""
        try:
            handle()
        except Exception:
            traceback.print_exc()
            self.server.simulator.errors += 1
            body = routee_error("500000000", "Internal simulator error")
            self._answer(500, body, path=self.path.split("?")[0])

    def _post(self) -> None:
        sim = self.server.simulator
        path = self.path.split("?")[0]
        raw = self._body()
        if path == "/oauth/token":
            form = parse_qs(raw.decode("utf-8", "replace"))
            status, body = sim.issue_token(self.headers.get("Authorization"), form)
            return self._answer(status, body, path=path, record=None)
        if path not in self._SENDS:
            return self._answer(404, routee_error("404000000", f"No endpoint POST {path}"), path=path)
        try:
            request = json.loads(raw or b"null")
        except ValueError:
            request = None
        refusal = sim.check_token(self.headers.get("Authorization"), path)
        if refusal:
            return self._answer(*refusal, path=path, record=request)
        if request is None:
            body = routee_error(validation.VALIDATION_CODE, "Request body is not valid JSON")
            return self._answer(400, body, path=path)
        status, body, headers = sim.send(self._SENDS[path], path, request)
        self._answer(status, body, path=path, record=request, headers=headers)

    def _get(self) -> None:
        sim = self.server.simulator
        path = self.path.split("?")[0]
        refusal = sim.check_token(self.headers.get("Authorization"), path)
        if refusal:
            return self._answer(*refusal, path=path)
        if path == "/accounts/me/balance":
            return self._answer(200, sim.balance_answer(), path=path)
        for prefix, channel in (("/sms/tracking/single/", SMS), ("/viber/tracking/", VIBER)):
            if path.startswith(prefix) and len(path) > len(prefix):
                return self._answer(*sim.tracking(channel, path[len(prefix) :]), path=path)
        self._answer(404, routee_error("404000000", f"No endpoint GET {path}"), path=path)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _answer(
        self, status: int, body: Any, *, path: str, record: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        # Recorded before answering, so a client that got its answer always finds its request in the log.
        self.server.simulator._record(RequestRecord(self.command, path, status, record))
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        if self.server.simulator.verbose:
            super().log_message(format, *args)
