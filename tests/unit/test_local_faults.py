"""The local runtime's moto patches and fault mode: errors exactly as botocore raises them from AWS, atomicity."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from failover_local.faults import FaultPlan
from failover_local.moto_patches import MotoPatches
from tests.tables import create_keyed_table

NO_SDK_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture
def dynamodb(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        client = boto3.client("dynamodb", config=NO_SDK_RETRIES)
        create_keyed_table(client, "t")
        yield client


def key(sk: str) -> dict:
    return {"pk": {"S": "FLOW#1"}, "sk": {"S": sk}}


def update(sk: str, condition: str | None = None) -> dict:
    operation = {
        "TableName": "t",
        "Key": key(sk),
        "UpdateExpression": "SET n = :n",
        "ExpressionAttributeValues": {":n": {"N": "1"}},
    }
    return {"Update": {**operation, **({"ConditionExpression": condition} if condition else {})}}


def test_a_conflicting_transaction_is_cancelled_as_dynamodb_cancels_it(dynamodb):
    plan = FaultPlan({"dynamodb_conflict": 1.0})
    with MotoPatches(faults=plan):
        with pytest.raises(ClientError) as raised:
            dynamodb.transact_write_items(TransactItems=[update("#FLOW"), update("MSG#00")])
        error = raised.value.response
        assert error["Error"]["Code"] == "TransactionCanceledException"
        codes = [reason["Code"] for reason in error["CancellationReasons"]]
        assert sorted(codes) == ["None", "TransactionConflict"]
        assert "Item" not in dynamodb.get_item(TableName="t", Key=key("#FLOW"))  # nothing written
        # A plain write of an item that transactions write conflicts; one of an item no transaction writes never.
        with pytest.raises(ClientError) as plain:
            dynamodb.put_item(TableName="t", Item={**key("MSG#00"), "n": {"N": "2"}})
        assert plain.value.response["Error"]["Code"] == "TransactionConflictException"
        for n in range(20):
            dynamodb.put_item(TableName="t", Item={**key(f"OTHER#{n}")})


def test_throttling_is_shaped_as_dynamodb_and_step_functions_send_it(dynamodb):
    plan = FaultPlan({"dynamodb_throttle": 1.0, "sfn_throttle": 1.0})
    with MotoPatches(faults=plan):
        with pytest.raises(ClientError) as raised:
            dynamodb.get_item(TableName="t", Key=key("#FLOW"))
        error = raised.value.response
        assert error["Error"]["Code"] == "ProvisionedThroughputExceededException"
        assert error["ThrottlingReasons"][0]["reason"] == "TableReadKeyRangeThroughputExceeded"
        sfn = boto3.client("stepfunctions", config=NO_SDK_RETRIES)
        with pytest.raises(ClientError) as throttled:
            sfn.start_execution(stateMachineArn="arn:aws:states:eu-west-1:123456789012:stateMachine:x", input="{}")
        assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
        plan.rates.clear()
        plan.rates["sfn_failure"] = 1.0
        with pytest.raises(ClientError) as failed:
            sfn.send_task_success(taskToken="token", output="{}")
        assert failed.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_botocore_retries_throttling_as_it_does_against_aws(dynamodb):
    """A throttle now and then is absorbed by the SDK's retries; the product never sees it."""
    plan = FaultPlan({"dynamodb_throttle": 0.2}, seed=3)
    with MotoPatches(faults=plan):
        retrying = boto3.client("dynamodb")  # the SDK's default retries, as the product uses them
        for n in range(8):
            retrying.put_item(TableName="t", Item={**key(f"MSG#{n:02d}")})
    assert plan.injected["dynamodb_throttle"] > 0


def test_a_cancelled_transaction_restores_only_its_items_and_keeps_the_table(dynamodb):
    dynamodb.put_item(TableName="t", Item={**key("#FLOW"), "n": {"N": "0"}})
    backend = dynamodb_backends["123456789012"]["eu-west-1"]
    table = backend.tables["t"]
    with MotoPatches(), pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[update("#FLOW"), update("MSG#00", condition="attribute_exists(pk)")]
        )
    assert [r["Code"] for r in raised.value.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert dynamodb.get_item(TableName="t", Key=key("#FLOW"))["Item"]["n"] == {"N": "0"}  # the first write undone
    assert "Item" not in dynamodb.get_item(TableName="t", Key=key("MSG#00"))
    assert backend.tables["t"] is table  # no copy of the whole table to roll back (moto's own way)


def test_a_conditional_write_is_atomic_under_threads(dynamodb):
    winners: list[int] = []
    with MotoPatches():

        def create(n: int) -> None:
            try:
                dynamodb.put_item(
                    TableName="t",
                    Item={**key("#FLOW"), "writer": {"N": str(n)}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
                winners.append(n)
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"

        threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert len(winners) == 1


def test_a_fault_specification_is_checked():
    assert FaultPlan.parse("stream_replay=0.2, sqs_redeliver=0.1", seed=5).rates == {
        "stream_replay": 0.2,
        "sqs_redeliver": 0.1,
    }
    with pytest.raises(ValueError, match="unknown fault"):
        FaultPlan.parse("dynamo_conflict=0.1")
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan.parse("stream_replay=2")
