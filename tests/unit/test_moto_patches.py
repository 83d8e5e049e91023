"""The local stack's patches to moto (failover_local.moto_patches): pinned to the moto they were written against,
and each doing what its comment says."""

from __future__ import annotations

import copy
import json
import time
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.common_models import BaseModel
from moto.dynamodb.models.table import StreamShard, Table
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from failover_local import moto_patches
from failover_local.moto_patches import MotoPatches, check_moto_version, moto_changes
from failover_local.polling import wait_for
from tests.tables import create_keyed_table

MOTO_ALL_ITEMS = Table.all_items  # moto's own, taken before any patch
MOTO_SEND_TASK_SUCCESS = StepFunctionsParserBackend.send_task_success

# sha256 (first 16 hex digits) of the source of each moto function a patch replaces or relies on, in moto 5.2.5.
# When moto changes one, re-read the patches named by its number, then update its fingerprint here.
FINGERPRINTS = {
    "1,2,4 DynamoDBBackend.get_item": "290b95c46b38bc5a",
    "1,2,4 DynamoDBBackend.query": "b8f2b308cd13edb4",
    "1,2,4 DynamoDBBackend.scan": "9b5227800f9a320c",
    "1,2,4 DynamoDBBackend.put_item": "f5d9a5042c77b89e",
    "1,2,4 DynamoDBBackend.update_item": "218984588dd689a5",
    "1,2,4 DynamoDBBackend.delete_item": "083a4bb1af18f6fd",
    "2 DynamoDBBackend.transact_write_items": "81db2cb7d94e39c9",
    "3,10 StepFunctionsParserBackend.start_execution": "0f8d9dd57baf0c28",
    "3,16 StepFunctionsParserBackend.send_task_success": "2e95c66f0d676001",
    "16 StepFunctionsParserBackend.send_task_failure": "2d5a9597cf1d92f9",
    "5 SQSBackend.receive_message": "065f3e5e7d214408",
    "long poll Queue.add_message": "f27c9231c1f20433",
    "long poll Queue.wait_for_messages": "58432562ccf2e13e",
    "6 BaseModel.__new__": "08cf0ef20e88029a",
    "11 BackendDict._create_account_specific_backend": "efcc193ee3ca3337",
    "7 StreamShard.add": "357dc6da267e5dd7",
    "12 Table.all_items": "c80d2ee3c896acd0",
    "13 ExecutionWorker._get_evaluation_entrypoint": "2b25949ae855da80",
    "15 UpdateExpressionParser.make": "2c00ed96d6e191f2",
    "15 Validator.__init__": "9489b532dd0fb359",
    "14 BaseJSONSerializer._serialized_result_to_response": "99acea02e74ab1c4",
    "14 ResponseSerializer._serialize_result": "279351f4cb0eb300",
    "12 Table.query": "002b4d00be6df07c",
    "8 boto_client_for": "1f44dc2ac8aa2179",
    "8 lambda_eval_utils.exec_lambda_function": "26ae15132de11b87",
    "9 json_path.extract_json": "932245247973780c",
    "9 ResultPath._eval_body": "a6d93b4e5a332fad",
    "10 StepFunctionBackend.describe_execution": "74309ac20095b102",
}


def test_moto_is_the_version_the_patches_were_written_for():
    assert check_moto_version()
    changed = moto_changes(FINGERPRINTS)
    assert not changed, f"moto changed under failover_local.moto_patches: {changed}; re-read those patches"


def test_the_version_and_source_checks_can_fail(monkeypatch):
    assert moto_changes({**FINGERPRINTS, "7 StreamShard.add": "0" * 16}) == ["7 StreamShard.add"]
    monkeypatch.setattr(moto_patches.importlib.metadata, "version", lambda name: "6.0.0")
    with pytest.raises(RuntimeError, match="moto 6.0.0 is outside"):
        MotoPatches().start()


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), MotoPatches():
        yield


