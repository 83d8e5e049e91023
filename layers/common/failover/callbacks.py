"""Customer callbacks: snapshots POSTed to the flow's callback URL, signed, retried, never lost.

capture (DynamoDB Streams → SQS): a status change of a flow or of one of its messages becomes one delivery,
  with the flow's snapshot, a per-flow sequence number and an event id. Both derive from the stream record, so
  a record handed over again (a retried or replayed batch) is recognised and queued at most once more.
deliver (SQS → HTTP): POST with a 2 s timeout; on failure the delivery is queued again on Routee's retry
  schedule, and after the last retry it goes to the dead-letter queue, from where it can be redelivered.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from failover import domain, webhooks
from failover.callback_store import CallbackEventStore
from failover.observability import count, logger
from failover.store import ApplicationStore, FlowStore
from failover.url_policy import PinnedPoster as Poster  # the HTTP side of a delivery
from failover.url_policy import url_problem

# Routee's retry schedule for callbacks, in seconds: 30 s, 1 m, 2 m, 5 m, 10 m, 15 m, 30 m, 1 h, 2 h, 4 h, 8 h, 24 h.
RETRY_SCHEDULE = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
SQS_MAX_DELAY = 900  # longer waits are chained: the message carries notBefore and is queued again
TIMEOUT_SECONDS = 2.0  # like Routee: a receiver must answer within 2 s
SCAN_VISIBILITY = 120  # seconds a redelivery scan keeps the letters it passed over hidden: its continuation window
REDELIVERY_BUDGET = 20.0  # seconds one redelivery request scans: API Gateway answers within 29 s

# Signed on the Standard Webhooks spec (failover.webhooks: webhook-id, webhook-timestamp, webhook-signature);
# these two are ours, on top.
HEADER_SEQUENCE = "X-Failover-Sequence"
HEADER_ATTEMPT = "X-Failover-Attempt"


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


@dataclass(frozen=True)
class StreamChange:
    """One stream record as capture needs it: its id, and the item's images before and after the change."""

    eventId: str  # the record's eventID: the same on every retry or replay of the record
    old: dict[str, Any] | None
    new: dict[str, Any] | None


def wants_callback(strategy: str, completes: bool) -> bool:
    """OnChange: every status change. OnCompletion: only the change that takes the flow into a final status."""
    return strategy == "OnChange" or completes


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


