"""Customer callbacks: snapshots POSTed to the flow's callback URL, signed, retried, never lost.

capture (DynamoDB Streams → SQS): a status change of a flow or of one of its messages becomes one delivery,
  with the flow's snapshot, a per-flow sequence number and an event id that stays the same across retries.
deliver (SQS → HTTP): POST with a 2 s timeout; on failure the delivery is queued again on Routee's retry
  schedule, and after the last retry it goes to the dead-letter queue, from where it can be redelivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from failover import domain
from failover.observability import count, logger
from failover.store import FlowStore
from failover.url_policy import PinnedPoster as Poster  # the HTTP side of a delivery
from failover.url_policy import url_problem

# Routee's retry schedule for callbacks, in seconds: 30 s, 1 m, 2 m, 5 m, 10 m, 15 m, 30 m, 1 h, 2 h, 4 h, 8 h, 24 h.
RETRY_SCHEDULE = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
SQS_MAX_DELAY = 900  # longer waits are chained: the message carries notBefore and is queued again
TIMEOUT_SECONDS = 2.0  # like Routee: a receiver must answer within 2 s

HEADER_EVENT_ID = "X-Failover-Event-Id"
HEADER_SEQUENCE = "X-Failover-Sequence"
HEADER_TIMESTAMP = "X-Failover-Timestamp"
HEADER_SIGNATURE = "X-Failover-Signature"
HEADER_ATTEMPT = "X-Failover-Attempt"

# --- signing ----------------------------------------------------------------------------------------------------


def application_secret(deployment_key: str, application_id: str) -> str:
    """Each application's callback secret, derived from the deployment's key: nothing to store, one key to rotate."""
    return hmac.new(deployment_key.encode(), f"callback:{application_id}".encode(), hashlib.sha256).hexdigest()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """v1=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


# --- URLs: failover.url_policy (the policy, and a POST pinned to the checked address) ---------------------------


