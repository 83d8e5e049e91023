"""events/ holds a sample event per function (for `sam local invoke`); each must be one its function accepts."""

from __future__ import annotations

import json

import pytest

from failover.domain import FailoverRequest
from failover.tasks import FailFlowTask, InvalidTask, SendStepTask, StepTask
from failover_local.apigateway import match_route
from failover_local.aws import LocalAws
from failover_local.template import ROOT, load_template, resources_of

EVENTS = ROOT / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "model"),
    [("send_step.json", SendStepTask), ("expire_step.json", StepTask), ("fail_flow.json", FailFlowTask)],
)
def test_task_events_parse_as_their_functions_payload(name, model):
    assert model.of(load(name))


@pytest.mark.parametrize(
    ("model", "event"),
    [
        (StepTask, {"trackingId": "", "index": 0}),
        (StepTask, {"trackingId": "t", "index": -1}),
        (StepTask, {"trackingId": "t", "index": True}),
        (StepTask, {"trackingId": "t", "index": "0"}),
        (SendStepTask, {"trackingId": "t", "index": 0}),
        (FailFlowTask, {"error": None}),
        (FailFlowTask, {"trackingId": "t", "error": "boom"}),
        (StepTask, ["t", 0]),
    ],
)
def test_task_payloads_the_state_machine_does_not_produce_are_refused(model, event):
    with pytest.raises(InvalidTask):
        model.of(event)


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("api_create_flow.json", "ApiFunction"),
        ("api_track_flow.json", "ApiFunction"),
        ("status_ingest_receipt.json", "StatusIngestFunction"),
        ("oauth_token.json", "OAuthTokenFunction"),
    ],
)
def test_api_events_match_a_route_of_their_function(name, function):
    event = load(name)
    functions = resources_of(load_template(), "AWS::Serverless::Function")
    routes = [r for logical_id, f in functions.items() for r in LocalAws.routes_of(logical_id, f["Properties"])]
    found = match_route(routes, event["httpMethod"], event["path"])
    assert found is not None and found[0].function == function
    assert found[1] == (event["pathParameters"] or {})


def test_the_sample_flow_is_a_valid_request():
    assert FailoverRequest.model_validate_json(load("api_create_flow.json")["body"])


def test_every_function_has_a_sample_event():
    functions = resources_of(load_template(), "AWS::Serverless::Function")
    prefixes = {"ApiFunction": "api_", "SendStepFunction": "send_step", "StatusIngestFunction": "status_ingest"}
    prefixes |= {"ExpireStepFunction": "expire_step", "FailFlowFunction": "fail_flow"}
    prefixes |= {"OAuthTokenFunction": "oauth_token", "AuthorizerFunction": "authorizer"}
    prefixes |= {"CallbackCaptureFunction": "callback_capture", "CallbackDeliverFunction": "callback_deliver"}
    assert set(prefixes) == set(functions)
    for prefix in prefixes.values():
        assert list(EVENTS.glob(f"{prefix}*.json")), prefix


def test_the_authorizer_event_is_a_token_event():
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerTokenEvent,
    )

    event = APIGatewayAuthorizerTokenEvent(load("authorizer.json"))
    assert event.authorization_token.startswith("Bearer ")
    assert event.parsed_arn.api_id and event.parsed_arn.stage


def test_the_stream_event_shows_a_message_status_change():
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent

    from failover.callbacks import status_changes

    record = next(DynamoDBStreamEvent(load("callback_capture.json")).records)
    assert status_changes(record.dynamodb.old_image, record.dynamodb.new_image) == (False, True)


def test_the_queue_event_carries_a_delivery():
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent

    from failover.callbacks import Delivery

    record = next(SQSEvent(load("callback_deliver.json")).records)
    assert Delivery.from_message(record.body).sequence == 3
