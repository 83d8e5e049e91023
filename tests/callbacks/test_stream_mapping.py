"""The capture function's stream mapping: as template.yaml configures it, and as the local runtime emulates it."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from moto import mock_aws

from failover_local.mappings import StreamMapping
from failover_local.template import load_template, resources_of

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:capture-failures"


def capture_mapping() -> dict:
    functions = resources_of(load_template(), "AWS::Serverless::Function")
    return functions["CallbackCaptureFunction"]["Properties"]["Events"]["Changes"]["Properties"]


def test_the_template_bounds_retries_and_keeps_what_it_gives_up():
    """A poison record must not block its shard for the stream's 24 hours, nor vanish without a trace."""
    mapping = capture_mapping()
    assert 0 <= mapping["MaximumRetryAttempts"] <= 100
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] < 86400  # below the stream's retention
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    on_failure = mapping["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert on_failure["Destination"] == {"Fn::GetAtt": ["CallbackCaptureFailureQueue", "Arn"]}
    queues = resources_of(load_template(), "AWS::SQS::Queue")
    assert queues["CallbackCaptureFailureQueue"]["Properties"]["SqsManagedSseEnabled"] is True


class Function:
    """A capture function that fails on chosen records (raising, or reporting them as batch item failures)."""

    def __init__(self, poison: set[str] = frozenset(), report_once: set[str] = frozenset()):
        self.poison, self.report_once = set(poison), set(report_once)
        self.batches: list[list[str]] = []

    def __call__(self, function: str, event: dict) -> dict:
        names = [r["dynamodb"]["NewImage"]["sk"]["S"] for r in event["Records"]]
        self.batches.append(names)
        if self.poison & set(names):
            raise RuntimeError("poison record")
        failed = [r for r in event["Records"] if r["dynamodb"]["NewImage"]["sk"]["S"] in self.report_once]
        self.report_once -= {r["dynamodb"]["NewImage"]["sk"]["S"] for r in failed}
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]}


def run(function: Function, names: list[str], **properties) -> StreamMapping:
    mapping = StreamMapping(
        "Capture",
        "arn:aws:lambda:eu-west-1:123456789012:function:capture",
        {
            "Stream": "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/local",
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            **properties,
        },
        function,
        "eu-west-1",
    )
    for name in names:  # all written before the mapping reads: they form one batch
        mapping.put(None, {"pk": {"S": "FLOW#1"}, "sk": {"S": name}})
    thread = threading.Thread(target=mapping.run, daemon=True)
    thread.start()
    for _ in range(400):
        if mapping.idle():
            break
        thread.join(0.05)
    mapping.stop()
    thread.join(5)
    return mapping


def test_a_reported_failure_resumes_the_batch_from_that_record_and_runs_the_later_ones_again():
    function = Function(report_once={"c"})
    run(function, ["a", "b", "c", "d", "e"])
    assert function.batches == [["a", "b", "c", "d", "e"], ["c", "d", "e"]]


def test_a_function_error_bisects_the_batch_and_gives_up_only_the_poison_record(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="capture-failures")["QueueUrl"]
        function = Function(poison={"c"})
        mapping = run(
            function,
            ["a", "b", "c", "d"],
            BisectBatchOnFunctionError=True,
            MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": QUEUE_ARN}},
        )
        processed = {name for batch in function.batches if "c" not in batch for name in batch}
        assert processed == {"a", "b", "d"}  # the others get through
        assert sum(batch == ["c"] for batch in function.batches) == 3  # the first try and two retries
        (message,) = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url)["Messages"]]
        assert message == mapping.failed_batches[0]
        info = message["DDBStreamBatchInfo"]
        assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
        assert message["responseContext"]["functionError"] == "Unhandled"


def test_records_older_than_the_maximum_age_are_given_up():
    function = Function(poison={"a"})
    mapping = run(function, ["a"], MaximumRecordAgeInSeconds=0)
    assert [m["requestContext"]["condition"] for m in mapping.failed_batches] == ["RecordAgeExceeded"]


@pytest.mark.parametrize("identifier", ["", None, "not-a-sequence-number"])
def test_a_malformed_item_failure_fails_the_whole_batch(identifier):
    calls: list[int] = []

    def function(name: str, event: dict) -> dict:
        calls.append(len(event["Records"]))
        return {"batchItemFailures": [{"itemIdentifier": identifier}]} if len(calls) == 1 else {}

    run(function, ["a", "b"])  # type: ignore[arg-type]
    assert calls == [2, 2]
