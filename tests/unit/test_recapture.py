"""Recapture: a stream batch the capture gave up on, read again from the stream (moto's DynamoDB Streams)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from failover.callback_store import CallbackEventStore
from failover.callbacks import CallbackService, Delivery, Poster, Queue
from failover.recapture import recapture
from failover.store import FlowStore
from tests.tables import create_keyed_table

# moto routes DynamoDB Streams only for a URL ending in "/", which botocore's default endpoint lacks.
STREAMS_ENDPOINT = "https://streams.dynamodb.eu-west-1.amazonaws.com/"
STEPS = [{"type": "Sms", "order": 1, "from": "MyBank", "to": "+306912345678", "message": {"body": "PIN"}}]


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        table = create_keyed_table(
            boto3.resource("dynamodb"),
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        sqs = boto3.client("sqs")
        urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("deliveries", "dead", "failures")}
        yield table, sqs, urls


def failed_batch(table) -> dict:
    """What the stream mapping sends to its OnFailure destination, for the stream's records so far."""
    streams = boto3.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)
    arn = table.latest_stream_arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 21},
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "batchSize": len(records),
            "streamArn": arn,
        },
    }


def test_a_batch_given_up_is_captured_from_the_stream_once(aws):
    table, sqs, urls = aws
    flow = {
        "pk": "FLOW#t-1",
        "sk": "#FLOW",
        "trackingId": "t-1",
        "applicationId": "bank-app",
        "status": "Queued",
        "steps": json.dumps(STEPS),
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
        "notify": True,
        "callback": {"url": "https://hooks.bank.example/cb", "strategy": "OnChange"},
    }
    table.put_item(Item=flow)
    table.update_item(
        Key={"pk": "FLOW#t-1", "sk": "#FLOW"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "InProgress"},
    )
    sqs.send_message(QueueUrl=urls["failures"], MessageBody=json.dumps(failed_batch(table)))
    queue = Queue(sqs, urls["deliveries"], urls["dead"])
    callbacks = CallbackService(FlowStore(table), CallbackEventStore(table), queue, Poster(), lambda: "")
    streams = boto3.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)

    done = recapture(callbacks, sqs, urls["failures"], streams)
    assert (done.batches, done.records, done.expired) == (1, 2, 0)
    queued = sqs.receive_message(QueueUrl=urls["deliveries"], MaxNumberOfMessages=10)["Messages"]
    assert sorted(Delivery.from_message(m["Body"]).sequence for m in queued) == [1, 2]

    sqs.send_message(QueueUrl=urls["failures"], MessageBody=json.dumps(failed_batch(table)))  # the same batch again
    assert recapture(callbacks, sqs, urls["failures"], streams).batches == 1
    attributes = sqs.get_queue_attributes(QueueUrl=urls["deliveries"], AttributeNames=["All"])["Attributes"]
    assert (
        int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 2
    )


class TrimmedStream:
    """A shard whose records are older than the stream's 24 hours."""

    def get_shard_iterator(self, **kwargs):
        raise ClientError({"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}, "GetShardIterator")


def test_a_batch_the_stream_no_longer_holds_is_counted_and_kept(aws):
    table, sqs, urls = aws
    table.put_item(Item={"pk": "FLOW#t-2", "sk": "#FLOW", "status": "Queued"})
    sqs.send_message(QueueUrl=urls["failures"], MessageBody=json.dumps(failed_batch(table)))
    callbacks = CallbackService(FlowStore(table), CallbackEventStore(table), Queue(sqs, "", ""), Poster(), lambda: "")
    done = recapture(callbacks, sqs, urls["failures"], TrimmedStream())
    assert (done.batches, done.expired) == (0, 1)
    attributes = sqs.get_queue_attributes(QueueUrl=urls["failures"], AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 1  # still there, for an operator