def _table():
    return boto3.resource("dynamodb").create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def test_models_are_not_tracked_and_the_stream_shard_keeps_nothing(aws):
    from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

    table = _table()
    tracked = {cls: len(cls.instances_tracked) for cls in (StreamShard, *BaseModel.__subclasses__())}
    for n in range(20):
        table.put_item(Item={"pk": str(n), "v": n})
    assert {cls: len(cls.instances_tracked) for cls in tracked} == tracked
    backend: DynamoDBBackend = dynamodb_backends["123456789012"]["eu-west-1"]
    assert backend.get_table("t").stream_shard.items == []
    assert table.get_item(Key={"pk": "3"})["Item"]["v"] == 3


def test_task_clients_are_reused_and_json_paths_parsed_once(aws):
    first = lambda_eval_utils.boto_client_for(region="eu-west-1", service="lambda")
    assert lambda_eval_utils.boto_client_for(region="eu-west-1", service="lambda") is first
    assert json_path.parse("$.a.b") is json_path.parse("$.a.b")
    assert json_path.extract_json("$.a.b", {"a": {"b": 2}}) == 2


def test_finished_executions_are_pruned_and_their_names_stay_taken(aws, monkeypatch):
    monkeypatch.setattr(moto_patches, "EXECUTION_RETENTION", 0.0)
    sfn = boto3.client("stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=arn, name="first")["executionArn"]
    wait_for(lambda: sfn.describe_execution(executionArn=first)["status"] == "SUCCEEDED", 10, what="the execution")
    time.sleep(1.1)  # pruning runs at most once a second
    second = sfn.start_execution(stateMachineArn=arn, name="second")["executionArn"]
    with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
        sfn.describe_execution(executionArn=first)
    assert sfn.describe_execution(executionArn=second)["name"] == "second"
    with pytest.raises(ClientError, match="ExecutionAlreadyExists"):
        sfn.start_execution(stateMachineArn=arn, name="first")


class _WriterMidway(dict):
    """A partition whose read lets another partition's writer in at that instant (as a thread switch would)."""

    def __init__(self, items, table, on_read):
        super().__init__(items)
        self._table, self._on_read = table, on_read

    def values(self):
        self._on_read(self._table)
        return super().values()


def _ranged_table():
    return create_keyed_table(boto3.resource("dynamodb"), "r")


def _moto_table(name):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["eu-west-1"].get_table(name)


@pytest.mark.parametrize("patched", [True, False])
def test_a_table_read_survives_a_writer_adding_a_partition_meanwhile(aws, patched):
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _ranged_table()
    for pk in ("a", "b"):
        table.put_item(Item={"pk": pk, "sk": "1"})
    moto_table = _moto_table("r")
    moto_table.items[DynamoType({"S": "a"})] = _WriterMidway(
        moto_table.items[DynamoType({"S": "a"})], moto_table, lambda t: t.items[DynamoType({"S": "new"})]
    )
    all_items = Table.all_items if patched else MOTO_ALL_ITEMS
    if patched:
        assert [item.hash_key.value for item in all_items(moto_table)] == ["a", "b"]
    else:  # moto's own all_items: the guard's reason, shown
        with pytest.raises(RuntimeError, match="dictionary changed size during iteration"):
            all_items(moto_table)


def test_a_partition_query_reads_only_its_partition(aws):
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _ranged_table()
    for pk in ("a", "b"):
        for sk in ("2", "1"):
            table.put_item(Item={"pk": pk, "sk": sk})

    def unreadable(_table):
        raise AssertionError("a Query of partition b read partition a")

    moto_table = _moto_table("r")
    moto_table.items[DynamoType({"S": "a"})] = _WriterMidway(moto_table.items[DynamoType({"S": "a"})], None, unreadable)
    answer = table.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "b"})
    assert [(item["pk"], item["sk"]) for item in answer["Items"]] == [("b", "1"), ("b", "2")]
    with pytest.raises(AssertionError, match="partition a"):  # a Scan still reads every partition
        table.scan()


