"""POST /failover and GET /failover/tracking/{id} through the API Gateway emulation and the real api handler."""

from __future__ import annotations

import json

import boto3
import pytest
from boto3.dynamodb.conditions import Attr

from failover_local.aws import REGION

VALID_SMS = {"type": "Sms", "order": 1, "from": "Brand", "to": "+306912345678", "message": {"body": "PIN 1234"}}


def counts(stack) -> tuple[int, int]:
    """(executions, flow items): bad input must change neither. Rate-limit counters do count every request."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    executions = sfn.list_executions(stateMachineArn=stack.aws.state_machine_arn)["executions"]
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.aws.table_name)
    return len(executions), table.scan(Select="COUNT", FilterExpression=Attr("sk").eq("#FLOW"))["Count"]


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b'{"flow": [', {}, {"body": "is not valid JSON"}),
        ({"flow": [{"type": "Fax", "order": 1}]}, {}, {"flow[0].type": "must be one of Viber, Sms, Voice"}),
        ({"flow": []}, {}, {"flow": "List should have at least 1 item after validation, not 0"}),
        ({}, {}, {"flow": "Field required"}),
        ({"flow": [VALID_SMS] * 11}, {}, {"flow": "List should have at most 10 items after validation, not 11"}),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(stack, body, headers, expected):
    before = counts(stack)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {stack.token()}", **headers}
    status, _, payload = stack.aws.handle_http("POST", "/failover", headers, raw)
    error = json.loads(payload)
    assert status == 400
    assert error["code"] == "400000000"
    assert error["properties"] == expected
    assert all(field in error["developerMessage"] for field in expected)
    assert counts(stack) == before


def test_every_bad_field_is_named_at_once(stack):
    before = counts(stack)
    status, error = stack.request(
        "POST",
        "/failover",
        {
            "flow": [
                {"type": "Sms", "order": 1, "from": "Brand!", "to": "+3069", "message": {"body": ""}, "ttl": 0},
                {
                    "type": "Viber",
                    "order": 2,
                    "to": "306912345678",
                    "senderInfoTrackingId": "x",
                    "message": {"text": "a", "imageUrl": "http://insecure"},
                    "failoverOnStatuses": ["Delivered", "bogus", "expired"],
                },
                {
                    "type": "Voice",
                    "order": 3,
                    "from": "30210",
                    "to": {"phone": "+306912345678"},
                    "dialPlan": {"verbs": [{"type": "SAY", "message": {"text": "x", "language": "xx", "gender": "x"}}]},
                },
            ],
            "callback": {"url": "ftp://x", "strategy": "Sometimes"},
            "scheduledDate": "2026-13-01T00:00:00Z",
            "unexpected": 1,
        },
    )
    assert status == 400
    assert set(error["properties"]) == {
        "flow[0].to",
        "flow[0].from",
        "flow[0].ttl",
        "flow[0].message.body",
        "flow[1].to",
        "flow[1].failoverOnStatuses",
        "flow[1].message.imageUrl",
        "flow[2].from",
        "flow[2].dialPlan.verbs[0].message.language",
        "flow[2].dialPlan.verbs[0].message.gender",
        "callback.url",
        "callback.strategy",
        "scheduledDate",
        "unexpected",
    }
    assert "'Delivered', 'bogus'" in error["properties"]["flow[1].failoverOnStatuses"]
    assert counts(stack) == before


def test_a_valid_request_answers_with_the_flow_echoed_and_starts_one_execution_named_after_it(stack):
    executions_before, _ = counts(stack)
    status, snapshot = stack.request("POST", "/failover", {"flow": [VALID_SMS]})
    assert status == 200
    assert set(snapshot) == {"trackingId", "flow", "status", "createdAt"}  # Routee's echo, plus our two
    assert snapshot["status"] == "Queued"
    assert snapshot["createdAt"].endswith("Z")
    (step,) = snapshot["flow"]
    assert step == {
        **VALID_SMS,
        "ttl": 1200,
        "failoverOnStatuses": ["Undelivered", "Failed", "Network Error"],
        "message": {**VALID_SMS["message"], "flash": False},
    }
    assert counts(stack)[0] == executions_before + 1
    assert stack.execution(snapshot["trackingId"])["name"] == snapshot["trackingId"]


def test_a_flow_can_never_be_started_twice(stack):
    from failover.workflow import StepFunctionsWorkflow

    snapshot = stack.create({"flow": [VALID_SMS]})
    workflow = StepFunctionsWorkflow(boto3.client("stepfunctions", region_name=REGION), stack.aws.state_machine_arn)
    repeat = {"trackingId": snapshot["trackingId"], "waitSeconds": 0, "step": {"index": 0, "timeoutSeconds": 1}}
    assert workflow.start(snapshot["trackingId"], repeat) is False


def test_tracking_an_unknown_flow_is_a_404(stack):
    status, error = stack.request("GET", "/failover/tracking/0b8e9a5c-0000-4000-8000-000000000000")
    assert status == 404
    assert error["code"] == "404000000"


def test_tracking_returns_the_routee_snapshot(stack):
    created = stack.create({"flow": [VALID_SMS], "callback": {"url": "https://93.184.215.14/cb"}})
    snapshot = stack.track(created["trackingId"])
    assert {"trackingId", "status", "terminationChannel", "totalPrice", "createdAt", "updatedAt", "messages"} <= set(
        snapshot
    )
    assert snapshot["statusCode"] is None  # Routee shows the key, null unless Failed


def test_a_body_that_is_not_utf8_is_a_400(stack):
    """Found by schemathesis: API Gateway base64-encodes such a body, and decoding it used to raise (502)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {stack.token()}"}
    before = counts(stack)
    status, _, payload = stack.aws.handle_http("POST", "/failover", headers, b"\x89PNG\r\n")
    assert status == 400
    assert json.loads(payload)["properties"] == {"body": "is not valid JSON (not UTF-8)"}
    assert counts(stack) == before