def completes_flow(old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
    """The change takes the flow item into a final status. A flow's status only moves forward, and only a
    conditional write ends it, so exactly one change per flow does this, whenever its record is processed."""
    if new is None or new.get("sk") != "#FLOW":
        return False
    return new.get("status") in domain.FINAL_FLOW_STATUSES and (old or {}).get("status") not in (
        domain.FINAL_FLOW_STATUSES
    )


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

    def take_dead_letters(
        self,
        wanted: Callable[[Delivery], bool],
        move: Callable[[Delivery], None],
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> tuple[int, bool]:
        """Hand each dead letter `wanted` picks to `move`, then delete it; (moved, whether the queue was drained).

        A letter is deleted only after `move` returned, so a failure between the two leaves it in the queue (at
        worst it is moved twice, under the same event id). Letters not wanted stay hidden for SCAN_VISIBILITY
        seconds, so that each receive brings letters not yet seen; a scan that reaches `deadline` stops, and a
        continuation within that window goes on from where it stopped. Long polling asks every SQS server, so
        an empty answer means the queue has no visible letter left (short polling samples a few servers).
        """
        moved = 0
        skipped: list[str] = []
        while clock() < deadline:
            messages = self.client.receive_message(
                QueueUrl=self.dead_letter_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=SCAN_VISIBILITY,
                WaitTimeSeconds=1,
            ).get("Messages", [])
            if not messages:
                self._release(skipped)  # a complete scan: the others' letters are visible again at once
                return moved, True
            for message in messages:
                delivery = Delivery.from_message(message["Body"])
                if not wanted(delivery):
                    skipped.append(message["ReceiptHandle"])
                    continue
                move(delivery)
                self.client.delete_message(QueueUrl=self.dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        return moved, False

    def _release(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(receipt_handles[start : start + 10])
            ]
            self.client.change_message_visibility_batch(QueueUrl=self.dead_letter_url, Entries=entries)


@dataclass
class CallbackService:
    flows: FlowStore
    events: CallbackEventStore
    queue: Queue
    poster: Poster
    deployment_key: Callable[[], str]  # fetched lazily (Secrets Manager through Powertools Parameters)
    time_scale: float = 1.0
    allow_loopback: bool = False
    clock: Callable[[], float] = time.time
    applications: ApplicationStore | None = None  # where each application's secret rotation is kept

    def signing_keys(self, application_id: str, now: float) -> list[bytes]:
        """The keys that sign an application's callbacks now: its current secret, and during a rotation's overlap
        the previous one too."""
        application = self.applications.get(application_id) if self.applications and application_id else None
        rotation = webhooks.SecretRotation.of(application)
        key = self.deployment_key()
        return [webhooks.signing_key(key, application_id, g) for g in rotation.signing_generations(now)]

    def capture(self, change: StreamChange) -> Delivery | None:
        """One stream record → the flow's snapshot queued, if its callback wants the change and it is not queued yet."""
        old, new = change.old, change.new
        flow_changed, message_changed = status_changes(old, new)
        if not (flow_changed or message_changed) or new is None:
            return None
        tracking_id = new["pk"].removeprefix("FLOW#")
        loaded = self.flows.load(tracking_id)
        if loaded is None:
            return None
        flow, messages = loaded
        callback = flow.get("callback")
        if not callback or not wants_callback(callback.get("strategy", "OnChange"), completes_flow(old, new)):
            return None
        event = self.events.claim(tracking_id, change.eventId)
        if event.queued:
            count("CallbacksReplayed")  # a retried or replayed record whose delivery is already on its way
            return None
        delivery = Delivery(
            eventId=change.eventId,
            trackingId=flow["trackingId"],
            applicationId=flow.get("applicationId") or "",
            sequence=event.sequence,
            url=callback["url"],
            body=json.dumps(domain.flow_snapshot(flow, messages), separators=(",", ":")),
        )
        self.queue.put(delivery)
        self.events.mark_queued(tracking_id, change.eventId)
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
            body = delivery.body.encode()
            headers = {
                "Content-Type": "application/json",
                **webhooks.headers(
                    self.signing_keys(delivery.applicationId, now), delivery.eventId, str(int(now)), body
                ),
                HEADER_SEQUENCE: str(delivery.sequence),
                HEADER_ATTEMPT: str(delivery.attempt + 1),
            }
            delivered, outcome = self.poster.post(delivery.url, body, headers)
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

    def redeliver(
        self, application_id: str | None = None, tracking_id: str | None = None, budget: float = REDELIVERY_BUDGET
    ) -> tuple[int, bool]:
        """Move dead letters (of one application, or one flow, or all) back to the queue, attempts reset.

        Returns (how many moved, whether the whole dead-letter queue was scanned). When the budget ran out first,
        call again (within SCAN_VISIBILITY seconds) to go on.
        """

        def wanted(delivery: Delivery) -> bool:
            return (application_id is None or delivery.applicationId == application_id) and (
                tracking_id is None or delivery.trackingId == tracking_id
            )

        def move(delivery: Delivery) -> None:
            self.queue.put(Delivery(**{**asdict(delivery), "attempt": 0, "notBefore": 0.0}))

        moved, complete = self.queue.take_dead_letters(wanted, move, deadline=time.monotonic() + budget)
        if moved:
            count("CallbacksRedelivered", value=moved)
        return moved, complete


def _delay(seconds: float) -> int:
    """An SQS delay: whole seconds, at least 1 for any wait at all, at most SQS's 15 minutes."""
    return min(SQS_MAX_DELAY, math.ceil(seconds)) if seconds > 0 else 0