def test_a_definition_is_parsed_once_for_every_execution(aws):
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    programs = []
    entrypoint = ExecutionWorker._get_evaluation_entrypoint

    def recording(worker):
        programs.append(entrypoint(worker))
        return programs[-1]

    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="m", definition=definition, roleArn="arn:aws:iam::123456789012:role/r")[
        "stateMachineArn"
    ]
    with mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", recording):
        executions = [
            sfn.start_execution(stateMachineArn=arn, name=f"e{n}", input=f'{{"n": {n}}}')["executionArn"]
            for n in range(3)
        ]
        for execution in executions:
            wait_for(lambda e=execution: sfn.describe_execution(executionArn=e)["status"] == "SUCCEEDED", timeout=10)
    assert len(programs) == 3 and programs[0] is programs[1] is programs[2]
    outputs = [json.loads(sfn.describe_execution(executionArn=e)["output"]) for e in executions]
    assert outputs == [{"n": n} for n in range(3)]


def _every_answer_both_ways():
    """(operation, patch 14's encoding, moto's shape walk) for every data-plane operation the product uses."""
    from moto.core.serialize import BaseJSONSerializer, ResponseSerializer

    answers = []
    direct = BaseJSONSerializer._serialize_result

    def both(serializer, resp, result):
        slow = ResponseSerializer._serialize_result(serializer, copy.deepcopy(resp), result)
        try:
            fast = direct(serializer, copy.deepcopy(resp), result)
        except TypeError as error:  # not JSON
            fast = {"body": json.dumps({"unencodable": str(error)}), "headers": {}, "status_code": 0}
        answers.append((serializer.operation_model.name, copy.deepcopy(fast), copy.deepcopy(slow)))
        return slow  # moto adds its headers to the answer it gets: the copies are compared

    client = boto3.client("dynamodb")
    _ranged_table()
    item = {
        "pk": {"S": "a"},
        "sk": {"S": "1"},
        "n": {"N": "1.50"},
        "b": {"B": b"\x00\xff"},
        "bs": {"BS": [b"\x01"]},
        "l": {"L": [{"S": "x"}, {"NULL": True}, {"M": {"y": {"BOOL": False}}}]},
        "ss": {"SS": ["p", "q"]},
        "ns": {"NS": ["1", "2"]},
    }
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    with mock.patch.object(BaseJSONSerializer, "_serialize_result", both):
        client.put_item(TableName="r", Item=item, ReturnConsumedCapacity="TOTAL")
        client.put_item(TableName="r", Item={**item, "sk": {"S": "2"}}, ReturnValues="ALL_OLD")
        client.update_item(
            TableName="r",
            Key=key,
            UpdateExpression="SET v = :v ADD c :one",
            ExpressionAttributeValues={":v": {"S": "z"}, ":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
            ReturnConsumedCapacity="INDEXES",
        )
        client.update_item(TableName="r", Key=key, UpdateExpression="REMOVE v", ReturnValues="UPDATED_OLD")
        client.get_item(TableName="r", Key=key, ConsistentRead=True)
        client.get_item(TableName="r", Key={"pk": {"S": "a"}, "sk": {"S": "9"}})
        client.query(
            TableName="r",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "a"}},
            Limit=1,
            ReturnConsumedCapacity="TOTAL",
        )
        client.query(TableName="r", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}})
        client.scan(TableName="r", ProjectionExpression="pk, b")
        client.batch_get_item(RequestItems={"r": {"Keys": [key]}})
        client.transact_write_items(
            TransactItems=[{"Put": {"TableName": "r", "Item": {**item, "sk": {"S": "3"}}}}],
            ReturnConsumedCapacity="TOTAL",
        )
        client.transact_get_items(TransactItems=[{"Get": {"TableName": "r", "Key": key}}])
        client.delete_item(TableName="r", Key=key, ReturnValues="ALL_OLD")
    assert {name for name, _, _ in answers} >= {"PutItem", "UpdateItem", "GetItem", "Query", "Scan", "DeleteItem"}
    return [
        (name, json.loads(fast["body"]), json.loads(slow["body"]))
        for name, fast, slow in answers
        if fast["headers"] == slow["headers"] and fast["status_code"] == slow["status_code"]
    ] + [(name, "headers", fast["headers"]) for name, fast, slow in answers if fast["headers"] != slow["headers"]]


