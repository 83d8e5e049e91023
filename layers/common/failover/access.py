"""Who may call the API: applications, OAuth client credentials, the authorizer's check, rate limits."""

from __future__ import annotations

import functools
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
    def __init__(self, retry_after: int):
        super().__init__(f"rate limit reached; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class AccessService:
    applications: ApplicationStore
    issuer: auth.TokenIssuer
    rate_limit_per_minute: int = 600
    clock: Callable[[], float] = time.time

    # --- POST /oauth/token ---------------------------------------------------------------------------------

    def token(self, authorization: str | None, content_type: str | None, body: str) -> dict[str, Any]:
        if not (content_type or "").lower().startswith("application/x-www-form-urlencoded"):
            raise InvalidRequest("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = parse_qs(body or "", keep_blank_values=True)
        if form.get("grant_type", [""])[-1] != "client_credentials":
            raise InvalidRequest("unsupported_grant_type", "grant_type must be client_credentials")
        credentials = auth.basic_credentials(authorization)
        if credentials is None:
            raise InvalidClient("missing Basic credentials")
        application_id, secret = credentials
        application = self.applications.get(application_id)
        if application is None or application.get("status") != ACTIVE:
            auth.verify_secret(secret, _dummy_hash())  # the same cost either way: no oracle for which ids exist
            raise InvalidClient("bad credentials")
        if not auth.verify_secret(secret, application["secretHash"]):
            raise InvalidClient("bad credentials")
        count("TokensIssued")
        return self.issuer.issue(application_id)

    # --- the Lambda authorizer -----------------------------------------------------------------------------

    def authorize(self, authorization: str | None) -> str | None:
        """The application id behind a bearer token, or None (missing, expired, forged, disabled)."""
        token = auth.bearer_token(authorization)
        application_id = self.issuer.verify(token) if token else None
        if application_id is None:
            return None
        application = self.applications.get(application_id)
        if application is None or application.get("status") != ACTIVE:
            return None
        return application_id

    # --- limits --------------------------------------------------------------------------------------------

    def check_rate(self, application_id: str) -> None:
        """A fixed one-minute window per application; the application item may set its own limit."""
        now = self.clock()
        window = int(now // 60) * 60
        application = self.applications.get(application_id) or {}
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


@functools.cache
def _dummy_hash() -> str:
    return auth.hash_secret("not-a-secret-of-any-application")
