"""Lambda's event source mappings, in-process: a DynamoDB stream and SQS queues to the functions of template.yaml.

The stream mapping behaves as Lambda's does for DynamoDB Streams
(https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html):
  - records are handed over in batches of up to BatchSize, in the order of the writes, after FilterCriteria;
  - with ReportBatchItemFailures, the batch resumes from the lowest failed sequence number: the records after
    it run again;
  - a function error retries the batch; BisectBatchOnFunctionError splits it in two first (no retry used);
  - MaximumRetryAttempts and MaximumRecordAgeInSeconds (scaled by FAILOVER_TIME_SCALE) bound the retries; the
    records given up go to the OnFailure destination as Lambda's invocation record (their shard and sequence
    range, not the records themselves).
The SQS mapping receives, invokes, and deletes what the function did not report as failed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

from failover_local.faults import FaultPlan
from failover_local.moto_patches import wait_for_messages, wake

Invoke = Callable[[str, dict[str, Any]], Any]
SHARD_ID = "shardId-00000000000000000001-local"
_RETRY_WAIT = 0.05  # seconds between retries of a failed batch, locally


class StreamMapping:
    """One DynamoDB stream → one function. put() is called from inside the written item's lock."""

    def __init__(
        self,
        function: str,
        function_arn: str,
        properties: dict[str, Any],
        invoke: Invoke,
        region: str,
        time_scale: float = 1.0,
        faults: FaultPlan | None = None,
    ):
        self.function = function
        self._function_arn = function_arn
        self._properties = properties
        self._invoke = invoke
        self._region = region
        self._faults = faults
        self._batch_size = int(properties.get("BatchSize", 100))
        self._max_retries = int(properties.get("MaximumRetryAttempts", -1))
        age = int(properties.get("MaximumRecordAgeInSeconds", -1))
        self._max_age = age * time_scale if age >= 0 else None
        self._bisect = bool(properties.get("BisectBatchOnFunctionError", False))
        self._partial = "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])
        self._on_failure = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self._records: queue.Queue[tuple[dict[str, Any], float] | None] = queue.Queue()
        self._sequence = itertools.count(1)
        self._busy = threading.Event()
        self._stop = threading.Event()
        self.failed_batches: list[dict[str, Any]] = []  # what went to the OnFailure destination
        self.invocations = 0

    def put(self, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """A committed change becomes a stream record now: its eventID and sequence number never change after."""
        sequence = f"{next(self._sequence):021d}"
        record = {
            "eventID": uuid.uuid4().hex,
            "eventName": "INSERT" if old is None else "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "eventSourceARN": self._properties["Stream"],
            "dynamodb": {
                "ApproximateCreationDateTime": int(time.time()),
                "Keys": {k: new[k] for k in ("pk", "sk") if k in new},
                "NewImage": new,
                **({"OldImage": old} if old is not None else {}),
                "SequenceNumber": sequence,
                "SizeBytes": len(json.dumps(new)),
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }
        if _passes_filters(self._properties.get("FilterCriteria"), record):
            self._records.put((record, time.monotonic()))

    def idle(self) -> bool:
        return self._records.empty() and not self._busy.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._records.put(None)

    def run(self) -> None:
        while not self._stop.is_set():
            first = self._records.get()
            if first is None:
                return
            self._busy.set()
            try:
                batch = [first]
                while len(batch) < self._batch_size:
                    try:
                        more = self._records.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._stop.set()
                        break
                    batch.append(more)
                self._process(batch)
            finally:
                self._busy.clear()

    def _process(self, batch: list[tuple[dict[str, Any], float]]) -> None:
        work: list[tuple[list[tuple[dict[str, Any], float]], int]] = [(batch, 0)]  # (records, retries used)
        while work and not self._stop.is_set():
            records, retries = work.pop(0)
            if self._max_age is not None:
                now = time.monotonic()
                expired = [r for r in records if now - r[1] > self._max_age]
                if expired:
                    self._give_up(expired, "RecordAgeExceeded", retries + 1, None)
                    records = [r for r in records if r not in expired]
                    if not records:
                        continue
            self.invocations += 1
            try:
                result = self._invoke(self.function, {"Records": [record for record, _ in records]})
                error = None
            except Exception as failure:  # noqa: BLE001 - a function error: the mapping retries
                traceback.print_exc()
                result, error = None, failure
            rest = records if error is not None else self._unfinished(records, result)
            if not rest:
                if self._faults is not None and self._faults.hit("stream_replay"):
                    work.insert(0, (records, retries))  # processed, then handed over again (a retried batch)
                continue
            if error is not None and self._bisect and len(rest) > 1:
                half = len(rest) // 2
                work[:0] = [(rest[:half], retries), (rest[half:], retries)]  # splitting uses no retry
                continue
            if 0 <= self._max_retries <= retries:
                self._give_up(rest, "RetryAttemptsExhausted", retries + 1, "Unhandled" if error else None)
                continue
            self._stop.wait(_RETRY_WAIT)
            work.insert(0, (rest, retries + 1))

    def _unfinished(self, records: list[tuple[dict[str, Any], float]], result: Any) -> list[Any]:
        """With ReportBatchItemFailures: the records from the lowest failed sequence number on; else none."""
        failures = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
        if not self._partial or not failures:
            return []
        sequences = [record["dynamodb"]["SequenceNumber"] for record, _ in records]
        identifiers = [failure.get("itemIdentifier") for failure in failures]
        if any(identifier not in sequences for identifier in identifiers):
            return records  # an empty, null or unknown identifier fails the whole batch
        lowest = min(sequences.index(identifier) for identifier in identifiers)
        return records[lowest:]

    def _give_up(self, records: list[Any], condition: str, invocations: int, function_error: str | None) -> None:
        """Lambda's invocation record for a discarded batch, sent to the OnFailure destination."""
        first, last = records[0][0]["dynamodb"], records[-1][0]["dynamodb"]
        arrival = datetime.fromtimestamp(first["ApproximateCreationDateTime"], UTC).isoformat()
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._function_arn,
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": function_error} if function_error else {}),
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": SHARD_ID,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival,
                "approximateArrivalOfLastRecord": datetime.fromtimestamp(
                    last["ApproximateCreationDateTime"], UTC
                ).isoformat(),
                "batchSize": len(records),
                "streamArn": self._properties["Stream"],
            },
        }
        self.failed_batches.append(message)
        if self._on_failure:
            sqs = boto3.client("sqs", region_name=self._region)
            url = sqs.get_queue_url(QueueName=self._on_failure.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))


