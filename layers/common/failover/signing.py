"""Signed callback tokens: the only way a receipt is authenticated and tied to a step; and the digest the message
keeps of a resumed Step Functions task token."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable


class CallbackSigner:
    """token = <step id>.<HMAC-SHA256 of the step id, base64url>. Unguessable without the secret."""

    def __init__(self, secret: Callable[[], str]):
        self._secret = secret  # fetched lazily so a cold start without receipts pays nothing

    def _mac(self, step_id: str) -> str:
        digest = hmac.new(self._secret().encode(), step_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, step_id: str) -> str:
        return f"{step_id}.{self._mac(step_id)}"

    def verify(self, token: str) -> str | None:
        """The step id a token was signed for, or None for a missing, malformed or forged token."""
        step_id, _, mac = (token or "").rpartition(".")
        if not step_id or not mac:
            return None
        # bytes: compare_digest refuses non-ASCII str, and a forged token must be a 401, not a 500
        return step_id if hmac.compare_digest(mac.encode(), self._mac(step_id).encode()) else None


def step_id(tracking_id: str, index: int) -> str:
    return f"{tracking_id}.{index}"


def parse_step_id(value: str) -> tuple[str, int]:
    tracking_id, _, index = value.rpartition(".")
    return tracking_id, int(index)


def token_digest(task_token: str) -> str:
    """What the message item keeps of a resumed task token (resumedToken): only its equality with the step's
    taskToken matters, and AWS's tokens run to 2 KB, so 32 hex characters instead of the token (SHA-256)."""
    return hashlib.sha256(task_token.encode()).hexdigest()[:32]
