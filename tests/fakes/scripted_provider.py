"""An in-process channel provider for the state-machine tests: each recipient's receipts are scripted.

Receipts travel as a provider's would: a POST to the signed callback URL, through the same API Gateway
emulation and status-ingest handler that serve real receipts. It is test code and never ships.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from failover.domain import Channel, canonical_status
from failover.providers import Accepted, InvalidReceipt, OutboundMessage, Receipt, SendError

Post = Callable[[str, bytes], int]  # (callback URL, body) -> HTTP status


@dataclass(frozen=True)
class Say:
    """One receipt: `status` after `after` seconds (0 with sync=True: before send() even returns)."""

    status: str
    after: float = 0.05
    sync: bool = False
    detail: str | None = None
    price: float | None = None
    part: int | None = None
    parts: int | None = None
    message_id: str | None = None  # overrides the id the receipt claims to be for


@dataclass
class Script:
    receipts: tuple[Say, ...] = ()
    refuse: SendError | None = None
    refusals: int | None = None  # refuse only the first n sends (None: every send)
    initial_status: str | None = None
    parts: int | None = None


@dataclass
class ScriptedProvider:
    post: Post
    name: str = "scripted"
    scripts: dict[tuple[Channel, str], Script] = field(default_factory=dict)
    sent: list[OutboundMessage] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    _timers: list[threading.Timer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, channel: Channel, to: str, *receipts: Say, **options) -> None:
        self.scripts[(channel, to)] = Script(receipts=receipts, **options)

    def sends_to(self, to: str) -> list[OutboundMessage]:
        return [m for m in self.sent if _recipient(m.definition) == to]

    def send(self, message: OutboundMessage) -> Accepted:
        with self._lock:
            self.sent.append(message)
        script = self.scripts.get((message.channel, _recipient(message.definition)), Script())
        if script.refuse is not None:
            refused = script.__dict__.setdefault("refused", 0)
            if script.refusals is None or refused < script.refusals:
                script.__dict__["refused"] = refused + 1
                raise script.refuse
        message_id = str(uuid.uuid4())
        for say in script.receipts:
            body = json.dumps(
                {
                    "id": say.message_id or message_id,
                    "status": say.status,
                    "detail": say.detail,
                    "price": say.price,
                    "part": say.part,
                    "parts": say.parts,
                }
            ).encode()
            if say.sync:
                self._deliver(message.callback_url, body)
            else:
                timer = threading.Timer(say.after, self._deliver, (message.callback_url, body))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()
        return Accepted(provider_message_id=message_id, status=script.initial_status, parts=script.parts)

    def _deliver(self, url: str, body: bytes) -> None:
        status = self.post(url, body)
        with self._lock:
            self.answers.append(status)

    def parse_receipt(self, channel: Channel, body: bytes) -> Receipt:
        try:
            data = json.loads(body)
            status = canonical_status(channel, data["status"])
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidReceipt(str(error)) from None
        if status is None:
            raise InvalidReceipt(f"unknown status {data['status']!r}")
        return Receipt(
            status=status,
            provider_message_id=data.get("id"),
            detailed_status=data.get("detail"),
            price=data.get("price"),
            part=data.get("part"),
            parts=data.get("parts"),
        )

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


def _recipient(definition: dict) -> str:
    to = definition["to"]
    return to["phone"] if isinstance(to, dict) else to
