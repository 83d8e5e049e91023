"""Search cursors (the `nextPageToken` extension): where a page of POST /failover/tracking ended.

Opaque to clients: base64url JSON of the last flow's index sort key (<createdAt>#<trackingId>, unique, so no flow
is skipped or repeated between pages, flows of the same millisecond included), the flows before the next page and
its number, and a fingerprint of the search it belongs to (range and filter), so a token is refused on another
search. A token only positions a search inside the caller's own flows, so it needs no signature."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

MAX_TOKEN_LENGTH = 1024


@dataclass(frozen=True)
class Cursor:
    before: str  # the search key of the last flow returned; the next page starts after it
    offset: int  # flows returned before the next page
    number: int  # the next page's number


def search_key(flow: dict[str, Any]) -> str:
    """The ByApplication index's sort key: newest first by creation, the trackingId breaking ties within a
    millisecond (so every flow has its own place in the order)."""
    return f"{flow['createdAt']}#{flow['trackingId']}"


def fingerprint(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode(cursor: Cursor, search: str) -> str:
    body = json.dumps({"b": cursor.before, "o": cursor.offset, "n": cursor.number, "s": search}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode(token: str, search: str) -> Cursor:
    """The cursor in `token`; ValueError when it is not a token this search gave."""
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor = Cursor(before=body["b"], offset=body["o"], number=body["n"])
        valid = (
            body["s"] == search
            and isinstance(cursor.before, str)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (cursor.offset, cursor.number))
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise ValueError("pageToken is not a nextPageToken of this search (same range and filter)")
    return cursor
