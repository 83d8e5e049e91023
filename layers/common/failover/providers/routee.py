"""Routee channel adapter: sends steps through Routee's /sms, /viber and /voice/conversation APIs.

Configuration comes from the environment:
  ROUTEE_CREDENTIALS_SECRET  Secrets Manager secret with {"applicationId": .., "applicationSecret": ..}; or
  ROUTEE_APPLICATION_ID / ROUTEE_APPLICATION_SECRET
  ROUTEE_AUTH_URL            default https://auth.routee.net
  ROUTEE_API_URL             default https://connect.routee.net
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from datetime import UTC
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import Retry

from failover import bodies
from failover.domain import Channel, canonical_status, parse_timestamp, timestamp
from failover.observability import logger
from failover.providers import (
    Accepted,
    AuthenticationFailed,
    InsufficientBalance,
    InvalidReceipt,
    OutboundMessage,
    Receipt,
    Rejected,
    SendError,
    Unavailable,
    Unconfirmed,
)

DEFAULT_AUTH_URL = "https://auth.routee.net"
DEFAULT_API_URL = "https://connect.routee.net"
INSUFFICIENT_BALANCE_CODE = "400001009"
VIBER_TTL_SECONDS = (30, 86400)
# Pooled connections idle longer than this are dropped, not reused: a warm Lambda may sleep for minutes
# while a load balancer or NAT forgets the connection, and a send on a dead one cannot be safely retried.
MAX_IDLE_SECONDS = 30.0

# One HTTP attempt: connect and read timeouts; urllib3 retries a refused connection and a 429/503 at once
# (a Retry-After is honoured up to MAX_RETRY_AFTER_SECONDS).
CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 10.0
CONNECT_RETRIES = 2
STATUS_RETRIES = 2
MAX_RETRY_AFTER_SECONDS = 5.0
# A provider outage: a send that surely was not taken is retried with jittered exponential backoff for as long
# as the step's ttl and the function's remaining time allow (OutboundMessage.retry_for_seconds), and at most
# SEND_RETRY_WINDOW_SECONDS. Retrying inside the function costs no state transition.
SEND_RETRY_WINDOW_SECONDS = 60.0
SEND_RETRY_BASE_DELAY_SECONDS = 0.5
SEND_RETRY_MAX_DELAY_SECONDS = 8.0
# The longest one attempt can take, so that SendStepFunction's timeout can be computed: up to four HTTP calls
# (a token, the send, and on 401/403 a new token and the send again), each with urllib3's own retries.
# SendStepFunction needs SEND_RETRY_WINDOW_SECONDS + WORST_ATTEMPT_SECONDS + a margin for DynamoDB and Step
# Functions calls (send_step_timeout_seconds()).
WORST_ATTEMPT_SECONDS = 4 * (
    (CONNECT_RETRIES + 1) * CONNECT_TIMEOUT_SECONDS
    + (STATUS_RETRIES + 1) * READ_TIMEOUT_SECONDS
    + STATUS_RETRIES * MAX_RETRY_AFTER_SECONDS
)
SEND_STEP_MARGIN_SECONDS = 15.0


def send_step_timeout_seconds() -> int:
    """The SendStepFunction timeout these settings need (template.yaml)."""
    return math.ceil(SEND_RETRY_WINDOW_SECONDS + WORST_ATTEMPT_SECONDS + SEND_STEP_MARGIN_SECONDS)


_PATHS = {Channel.SMS: "/sms", Channel.VIBER: "/viber", Channel.VOICE: "/voice/conversation"}
# Bounds on a receipt's numbers: a concatenated SMS has at most 255 parts (an 8-bit part counter in the UDH),
# and no single message costs more than this in the account's currency.
MAX_SMS_PARTS = 255
MAX_PRICE = 1000.0
MAX_LATENCY_SECONDS = 10**7
# The receipt field that carries the id returned at send time.
_RECEIPT_ID = {Channel.SMS: "messageId", Channel.VIBER: "trackingId", Channel.VOICE: "conversationTrackingId"}


class _CappedRetry(Retry):
    """A Retry that waits at most `cap` seconds for a Retry-After (urllib3 1.26 has no retry_after_max)."""

    cap: float = 5.0

    def new(self, **kw: Any) -> _CappedRetry:
        retry = super().new(**kw)
        retry.cap = self.cap
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.cap)


class RouteeProvider:
    name = "routee"

    def __init__(
        self,
        *,
        application_id: str | None = None,
        application_secret: str | None = None,
        credentials_secret: str | None = None,
        auth_url: str | None = None,
        api_url: str | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
        connect_retries: int = CONNECT_RETRIES,
        status_retries: int = STATUS_RETRIES,
        backoff_factor: float = 0.3,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
        token_margin: float = 60.0,
        outage_base_delay: float = SEND_RETRY_BASE_DELAY_SECONDS,
        outage_max_delay: float = SEND_RETRY_MAX_DELAY_SECONDS,
        clock: Any = time.monotonic,
        sleep: Any = time.sleep,
    ):
        env = os.environ
        self._application_id = application_id or env.get("ROUTEE_APPLICATION_ID")
        self._application_secret = application_secret or env.get("ROUTEE_APPLICATION_SECRET")
        self._credentials_secret = credentials_secret or env.get("ROUTEE_CREDENTIALS_SECRET")
        self._auth_url = (auth_url or env.get("ROUTEE_AUTH_URL") or DEFAULT_AUTH_URL).rstrip("/")
        self._api_url = (api_url or env.get("ROUTEE_API_URL") or DEFAULT_API_URL).rstrip("/")
        self._timeout = timeout
        self._token_margin = token_margin
        self._token: str | None = None
        self._token_expires = 0.0  # time.monotonic() deadline
        self._lock = threading.Lock()
        self._last_used = 0.0
        self._outage_base_delay = outage_base_delay
        self._outage_max_delay = outage_max_delay
        self._clock = clock
        self._sleep = sleep

        # A POST must never reach Routee twice: retry only what surely was not processed. Connect errors
        # happen before the request is sent; 503 and 429 mean "not taken, try later". Read errors (timeouts,
        # dropped connections) and 500/502/504 may hide a processed request, so they are never retried.
        retry = _CappedRetry(
            total=connect_retries + status_retries,
            connect=connect_retries,
            read=False,
            redirect=False,
            status=status_retries,
            other=0,
            allowed_methods=frozenset({"GET", "POST"}),
            status_forcelist=frozenset({429, 503}),
            backoff_factor=backoff_factor,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.cap = max_retry_after
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=10)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    # -----------------------------------------------------------------------------------------------------
    # Sending
    # -----------------------------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> Accepted:
        """Send once; while the provider is surely unavailable, try again with backoff within the step's budget."""
        deadline = self._clock() + min(message.retry_for_seconds, SEND_RETRY_WINDOW_SECONDS)
        attempt = 0
        while True:
            try:
                return self._send_once(message)
            except Unavailable as outage:
                delay = random.uniform(0, min(self._outage_max_delay, self._outage_base_delay * 2**attempt))
                if self._clock() + delay >= deadline:
                    raise
                attempt += 1
                logger.info("Routee unavailable; retrying the send", extra={"attempt": attempt, "reason": str(outage)})
                self._sleep(delay)

    def _send_once(self, message: OutboundMessage) -> Accepted:
        channel = Channel(message.channel)
        payload = _REQUEST_BUILDERS[channel](message.definition, message.callback_url)
        response = self._call("POST", _PATHS[channel], payload)
        if response.status_code // 100 != 2:
            raise _send_error(response)
        try:
            body = response.json()
            tracking_id = body["trackingId"]
        except (ValueError, KeyError, TypeError):
            # Taken (2xx), but we cannot tell which message: sending again could deliver it twice.
            raise Unconfirmed(f"Routee answered HTTP {response.status_code} without a trackingId") from None
        accepted = Accepted(
            provider_message_id=str(tracking_id),
            status=_initial_status(channel, body.get("status")),
            price=_float(body.get("price")),
            parts=_sms_parts((body.get("bodyAnalysis") or {}).get("parts")) if channel is Channel.SMS else None,
            details=_details(channel, body),
        )
        logger.info("Routee accepted", extra={"channel": channel.value, "trackingId": accepted.provider_message_id})
        return accepted

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> requests.Response:
        """One API call with a bearer token; on 401/403 a new token is fetched once and the call repeated."""
        token = self._get_token()
        response = self._request(method, path, payload, token)
        if response.status_code in (401, 403):
            logger.info("Routee refused the token; fetching a new one", extra={"status": response.status_code})
            response = self._request(method, path, payload, self._get_token(stale=token))
            if response.status_code in (401, 403):
                raise AuthenticationFailed(f"Routee refused authentication (HTTP {response.status_code})")
        return response

    def _request(self, method: str, path: str, payload: dict[str, Any] | None, token: str) -> requests.Response:
        self._drop_idle_connections()
        try:
            return self._session.request(
                method,
                self._api_url + path,
                json=payload,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            if _surely_not_sent(exc):
                raise Unavailable(f"Routee unreachable: {type(exc).__name__}") from exc
            # A read timeout or a connection dropped after the request went out: Routee may have taken it.
            raise Unconfirmed(f"Routee's answer was lost: {type(exc).__name__}") from exc

    def _drop_idle_connections(self) -> None:
        now = time.monotonic()
        if now - self._last_used > MAX_IDLE_SECONDS:
            self._session.close()  # clears the pools; the mounted adapters open new connections
        self._last_used = now

    # -----------------------------------------------------------------------------------------------------
    # OAuth2 client credentials
    # -----------------------------------------------------------------------------------------------------

    def _get_token(self, stale: str | None = None) -> str:
        """The cached token, or a new one when it is about to expire or is `stale` (refused by Routee)."""
        with self._lock:  # one fetch at a time; concurrent callers then reuse its result
            if self._token and self._token != stale and time.monotonic() < self._token_expires:
                return self._token
            self._token, lifetime = self._fetch_token()
            # Renew a little before Routee's expiry; a short-lived token still gets half its life.
            self._token_expires = time.monotonic() + max(lifetime - self._token_margin, lifetime / 2)
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        application_id, secret = self._credentials()
        self._drop_idle_connections()
        try:
            response = self._session.post(
                self._auth_url + "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(application_id, secret),
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise Unavailable(f"Routee authentication unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise Unavailable(f"Routee authentication answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise AuthenticationFailed(f"Routee refused the credentials (HTTP {response.status_code})")
        try:
            body = response.json()
            return str(body["access_token"]), max(0.0, float(body.get("expires_in", 3600)))
        except (ValueError, KeyError, TypeError):
            raise AuthenticationFailed("Routee's token response has no access_token") from None

    def _credentials(self) -> tuple[str, str]:
        if self._credentials_secret:
            # Read at each token fetch; Powertools caches it for 5 minutes, so a rotation is picked up.
            from aws_lambda_powertools.utilities import parameters

            try:
                secret = parameters.get_secret(self._credentials_secret, transform="json", max_age=300)
                return str(secret["applicationId"]), str(secret["applicationSecret"])
            except (parameters.GetParameterError, parameters.TransformParameterError):
                raise AuthenticationFailed("Routee credentials secret could not be read") from None
            except (KeyError, TypeError):
                raise AuthenticationFailed("Routee credentials secret lacks applicationId/applicationSecret") from None
        if not (self._application_id and self._application_secret):
            raise AuthenticationFailed("Routee credentials are not configured")
        return self._application_id, self._application_secret

    # -----------------------------------------------------------------------------------------------------
    # Receipts
    # -----------------------------------------------------------------------------------------------------

    def parse_receipt(self, channel: Channel, body: bytes) -> Receipt:
        channel = Channel(channel)
        try:
            data = bodies.loads(body)
        except bodies.BodyProblem as problem:
            raise InvalidReceipt(f"receipt body {problem}") from None
        except (ValueError, UnicodeDecodeError):
            raise InvalidReceipt("receipt is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidReceipt("receipt is not a JSON object")
        message_id = data.get(_RECEIPT_ID[channel])
        if not isinstance(message_id, str) or not message_id:
            raise InvalidReceipt(f"{channel.value} receipt has no {_RECEIPT_ID[channel]}")
        status = data.get("status")
        name = status.get("name") if isinstance(status, dict) else None
        canonical = canonical_status(channel, name) if isinstance(name, str) else None
        if canonical is None:
            raise InvalidReceipt(f"{channel.value} receipt has an unknown status {name!r}")
        reason = status.get("reason")
        reason = reason if isinstance(reason, dict) else {}
        sms = channel is Channel.SMS
        parts = _bounded_int(data, "parts", 1, MAX_SMS_PARTS) if sms else None
        return Receipt(
            status=canonical,
            provider_message_id=message_id,
            detailed_status=_str(reason.get("detailedStatus")),
            description=_str(reason.get("description")),
            updated=_utc(status.get("updatedDate")),
            price=_bounded_price(data),
            part=_bounded_int(data, "part", 1, parts or MAX_SMS_PARTS) if sms else None,
            parts=parts,
            details=_details(channel, data),
        )


# ---------------------------------------------------------------------------------------------------------
# Request bodies: our step definition (Routee Failover field names) → the single-channel API's body
# ---------------------------------------------------------------------------------------------------------


def _sms_request(step: dict[str, Any], callback_url: str) -> dict[str, Any]:
    message = step.get("message") or {}
    body: dict[str, Any] = {
        "from": step.get("from"),
        "to": step.get("to"),
        "body": message.get("body"),
        "flash": bool(message.get("flash", False)),
        "callback": {"url": callback_url, "strategy": "OnChange"},
    }
    # Left out, Routee applies the application's own setting: so we leave it out too.
    for optional in ("transcode", "urlShortener", "label"):
        if message.get(optional) is not None:
            body[optional] = message[optional]
    if step.get("ttl") is not None:
        body["ttl"] = step["ttl"]  # minutes, like the Failover API
    return body


def _viber_request(step: dict[str, Any], callback_url: str) -> dict[str, Any]:
    message = step.get("message") or {}
    content = {
        "text": message.get("text"),
        "imageURL": message.get("imageUrl") or message.get("imageURL"),  # Routee's request spelling
        "action": message.get("action"),
        "viberFile": message.get("viberFile"),
        "viberVideo": message.get("viberVideo"),
    }
    body: dict[str, Any] = {
        "senderInfoTrackingId": step.get("senderInfoTrackingId"),
        "to": step.get("to"),
        "body": {key: value for key, value in content.items() if value is not None},
        "callbackUrl": callback_url,
    }
    if step.get("ttl") is not None:
        low, high = VIBER_TTL_SECONDS
        body["ttl"] = min(high, max(low, round(float(step["ttl"]) * 60)))  # minutes → seconds
    for optional in ("label", "inboundUrl"):
        if step.get(optional):
            body[optional] = step[optional]
    return body


def _voice_request(step: dict[str, Any], callback_url: str) -> dict[str, Any]:
    sender = str(step.get("from") or "")
    to = step.get("to")
    body: dict[str, Any] = {
        # A number goes in E.164 with '+'; an alphanumeric sender as given.
        "from": f"+{sender}" if sender.isdigit() else sender,
        "to": {k: v for k, v in to.items() if v} if isinstance(to, dict) else {"phone": to},
        "dialPlan": step.get("dialPlan"),
        "callback": {"url": callback_url, "strategy": "OnChange"},
    }
    if step.get("machineDetection"):
        body["machineDetection"] = step["machineDetection"]
    return body


_REQUEST_BUILDERS = {Channel.SMS: _sms_request, Channel.VIBER: _viber_request, Channel.VOICE: _voice_request}


def _send_error(response: requests.Response) -> SendError:
    """A refused send → the SendError the flow rules expect. 401/403 were handled before."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    message = _str(body.get("developerMessage"))
    if status == 400 and str(body.get("code")) == INSUFFICIENT_BALANCE_CODE:
        return InsufficientBalance(message or "Insufficient Balance")
    if status in (502, 504):
        # A gateway gave up waiting: Routee may have taken the message behind it.
        return Unconfirmed(f"Routee answered HTTP {status}" + (f": {message}" if message else ""))
    if status >= 500 or status == 429:
        return Unavailable(f"Routee answered HTTP {status}" + (f": {message}" if message else ""))
    reason = message or response.text.strip()[:500] or f"HTTP {status}"
    properties = body.get("properties")
    if isinstance(properties, dict) and properties:
        reason += " (" + "; ".join(f"{field}: {problem}" for field, problem in properties.items()) + ")"
    logger.warning("Routee rejected the send", extra={"status": status, "code": body.get("code")})
    return Rejected(reason)


def _details(channel: Channel, data: dict[str, Any]) -> dict[str, Any]:
    """domain.MESSAGE_DETAILS found in a send answer or a receipt (Viber's `from` is the sender's name)."""
    found = {"country": _str(data.get("country"))}
    if channel is Channel.SMS:
        found.update(
            operator=_str(data.get("operator")),
            smsId=_str(data.get("smsId")),
            latency=_in_range(_float(data.get("latency")), 0, MAX_LATENCY_SECONDS),
            part=_in_range(_int(data.get("part")), 1, MAX_SMS_PARTS),
        )
    elif channel is Channel.VIBER:
        found["senderName"] = _str(data.get("from"))
    return {k: v for k, v in found.items() if v is not None}


def _in_range(number: Any, low: float, high: float) -> Any:
    """An informational number kept only within sane bounds (DynamoDB refuses magnitudes over 1e125)."""
    return number if number is not None and low <= number <= high else None


def _surely_not_sent(exc: requests.RequestException) -> bool:
    """True when the request never left: the connection was refused or could not be opened in time."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError carries the last error
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _initial_status(channel: Channel, status: Any) -> str | None:
    # SMS and Voice answer "status": "Queued"; Viber answers "status": {"status": "QUEUED", "date": ..}.
    if isinstance(status, dict):
        status = status.get("status") or status.get("name")
    return canonical_status(channel, status) if isinstance(status, str) else None


def _utc(value: Any) -> str | None:
    """Routee's timestamp, normalised to ISO-8601 UTC with milliseconds; None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = parse_timestamp(value)
    except ValueError:
        return None
    return timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _float(value: Any) -> float | None:
    """A finite number from a send response, or None (never NaN or infinity: "Infinity" parses as a float)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number is not None and math.isfinite(number) else None


def _receipt_number(data: dict[str, Any], name: str) -> float | None:
    """A receipt's numeric field. Absent or unreadable ("n/a", a boolean) is None, like any optional field; a
    number that is not finite ("Infinity", "NaN") is an InvalidReceipt: it would overflow or be stored as NaN."""
    value = data.get(name)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidReceipt(f"{name} must be a finite number, not {str(value)[:40]!r}")
    return number


def _bounded_int(data: dict[str, Any], name: str, low: int, high: int) -> int | None:
    number = _receipt_number(data, name)
    if number is None:
        return None
    if not number.is_integer() or not low <= number <= high:
        raise InvalidReceipt(f"{name} must be a whole number from {low} to {high}, not {data[name]!r}")
    return int(number)


def _bounded_price(data: dict[str, Any]) -> float | None:
    price = _receipt_number(data, "price")
    if price is not None and not 0 <= price <= MAX_PRICE:
        raise InvalidReceipt(f"price must be from 0 to {MAX_PRICE:g}, not {data['price']!r}")
    return price


def _sms_parts(value: Any) -> int | None:
    parts = _int(value)
    return parts if parts is not None and 1 <= parts <= MAX_SMS_PARTS else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None
