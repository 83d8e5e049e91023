"""Who may call the API: applications, OAuth client credentials, the authorizer's check, rate limits."""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from failover import auth, domain
from failover.observability import count, logger
from failover.store import ApplicationStore

ACTIVE, DISABLED = "active", "disabled"
_APPLICATION_ID = re.compile(r"[A-Za-z0-9._-]{3,64}")


class InvalidClient(Exception):
    """Unknown application, wrong secret, or a disabled application: Routee answers 401."""


class InvalidRequest(Exception):
    """A malformed token request: OAuth's 400 with an error code."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


class RateLimited(Exception):
    def __init__(self, retry_after: int, what: str = "rate limit reached"):
        super().__init__(f"{what}; retry after {retry_after} s")
        self.retry_after = retry_after


class TooManyAttempts(RateLimited):
    """Too many failed token requests for an application or from an address: 429 before any hashing."""

    def __init__(self, retry_after: int):
        super().__init__(retry_after, "too many failed attempts")


class NotAdmitted(Exception):
    """A request the authorizer let through (perhaps from its cache) whose token expired or whose application
    was disabled since: API Gateway's own 401."""


@dataclass(frozen=True)
class Authorization:
    application_id: str
    expires_at: int  # the token's exp (epoch seconds)


@dataclass
class AccessService:
    applications: ApplicationStore
    issuer: auth.TokenIssuer
    rate_limit_per_minute: int = 600
    clock: Callable[[], float] = time.time
    # Failed token requests allowed per window, per applicationId and per source address.
    failures_per_application: int = 10
    failures_per_address: int = 30
    failure_window_seconds: int = 300

    # --- POST /oauth/token ---------------------------------------------------------------------------------

    def token(
        self, authorization: str | None, content_type: str | None, body: str, source_address: str | None = None
    ) -> dict[str, Any]:
        if not (content_type or "").lower().startswith("application/x-www-form-urlencoded"):
            raise InvalidRequest("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = parse_qs(body or "", keep_blank_values=True)
        if form.get("grant_type", [""])[-1] != "client_credentials":
            raise InvalidRequest("unsupported_grant_type", "grant_type must be client_credentials")
        credentials = auth.basic_credentials(authorization)
        if credentials is None:
            raise InvalidClient("missing Basic credentials")
        application_id, secret = credentials
        # Reserve a failed attempt before the slow hash runs; a success gives it back.
        window, reserved = self._reserve_attempts(application_id, source_address)
        application = self.applications.get(application_id)
        if application is None or application.get("status") != ACTIVE:
            auth.verify_secret(secret, _dummy_hash())  # the same cost either way: no oracle for which ids exist
            raise InvalidClient("bad credentials")
        if not auth.verify_secret(secret, application["secretHash"]):
            raise InvalidClient("bad credentials")
        for subject in reserved:
            self.applications.forget_failure(subject, window)
        count("TokensIssued")
        return self.issuer.issue(application_id)

    def _reserve_attempts(self, application_id: str, source_address: str | None) -> tuple[int, list[str]]:
        """Count this attempt against the application and the address (conditional counters with a TTL, shared
        by every sandbox); TooManyAttempts when either has used up its window."""
        now = self.clock()
        window = int(now // self.failure_window_seconds) * self.failure_window_seconds
        expires_at = window + 2 * self.failure_window_seconds
        # Hashed: an applicationId from a Basic header can be any length, a key cannot.
        subjects = [(f"app#{_digest(application_id)}", self.failures_per_application)]
        if source_address:
            subjects.append((f"ip#{_digest(source_address)}", self.failures_per_address))
        reserved: list[str] = []
        for subject, limit in subjects:
            if not self.applications.count_failure(subject, window, limit, expires_at):
                for taken in reserved:
                    self.applications.forget_failure(taken, window)
                logger.warning("Token attempts limited", extra={"subject": subject.split("#")[0]})
                count("TokenAttemptsLimited")
                raise TooManyAttempts(retry_after=max(1, int(window + self.failure_window_seconds - now)))
            reserved.append(subject)
        return window, reserved

    # --- the Lambda authorizer -----------------------------------------------------------------------------

    def authorize(self, authorization: str | None) -> Authorization | None:
        """The application behind a bearer token and the token's expiry, or None (missing, expired, forged,
        disabled). API Gateway caches this answer; `admit` checks both again on every request."""
        token = auth.bearer_token(authorization)
        claims = self.issuer.claims(token) if token else None
        if claims is None:
            return None
        application = self.applications.get(claims.application_id)
        if application is None or application.get("status") != ACTIVE:
            return None
        return Authorization(claims.application_id, claims.expires_at)

    def admit(self, application_id: str, expires_at: Any = None) -> None:
        """Every authenticated request, valid or not, before anything else: the token must not have expired and
        the application must still be active (the authorizer's cached answer may be older than either), and the
        request counts against the application's rate limit."""
        now = self.clock()
        try:  # context values may arrive as strings ("numberKey": "1"):
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
            expired = expires_at is not None and now >= float(expires_at)
        except (TypeError, ValueError):
            expired = True
        if expired:
            raise NotAdmitted("token expired")
        application = self.applications.get(application_id)
        if application is None or application.get("status") != ACTIVE:
            raise NotAdmitted("application not active")
        self.check_rate(application_id, application)

    # --- limits --------------------------------------------------------------------------------------------

    def check_rate(self, application_id: str, application: dict[str, Any] | None = None) -> None:
        """A fixed one-minute window per application; the application item may set its own limit."""
        now = self.clock()
        window = int(now // 60) * 60
        application = application or self.applications.get(application_id) or {}
        limit = int(application.get("rateLimitPerMinute") or self.rate_limit_per_minute)
        if not self.applications.count_request(application_id, window, limit, expires_at=window + 120):
            logger.warning("Rate limited", extra={"applicationId": application_id})
            count("RateLimited")
            raise RateLimited(retry_after=max(1, int(window + 60 - now)))

    # --- administration ------------------------------------------------------------------------------------

    def create_application(
        self, application_id: str | None = None, secret: str | None = None, rate_limit_per_minute: int | None = None
    ) -> tuple[str, str]:
        application_id = application_id or f"app-{auth.new_secret()[:12]}"
        if not _APPLICATION_ID.fullmatch(application_id):
            raise ValueError("applicationId: 3 to 64 letters, digits, '.', '_' or '-'")
        secret = secret or auth.new_secret()
        application = {
            "applicationId": application_id,
            "secretHash": auth.hash_secret(secret),
            "status": ACTIVE,
            "createdAt": domain.timestamp(datetime.now(UTC)),
            "rateLimitPerMinute": rate_limit_per_minute,
        }
        if not self.applications.create(application):
            raise ValueError(f"application {application_id} already exists")
        return application_id, secret

    def list_applications(self) -> list[dict[str, Any]]:
        return [
            {k: a.get(k) for k in ("applicationId", "status", "createdAt", "rateLimitPerMinute")}
            for a in self.applications.list()
        ]

    def disable_application(self, application_id: str) -> bool:
        return self.applications.set_status(application_id, DISABLED)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


@functools.cache
def _dummy_hash() -> str:
    return auth.hash_secret("not-a-secret-of-any-application")
