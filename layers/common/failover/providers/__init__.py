"""The channel provider interface: send a step, parse a receipt. One module per provider.

A provider knows its wire format and nothing of flows: the service layer decides what a status means.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from failover.domain import Channel

# Providers that ship: name → "module:factory". Tests may register() others in-process.
BUILTIN = {"routee": "failover.providers.routee:RouteeProvider"}


@dataclass(frozen=True)
class OutboundMessage:
    step_id: str  # our own id for the step; it travels, signed, in callback_url
    channel: Channel
    definition: dict[str, Any]  # the validated step in Routee's field names (domain.step_definition)
    callback_url: str  # where the provider must POST this message's receipts
    # How long the adapter may keep retrying a send that surely did not reach the provider (an outage): the
    # service passes what the step's ttl and the function's remaining time allow. 0: one attempt.
    retry_for_seconds: float = 0.0


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    status: str | None = None  # the channel's canonical status from the send response, if any
    price: float | None = None
    parts: int | None = None  # SMS: how many parts, so many receipts
    details: Mapping[str, Any] = field(default_factory=dict)  # domain.MESSAGE_DETAILS, recorded with `status`


@dataclass(frozen=True)
class Receipt:
    status: str  # canonical spelling for the channel (domain.canonical_status)
    provider_message_id: str | None = None
    detailed_status: str | None = None
    description: str | None = None
    updated: str | None = None  # ISO-8601 UTC
    price: float | None = None
    part: int | None = None  # SMS: which part this receipt is for (1-based)
    parts: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # domain.MESSAGE_DETAILS: country, operator, ..


class SendError(Exception):
    """The provider did not accept the step. `reason` becomes the message's detailed status description."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InsufficientBalance(SendError):
    """Refused for lack of balance (Routee 400001009): the flow ends Failed "1"."""


class AuthenticationFailed(SendError):
    """401/403 that survived one token refresh: the flow ends Failed "0"."""


class Rejected(SendError):
    """Any other refusal (4xx): the step is FAILED and the failover rules apply."""


class Unavailable(SendError):
    """The provider surely did not take the step (connection refused, 429, 500, 503) and stayed so for as long
    as the step allowed retrying: the step is FAILED, the failover rules apply."""


class Unconfirmed(SendError):
    """The send may have reached the provider, but its answer was lost (read timeout, connection dropped after
    the request, 502/504 from a gateway, a 2xx without an id). Never repeated: the step waits for its receipt,
    which the signed callback URL correlates without the provider's id, until its ttl."""


class InvalidReceipt(ValueError):
    """A receipt body that is not in the provider's format."""


class ChannelProvider(Protocol):
    name: str

    def send(self, message: OutboundMessage) -> Accepted:
        """Send one step. Raises a SendError subclass when the provider does not accept it."""
        ...

    def parse_receipt(self, channel: Channel, body: bytes) -> Receipt:
        """Read one receipt POSTed to a callback URL. Raises InvalidReceipt."""
        ...


_registered: dict[str, Callable[[], ChannelProvider]] = {}
_instances: dict[str, ChannelProvider] = {}
_lock = threading.Lock()


def register(name: str, factory: Callable[[], ChannelProvider]) -> None:
    with _lock:
        _registered[name] = factory
        _instances.pop(name, None)


def get(name: str) -> ChannelProvider:
    """The provider called `name`, built once per process (so pooled sessions and tokens are reused)."""
    with _lock:
        if name not in _instances:
            if name in _registered:
                factory = _registered[name]
            elif name in BUILTIN:
                module, attr = BUILTIN[name].split(":")
                factory = getattr(importlib.import_module(module), attr)
            else:
                raise LookupError(f"unknown channel provider {name!r}")
            _instances[name] = factory()
        return _instances[name]


def known(name: str) -> bool:
    return name in _registered or name in BUILTIN


def forget_instances() -> None:
    """Drop built providers, so the next get() builds them again from the current environment."""
    with _lock:
        _instances.clear()
