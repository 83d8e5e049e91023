"""A resume is never lost: the record of it is written only after Step Functions answered.

Against the real DynamoDB adapter (moto). Before issue 13 the service wrote resumedToken first, so a failed or
throttled SendTaskSuccess (or a function that died in between) left the task waiting until its ttl.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failover import providers
from failover.domain import FailoverRequest
from failover.providers import Accepted, OutboundMessage, Receipt
from failover.retries import Backoff
from failover.service import FailoverService
from failover.signing import CallbackSigner, step_id, token_digest
from failover.store import FlowStore
from failover.workflow import StepFunctionsWorkflow
from tests.protocol.aws import client_error

SIGNER = CallbackSigner(lambda: "secret")


class Provider:
    name = "resume-test"

    def send(self, message: OutboundMessage) -> Accepted:
        return Accepted(provider_message_id="m1")

    def parse_receipt(self, channel, body: bytes) -> Receipt:
        return Receipt(status=json.loads(body)["status"])


class StepFunctions:
    """send_task_success answers with the queued errors first; a task completes once, as in AWS."""

    def __init__(self, errors: list[str | Exception]):
        self.errors = errors
        self.completed: list[str] = []

    def start_execution(self, **kwargs: Any) -> dict:
        return {}

    def send_task_success(self, taskToken: str, output: str) -> dict:
        if self.errors:
            error = self.errors.pop(0)
            raise error if isinstance(error, Exception) else client_error(error, "SendTaskSuccess")
        if taskToken in self.completed:
            raise client_error("TaskTimedOut", "SendTaskSuccess")
        self.completed.append(taskToken)
        return {}


@pytest.fixture(autouse=True)
def provider():
    providers.register(Provider.name, Provider)
    yield


def service_with(table, step_functions) -> FailoverService:
    return FailoverService(
        store=FlowStore(table),
        workflow=StepFunctionsWorkflow(step_functions, "arn:aws:states:eu-west-1:1:stateMachine:m"),
        signer=SIGNER,
        public_api_url="https://api.example",
        provider_name=Provider.name,
        backoff=Backoff(sleep=lambda seconds: None),
    )


def started(service: FailoverService) -> str:
    request = FailoverRequest.model_validate(
        {"flow": [{"type": "Sms", "order": 1, "from": "Bank", "to": "+306900000001", "message": {"body": "PIN"}}]}
    )
    tracking_id = service.create_flow(request, "app")["trackingId"]
    service.send_step(tracking_id, 0, "token-1")
    return tracking_id


def receipt(service: FailoverService, tracking_id: str, status: str = "Delivered") -> None:
    service.ingest_receipt(Provider.name, SIGNER.sign(step_id(tracking_id, 0)), json.dumps({"status": status}).encode())


def test_a_resume_that_failed_is_made_again_by_the_next_writer(table):
    step_functions = StepFunctions([RuntimeError("the function died before SendTaskSuccess answered")])
    service = service_with(table, step_functions)
    tracking_id = started(service)
    with pytest.raises(RuntimeError):
        receipt(service, tracking_id)
    assert step_functions.completed == []
    receipt(service, tracking_id)  # the provider retries the receipt (or any later receipt arrives)
    assert step_functions.completed == ["token-1"]


def test_a_throttled_resume_is_retried_within_the_call(table):
    step_functions = StepFunctions(["ThrottlingException", "ThrottlingException"])
    service = service_with(table, step_functions)
    tracking_id = started(service)
    receipt(service, tracking_id)
    assert step_functions.completed == ["token-1"]


def test_a_task_that_is_gone_counts_as_resumed(table):
    step_functions = StepFunctions(["TaskTimedOut"])
    service = service_with(table, step_functions)
    tracking_id = started(service)
    receipt(service, tracking_id)
    assert FlowStore(table).get_message(tracking_id, 0)["resumedToken"] == token_digest("token-1")
    receipt(service, tracking_id)  # a duplicate: nothing left to resume
    assert step_functions.completed == []


def test_an_error_other_than_gone_or_throttled_is_not_swallowed(table):
    step_functions = StepFunctions(["AccessDeniedException"])
    service = service_with(table, step_functions)
    tracking_id = started(service)
    with pytest.raises(ClientError):
        receipt(service, tracking_id)
    assert "resumedToken" not in FlowStore(table).get_message(tracking_id, 0)
