"""Recapture: stream batches the capture function gave up on, read again from the stream and captured.

The stream mapping gives a failing batch bounded retries, then records it in CallbackCaptureFailureQueue: its
shard and its range of sequence numbers, not the records themselves. DynamoDB Streams keeps records for 24 hours
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html); within that time the records are
read again (GetShardIterator AT_SEQUENCE_NUMBER, then GetRecords) and captured. Capture is idempotent per record,
so a record that was captured after all is not queued twice. A batch whose records the stream no longer holds
stays in the queue, and is counted as expired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from failover.callbacks import CallbackService, StreamChange

_GONE = ("TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException")
_deserializer = TypeDeserializer()


@dataclass
class Recaptured:
    batches: int = 0  # batches read again and captured, and removed from the failure queue
    records: int = 0
    expired: int = 0  # batches the stream no longer holds: left in the queue for an operator


def recapture(callbacks: CallbackService, sqs: Any, failure_queue_url: str, streams: Any) -> Recaptured:
    """Every batch in the failure queue, once (a batch left there stays hidden for the rest of this run)."""
    done = Recaptured()
    while True:
        messages = sqs.receive_message(
            QueueUrl=failure_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=900
        ).get("Messages", [])
        if not messages:
            return done
        for message in messages:
            info = json.loads(message["Body"])["DDBStreamBatchInfo"]
            try:
                changes = batch_records(streams, info)
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in _GONE:
                    raise
                done.expired += 1
                continue
            for change in changes:
                callbacks.capture(change)
            sqs.delete_message(QueueUrl=failure_queue_url, ReceiptHandle=message["ReceiptHandle"])
            done.batches += 1
            done.records += len(changes)


def batch_records(streams: Any, info: dict[str, Any]) -> list[StreamChange]:
    """The stream records from startSequenceNumber to endSequenceNumber of one shard."""
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    end = int(info["endSequenceNumber"])
    changes: list[StreamChange] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in page["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return changes
            stream = record["dynamodb"]
            changes.append(
                StreamChange(record["eventID"], _image(stream.get("OldImage")), _image(stream.get("NewImage")))
            )
        if not page["Records"]:
            return changes  # nothing further in the shard yet
        iterator = page.get("NextShardIterator")
    return changes


def _image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    if image is None:
        return None
    return {name: _deserializer.deserialize(value) for name, value in image.items()}
