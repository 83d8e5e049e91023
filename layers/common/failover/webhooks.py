"""Callback signatures on the Standard Webhooks specification (https://www.standardwebhooks.com, v1).

Every callback carries three headers:
  webhook-id         the delivery's event id: the same on every retry of one delivery (deduplicate on it)
  webhook-timestamp  seconds since the epoch, when this attempt was signed
  webhook-signature  "v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>", one per live secret, space-separated
so a receiver verifies with any Standard Webhooks library (`standardwebhooks`, `svix`, in most languages).

Each application's secret is derived from the deployment key, so nothing secret is stored. A rotation moves the
application to the next generation of its secret; until the overlap ends the previous one signs as well, and the
application item keeps only the generation numbers and the overlap's end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"  # the spec's form: whsec_ + base64 of the key (ours: 32 bytes, within its 24 to 64)


def signing_key(deployment_key: str, application_id: str, generation: int = 0) -> bytes:
    """One application's signing key of one generation. Generation 0 is the original derivation."""
    label = f"callback:{application_id}" + (f":{generation}" if generation else "")
    return hmac.new(deployment_key.encode(), label.encode(), hashlib.sha256).digest()


def secret_text(key: bytes) -> str:
    """A key in the spec's whsec_ form, as a receiver configures it."""
    return SECRET_PREFIX + base64.b64encode(key).decode()


def signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(keys: list[bytes], message_id: str, timestamp: str, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every key given (several: space-separated)."""
    return {
        HEADER_ID: message_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_SIGNATURE: " ".join(signature(key, message_id, timestamp, body) for key in keys),
    }


@dataclass(frozen=True)
class SecretRotation:
    """Which generations of an application's secret sign now: the current one, and the previous one until
    `previous_until` (epoch seconds). Kept on the application item."""

    generation: int = 0
    previous: int | None = None
    previous_until: float = 0.0

    @classmethod
    def of(cls, application: dict[str, Any] | None) -> SecretRotation:
        if not application:
            return cls()
        previous = application.get("callbackSecretPrevious")
        return cls(
            generation=int(application.get("callbackSecretGeneration", 0)),
            previous=None if previous is None else int(previous),
            previous_until=float(application.get("callbackSecretPreviousUntil", 0)),
        )

    def signing_generations(self, now: float) -> list[int]:
        overlapping = self.previous is not None and now < self.previous_until
        return [self.generation, *([self.previous] if overlapping else [])]  # type: ignore[list-item]