def test_dynamodb_answers_encoded_directly_equal_moto_s_shape_walk(aws):
    differing = [name for name, fast, slow in _every_answer_both_ways() if fast != slow]
    assert differing == []


def test_the_encoding_check_can_fail(aws, monkeypatch):
    monkeypatch.setattr(moto_patches, "_wire", lambda value: value)  # bytes and nulls as they are
    differing = {name for name, fast, slow in _every_answer_both_ways() if fast != slow}
    assert {"GetItem", "Query"} <= differing


def test_an_update_expression_is_parsed_once_and_never_changed(aws):
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    table = _ranged_table()
    expression = "SET v = :v, n = if_not_exists(n, :zero) + :one"
    first = UpdateExpressionParser.make(expression)
    for value in ("a", "b", "c"):  # the same string, other values: each update sees its own
        table.update_item(
            Key={"pk": "p", "sk": value},
            UpdateExpression=expression,
            ExpressionAttributeValues={":v": value, ":zero": 0, ":one": 1},
        )
        table.update_item(
            Key={"pk": "p", "sk": value},
            UpdateExpression=expression,
            ExpressionAttributeValues={":v": value * 2, ":zero": 0, ":one": 1},
        )
    assert UpdateExpressionParser.make(expression) is first
    items = table.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "p"})["Items"]
    assert [(i["sk"], i["v"], i["n"]) for i in items] == [("a", "aa", 2), ("b", "bb", 2), ("c", "cc", 2)]


def _waiting_execution(sfn, name):
    """An execution whose first state waits for a task token, then waits again: (execution ARN, first token)."""
    tokens = boto3.client("sqs").create_queue(QueueName=f"{name}-tokens")["QueueUrl"]
    wait = {"QueueUrl": tokens, "MessageBody": {"token.$": "$$.Task.Token"}}
    definition = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                      "Parameters": wait, "ResultPath": "$.first", "Next": "Second"},
            "Second": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                       "Parameters": wait, "End": True},
        },
    }  # fmt: skip
    role = "arn:aws:iam::123456789012:role/r"
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
    sqs = boto3.client("sqs")
    message = wait_for(lambda: sqs.receive_message(QueueUrl=tokens).get("Messages"), timeout=10)[0]
    return execution, json.loads(message["Body"])["token"], tokens


@pytest.mark.parametrize("patched", [True, False])
def test_a_closed_task_refuses_its_token_again(aws, patched):
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    sfn = boto3.client("stepfunctions")
    execution, token, _ = _waiting_execution(sfn, f"closing-{patched}")
    sfn.send_task_success(taskToken=token, output='{"n": 1}')
    if not patched:  # moto's own: accepted again while the execution runs on (the reason for patch 16)
        with mock.patch.object(StepFunctionsParserBackend, "send_task_success", MOTO_SEND_TASK_SUCCESS):
            sfn.send_task_success(taskToken=token, output='{"n": 2}')
        return
    for call in (
        lambda: sfn.send_task_success(taskToken=token, output='{"n": 2}'),
        lambda: sfn.send_task_failure(taskToken=token, error="E"),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "TaskTimedOut"
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    with pytest.raises(ClientError) as unknown:  # a token never handed out: moto's own answer, not remembered
        sfn.send_task_success(taskToken="not-a-token", output="{}")
    assert unknown.value.response["Error"]["Code"] == "InvalidToken"
    with pytest.raises(ClientError):
        sfn.send_task_success(taskToken="not-a-token", output="{}")