class QueueMapping:
    """One SQS queue → one function: receive, invoke, delete what the function did not report as failed.

    One receiver long-polls the queue and hands each batch to one of up to `concurrency` invokers, as Lambda
    scales an SQS mapping out; it receives only when an invoker is free, so no message waits invisible in here.
    """

    def __init__(
        self,
        function: str,
        properties: dict[str, Any],
        url: str,
        invoke: Invoke,
        faults: FaultPlan | None = None,
        concurrency: int = 4,
    ):
        self.function = function
        self._properties = properties
        self._url = url
        self._invoke = invoke
        self._faults = faults
        self._stop = threading.Event()
        self._busy = 0
        self._lock = threading.Lock()
        self._free = threading.Semaphore(concurrency)

    def stop(self) -> None:
        self._stop.set()
        wake(self._url)

    def idle(self) -> bool:
        """No invocation in flight, and no message in the queue (visible, in flight or delayed)."""
        with self._lock:
            if self._busy:
                return False
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=self._url, AttributeNames=names)["Attributes"]
        return all(int(attributes.get(name, 0)) == 0 for name in names)

    def run(self) -> None:
        sqs = boto3.client("sqs")
        invokers: list[threading.Thread] = []
        try:
            while not self._stop.is_set():
                while not self._free.acquire(timeout=0.5):
                    if self._stop.is_set():
                        return
                try:
                    messages = sqs.receive_message(
                        QueueUrl=self._url, MaxNumberOfMessages=int(self._properties.get("BatchSize", 10)),
                        AttributeNames=["All"],
                    ).get("Messages", [])  # fmt: skip
                except Exception:  # noqa: BLE001 - the mock is stopping
                    self._free.release()
                    return
                if not messages:
                    self._free.release()
                    # A long poll: back when a message is sent or the mapping stops; at least once a second for
                    # messages whose delay or visibility timeout ends (those notify nobody).
                    wait_for_messages(self._url, 1.0, self._stop.is_set)
                    continue
                with self._lock:
                    self._busy += 1
                invoker = threading.Thread(target=self._invoker, args=(sqs, messages), daemon=True)
                invoker.start()
                invokers = [t for t in invokers if t.is_alive()] + [invoker]
        finally:
            for invoker in invokers:
                invoker.join(timeout=10)

    def _invoker(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        try:
            self._deliver(sqs, messages)
        finally:
            with self._lock:
                self._busy -= 1
            self._free.release()

    def _deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": self._properties["Queue"],
                "awsRegion": sqs.meta.region_name,
            }
            for m in messages
        ]
        try:
            result = self._invoke(self.function, {"Records": records})
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:  # noqa: BLE001 - the whole batch comes back after its visibility timeout
            traceback.print_exc()
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                continue
            with contextlib.suppress(Exception):
                if self._faults is not None and self._faults.hit("sqs_redeliver"):
                    # At-least-once: the message comes back, as when its visibility timeout passes before the
                    # delete (here at once, instead of after the queue's 6 minutes).
                    sqs.change_message_visibility(
                        QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


def _passes_filters(criteria: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    """Lambda event filtering, for the patterns template.yaml uses: nested keys, lists of allowed values."""
    if not criteria:
        return True

    def matches(pattern: Any, value: Any) -> bool:
        if isinstance(pattern, dict):
            return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
        return value in pattern

    return any(matches(json.loads(f["Pattern"]), record) for f in criteria.get("Filters", []))
