"""The AWS adapters turn transient refusals into ports.Contention, and the service retries them with backoff.

Each test injects the refusal exactly as AWS answers it (a ClientError with AWS's code and, for a cancelled
transaction, its CancellationReasons) in front of moto, which never produces these by itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failover.domain import Channel, FlowStatus, Outcome, Verdict
from failover.ports import Contention
from failover.retries import Backoff
from failover.store import FlowStore
from failover.workflow import StepFunctionsWorkflow
from tests.protocol.aws import client_error

NO_SLEEP = Backoff(sleep=lambda seconds: None)


class Refusing:
    """Wraps a boto3 object: the first `times` calls of `method` raise `error`, the rest go through."""

    def __init__(self, inner: Any, method: str, error: ClientError, times: int):
        self._inner, self._method, self._error, self.left = inner, method, error, times
        self.meta = getattr(inner, "meta", None)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name != self._method:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.left > 0:
                self.left -= 1
                raise self._error
            return attribute(*args, **kwargs)

        return call


def a_flow(store: FlowStore, tracking_id: str = "t1") -> None:
    store.create_flow(
        {
            "trackingId": tracking_id,
            "applicationId": "app",
            "status": FlowStatus.IN_PROGRESS.value,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z",
            "steps": [{"type": "Sms", "to": "+306900000001", "failoverOnStatuses": ["Failed"]}],
            "timeouts": [60],
        }
    )


class TableWithClient:
    """A Table whose meta.client is replaced (FlowStore sends transactions through the client)."""

    def __init__(self, table: Any, client: Any):
        self._table = table
        self.meta = type("Meta", (), {"client": client})()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


@pytest.mark.parametrize(
    ("code", "reasons"),
    [
        ("TransactionCanceledException", ["TransactionConflict", "None"]),
        ("TransactionCanceledException", ["None", "ThrottlingError"]),
        ("ThrottlingException", None),
        ("ProvisionedThroughputExceededException", None),
        ("RequestLimitExceeded", None),
    ],
)
def test_a_transaction_refused_for_a_transient_reason_raises_contention(table, code, reasons):
    client = Refusing(table.meta.client, "transact_write_items", client_error(code, "TransactWriteItems", reasons), 1)
    store = FlowStore(TableWithClient(table, client))
    a_flow(store)
    with pytest.raises(Contention):
        store.resolve("t1", 0, Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=Channel.SMS), "now")
    assert store.resolve("t1", 0, Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=Channel.SMS), "now")
    assert store.get_flow("t1")["status"] == "Succeeded"


def test_a_failed_condition_is_still_an_answer_not_contention(table):
    store = FlowStore(table)
    a_flow(store)
    store.fail_flow("t1", "4", None, "now")
    assert store.resolve("t1", 0, Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=Channel.SMS), "now") is False


def test_a_plain_write_on_an_item_inside_a_transaction_raises_contention(table):
    refusing = Refusing(table, "update_item", client_error("TransactionConflictException", "UpdateItem"), 1)
    store = FlowStore(refusing)
    a_flow(FlowStore(table))
    with pytest.raises(Contention):
        store.record_status("t1", 0, {"name": "Sent"}, 10, "now")


def test_the_retrying_store_outlasts_a_few_conflicts(table):
    """On the code before issue 13 the first TransactionConflict escaped, and the state machine failed the flow "0"."""
    from failover.retries import Retrying

    error = client_error("TransactionCanceledException", "TransactWriteItems", ["TransactionConflict", "None"])
    store = Retrying(
        FlowStore(TableWithClient(table, Refusing(table.meta.client, "transact_write_items", error, 3))), NO_SLEEP
    )
    a_flow(FlowStore(table))
    assert store.resolve("t1", 0, Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=Channel.SMS), "now")


class FakeStepFunctions:
    def __init__(self, errors: list[str]):
        self.errors = errors
        self.calls: list[dict[str, Any]] = []

    def send_task_success(self, **kwargs: Any) -> dict:
        self.calls.append(kwargs)
        if self.errors:
            raise client_error(self.errors.pop(0), "SendTaskSuccess")
        return {}

    def start_execution(self, **kwargs: Any) -> dict:
        self.calls.append(kwargs)
        if self.errors:
            raise client_error(self.errors.pop(0), "StartExecution")
        return {"executionArn": "arn"}


def test_throttled_send_task_success_raises_contention_and_a_closed_task_is_no_error():
    client = FakeStepFunctions(["ThrottlingException", "TaskTimedOut"])
    workflow = StepFunctionsWorkflow(client, "arn:aws:states:eu-west-1:1:stateMachine:m")
    with pytest.raises(Contention):
        workflow.resume("token", {"outcome": "NEXT"})
    assert workflow.resume("token", {"outcome": "NEXT"}) is False  # gone: already closed or timed out
    assert workflow.resume("token", {"outcome": "NEXT"}) is True
    assert json.loads(client.calls[-1]["output"]) == {"outcome": "NEXT"}


def test_throttled_start_execution_raises_contention():
    workflow = StepFunctionsWorkflow(
        FakeStepFunctions(["ThrottlingException"]), "arn:aws:states:eu-west-1:1:stateMachine:m"
    )
    with pytest.raises(Contention):
        workflow.start("t1", {})
    assert workflow.start("t1", {}) is True
