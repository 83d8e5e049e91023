"""Callback events in DynamoDB: each flow's callback sequence, off the flow item, idempotent per stream record.

Layout (pk = CALLBACKS#<trackingId>, a partition of its own so that capture never writes an item a verdict writes):
  sk = "#SEQUENCE"       last: the highest sequence number handed out for the flow
  sk = "EVENT#<eventId>" sequence: the number this event got; queued: its delivery is on the queue

A stream record is handed to capture again when its batch is retried, or when a record before it fails
(ReportBatchItemFailures resumes a batch from the failed record). The record's eventId names its event item,
so the second capture finds the sequence number the first one took, and does not queue it again once queued.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

SEQUENCE_SK = "#SEQUENCE"
EVENT_RETENTION = 2 * 86400  # a stream keeps a record 24 hours; no replay of it can come later than that
_ATTEMPTS = 10


@dataclass(frozen=True)
class CallbackEvent:
    sequence: int
    queued: bool


def _pk(tracking_id: str) -> str:
    return f"CALLBACKS#{tracking_id}"


def _event_sk(event_id: str) -> str:
    return f"EVENT#{event_id}"


class CallbackEventStore:
    def __init__(self, table: Any, retention_days: int = 90, sleep: Any = time.sleep):
        self._table = table
        self._client = table.meta.client
        self._retention = retention_days * 86400
        self._sleep = sleep

    def claim(self, tracking_id: str, event_id: str) -> CallbackEvent:
        """The event's sequence number: the flow's next one the first time, the same one every time after.

        Optimistic: read the counter, then in one transaction move it on by one (if nobody moved it meanwhile)
        and record the event (if nobody recorded it meanwhile). No number is skipped, none is handed out twice.
        """
        for attempt in range(_ATTEMPTS):
            known = self._event(tracking_id, event_id)
            if known is not None:
                return known
            counter = self._table.get_item(Key={"pk": _pk(tracking_id), "sk": SEQUENCE_SK}, ConsistentRead=True)
            last = int(counter.get("Item", {}).get("last", 0))
            now = int(time.time())
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self._table.name,
                                "Key": {"pk": _pk(tracking_id), "sk": SEQUENCE_SK},
                                "UpdateExpression": "SET #last = :next, expiresAt = :flowExpiry",
                                "ConditionExpression": "attribute_not_exists(#last) OR #last = :last"
                                if last == 0
                                else "#last = :last",
                                "ExpressionAttributeNames": {"#last": "last"},
                                "ExpressionAttributeValues": {
                                    ":next": last + 1,
                                    ":last": last,
                                    ":flowExpiry": now + self._retention,
                                },
                            }
                        },
                        {
                            "Put": {
                                "TableName": self._table.name,
                                "Item": {
                                    "pk": _pk(tracking_id),
                                    "sk": _event_sk(event_id),
                                    "sequence": last + 1,
                                    "queued": False,
                                    "expiresAt": now + EVENT_RETENTION,
                                },
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in (
                    "TransactionCanceledException",
                    "TransactionConflictException",
                ):
                    raise
                # Another capture took the number, or recorded this event, or a transaction conflicted: read again.
                self._sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not a secret
                continue
            return CallbackEvent(sequence=last + 1, queued=False)
        raise RuntimeError(f"could not number callback event {event_id} of {tracking_id}")

    def mark_queued(self, tracking_id: str, event_id: str) -> None:
        """Idempotent, so a TransactionConflictException (the item was written in a transaction) is retried."""
        for attempt in range(_ATTEMPTS):
            try:
                self._table.update_item(
                    Key={"pk": _pk(tracking_id), "sk": _event_sk(event_id)},
                    UpdateExpression="SET queued = :yes",
                    ExpressionAttributeValues={":yes": True},
                )
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionConflictException" or attempt == _ATTEMPTS - 1:
                    raise
                self._sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not a secret

    def _event(self, tracking_id: str, event_id: str) -> CallbackEvent | None:
        item = self._table.get_item(Key={"pk": _pk(tracking_id), "sk": _event_sk(event_id)}, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        return CallbackEvent(sequence=int(item["sequence"]), queued=bool(item.get("queued")))
