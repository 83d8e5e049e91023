"""The step's task token lives in its own item (store.py: MSG#<nn>#TASK), so the message's many updates are not
each charged for the token's kilobytes; reads see the message and its token as one, as before (issue 18)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from failover.domain import Channel, Outcome, Verdict
from failover.store import FlowStore
from tests.protocol.test_adapters import a_flow

TOKEN = "T" * 2048  # AWS's task tokens run to 2 KB


def test_the_message_item_never_holds_the_token(table):
    store = FlowStore(table)
    a_flow(store)
    claimed = store.claim("t1", 0, TOKEN, "2026-01-01T00:00:01.000Z")
    assert claimed["taskToken"] == TOKEN and claimed["sendAttempts"] == 1
    assert store.claim_send("t1", 0)
    store.record_status("t1", 0, {"name": "Sent"}, 1, "2026-01-01T00:00:02.000Z")
    store.resolve("t1", 0, Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=Channel.SMS), "2026-01-01T00:00:03Z")
    items = {i["sk"]: i for i in table.query(KeyConditionExpression=Key("pk").eq("FLOW#t1"))["Items"]}
    assert set(items) == {"#FLOW", "MSG#00", "MSG#00#TASK"}
    assert "taskToken" not in items["MSG#00"] and items["MSG#00#TASK"]["taskToken"] == TOKEN


def test_reads_fold_the_task_item_into_its_message(table):
    store = FlowStore(table)
    a_flow(store)
    store.claim("t1", 0, "first", "2026-01-01T00:00:01.000Z")
    store.claim("t1", 0, TOKEN, "2026-01-01T00:00:09.000Z")  # Step Functions retried SendStep with a new token
    store.claim_send("t1", 0)
    store.record_status("t1", 0, {"name": "Sent"}, 1, "2026-01-01T00:00:10.000Z")
    message = store.get_message("t1", 0)
    assert message["taskToken"] == TOKEN and message["sendAttempts"] == 2
    assert message["createdAt"] == "2026-01-01T00:00:01.000Z"  # the first claim, as when one item held both
    assert message["status"] == {"name": "Sent"} and message["sk"] == "MSG#00"
    _, messages = store.load("t1")
    assert messages == [message]


def test_a_step_claimed_but_not_sent_reads_as_its_task_item(table):
    store = FlowStore(table)
    a_flow(store)
    assert store.get_message("t1", 0) is None
    store.claim("t1", 0, TOKEN, "2026-01-01T00:00:01.000Z")
    _, messages = store.load("t1")
    assert [m["index"] for m in messages] == [0] and messages[0]["taskToken"] == TOKEN