# --- deliveries ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One snapshot on its way to one URL; travels as the SQS message body."""

    eventId: str
    trackingId: str
    applicationId: str
    sequence: int
    url: str
    body: str  # the snapshot JSON, exactly the bytes that are signed and POSTed
    attempt: int = 0  # failed attempts so far
    notBefore: float = 0.0  # epoch seconds; a longer wait than SQS can delay is chained

    def to_message(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_message(cls, body: str) -> Delivery:
        return cls(**json.loads(body))


def wants_callback(strategy: str, flow_changed: bool, flow_status: str) -> bool:
    """OnChange: every status change. OnCompletion: only the flow's change to Succeeded or Failed."""
    if strategy == "OnChange":
        return True
    return flow_changed and flow_status in domain.FINAL_FLOW_STATUSES


def status_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> tuple[bool, bool]:
    """(flow status changed, message status changed) between two images of one item."""
    if new is None:
        return False, False
    sk = new.get("sk", "")
    if sk == "#FLOW":
        return (old or {}).get("status") != new.get("status"), False
    if sk.startswith("MSG#"):
        before = ((old or {}).get("status") or {}).get("name")
        after = (new.get("status") or {}).get("name")
        return False, after is not None and before != after
    return False, False


@dataclass
class Queue:
    """The SQS adapter: the delivery queue and its dead-letter queue."""

    client: Any
    url: str
    dead_letter_url: str

    def put(self, delivery: Delivery, delay: int = 0) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=delivery.to_message(), DelaySeconds=delay)

    def dead_letter(self, delivery: Delivery) -> None:
        self.client.send_message(QueueUrl=self.dead_letter_url, MessageBody=delivery.to_message())

    def take_dead_letters(self, wanted: Callable[[Delivery], bool], limit: int = 1000) -> list[Delivery]:
        """Remove and return the dead letters `wanted` picks; the others stay, visible again at once."""
        taken: list[Delivery] = []
        while len(taken) < limit:
            messages = self.client.receive_message(
                QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                return taken
            for message in messages:
                delivery = Delivery.from_message(message["Body"])
                if wanted(delivery):
                    taken.append(delivery)
                    self.client.delete_message(QueueUrl=self.dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    self.client.change_message_visibility(
                        QueueUrl=self.dead_letter_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
            if all(not wanted(Delivery.from_message(m["Body"])) for m in messages):
                return taken  # only others' letters are left
        return taken


@dataclass
class CallbackService:
    flows: FlowStore
    queue: Queue
    poster: Poster
    deployment_key: Callable[[], str]  # fetched lazily (Secrets Manager through Powertools Parameters)
    time_scale: float = 1.0
    allow_loopback: bool = False
    clock: Callable[[], float] = time.time

    def capture(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> Delivery | None:
        """One changed item (a stream record's images) → the flow's snapshot queued, if its callback wants it."""
        flow_changed, message_changed = status_changes(old, new)
        if not (flow_changed or message_changed) or new is None:
            return None
        loaded = self.flows.load(new["pk"].removeprefix("FLOW#"))
        if loaded is None:
            return None
        flow, messages = loaded
        callback = flow.get("callback")
        if not callback or not wants_callback(callback.get("strategy", "OnChange"), flow_changed, flow["status"]):
            return None
        delivery = Delivery(
            eventId=str(uuid.uuid4()),
            trackingId=flow["trackingId"],
            applicationId=flow.get("applicationId") or "",
            sequence=self.flows.next_callback_sequence(flow["trackingId"]),
            url=callback["url"],
            body=json.dumps(domain.flow_snapshot(flow, messages), separators=(",", ":")),
        )
        self.queue.put(delivery)
        count("CallbacksQueued")
        return delivery

    def deliver(self, delivery: Delivery) -> str:
        """One attempt, or a wait passed on. Returns what happened: delivered, waiting, retrying, dead.

        A refused URL is not even signed for; the poster checks again and connects only to the address it checked.
        """
        now = self.clock()
        if delivery.notBefore > now:
            self.queue.put(delivery, delay=_delay(delivery.notBefore - now))
            return "waiting"
        problem = url_problem(delivery.url, self.allow_loopback)
        if problem is None:
            stamp = str(int(now))
            secret = application_secret(self.deployment_key(), delivery.applicationId)
            headers = {
                "Content-Type": "application/json",
                HEADER_EVENT_ID: delivery.eventId,
                HEADER_SEQUENCE: str(delivery.sequence),
                HEADER_TIMESTAMP: stamp,
                HEADER_SIGNATURE: signature(secret, stamp, delivery.body.encode()),
                HEADER_ATTEMPT: str(delivery.attempt + 1),
            }
            delivered, outcome = self.poster.post(delivery.url, delivery.body.encode(), headers)
        else:
            delivered, outcome = False, f"refused URL: {problem}"
        log = {"trackingId": delivery.trackingId, "sequence": delivery.sequence, "attempt": delivery.attempt + 1}
        if delivered:
            count("CallbacksDelivered")
            logger.info("Callback delivered", extra=log)
            return "delivered"
        failed = Delivery(**{**asdict(delivery), "attempt": delivery.attempt + 1})
        if failed.attempt > len(RETRY_SCHEDULE):
            self.queue.dead_letter(failed)
            count("CallbacksDeadLettered")
            logger.warning("Callback dead-lettered", extra={**log, "outcome": outcome})
            return "dead"
        wait = RETRY_SCHEDULE[failed.attempt - 1] * self.time_scale
        retry = Delivery(**{**asdict(failed), "notBefore": now + wait})
        self.queue.put(retry, delay=_delay(wait))
        count("CallbacksRetried")
        logger.info("Callback failed; retrying", extra={**log, "outcome": outcome, "waitSeconds": wait})
        return "retrying"

    def redeliver(self, application_id: str | None = None, tracking_id: str | None = None) -> int:
        """Move dead letters (of one application, or one flow, or all) back to the queue, attempts reset."""

        def wanted(delivery: Delivery) -> bool:
            return (application_id is None or delivery.applicationId == application_id) and (
                tracking_id is None or delivery.trackingId == tracking_id
            )

        moved = self.queue.take_dead_letters(wanted)
        for delivery in moved:
            self.queue.put(Delivery(**{**asdict(delivery), "attempt": 0, "notBefore": 0.0}))
        if moved:
            count("CallbacksRedelivered", value=len(moved))
        return len(moved)


def _delay(seconds: float) -> int:
    """An SQS delay: whole seconds, at least 1 for any wait at all, at most SQS's 15 minutes."""
    return min(SQS_MAX_DELAY, math.ceil(seconds)) if seconds > 0 else 0
