"""IAM proven per function: the recording of a failover against the roles of the transformed template, and proof
that the check fails, naming function and action, when a role lacks one action its function uses."""

from __future__ import annotations

import copy
import os
import shutil

import pytest
from aws_lambda_powertools.utilities import parameters

from failover import providers
from failover.domain import Channel
from failover_local.iam_check import check, event_source_needs, roles, session_verdict
from failover_local.iam_recorder import (
    RECORDER,
    Call,
    IamRecorder,
    StackValues,
    acting_as,
    has_resource_level_permissions,
    iam_requests,
)
from failover_local.template import ROOT, TEMPLATE
from failover_local.transformed import transform
from tests.deploy.iam_allowances import KEPT_FOR_UNREACHABLE_PATHS
from tests.fakes.scripted_provider import Say
from tests.statemachine.test_flows import number, sms, viber


@pytest.fixture(scope="module")
def failover_calls(stack) -> tuple[list[Call], list[StackValues]]:
    """The calls one Viber → SMS failover made, with receipts, tracking and a token: this stack's only."""
    stack_index = len(RECORDER.stacks) - 1
    to = number()
    stack.provider.script(Channel.VIBER, to, Say("UNDELIVERED"))
    stack.provider.script(Channel.SMS, to, Say("Delivered"))
    snapshot = stack.finish({"flow": [viber(to), sms(to)]})
    assert snapshot["status"] == "Succeeded"
    calls = [call for call in RECORDER.calls if call.stack == stack_index]
    return calls, RECORDER.stacks


def test_a_failover_records_each_functions_calls_as_iam_requests(failover_calls):
    calls, _ = failover_calls
    used = {(c.principal, c.action) for c in calls}
    assert ("StatusIngestFunction", "dynamodb:Query") in used  # a message and its task item, in one Query
    assert ("StatusIngestFunction", "states:SendTaskSuccess") in used
    assert ("ApiFunction", "states:StartExecution") in used
    assert ("FailoverStateMachine", "lambda:InvokeFunction") in used
    assert ("OAuthTokenFunction", "secretsmanager:GetSecretValue") in used
    assert not has_resource_level_permissions("states:SendTaskSuccess")  # so its grant must name "*"


def test_the_roles_allow_every_call_of_a_failover(failover_calls):
    calls, stacks = failover_calls
    report = check(calls, stacks)
    assert report.denied == []
    assert report.unknown_actions == [] and report.unsupported == []


def _without(transformed: dict, principal: str, action: str) -> dict:
    """The transformed template with `action` taken out of every inline statement of `principal`'s role."""
    edited = copy.deepcopy(transformed)
    resource = edited["Resources"][principal]["Properties"]
    role = edited["Resources"][(resource.get("Role") or resource.get("RoleArn"))["Fn::GetAtt"][0]]["Properties"]
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != action] or ["none:Nothing"]
    return edited


def test_taking_any_used_action_out_of_its_role_fails_the_check_naming_function_and_action(failover_calls):
    calls, stacks = failover_calls
    transformed = transform()
    inline = {
        (principal, grant.action)
        for principal, grants in roles(transformed).items()
        for grant in grants
        if not grant.action.startswith(("logs:", "xray:", "sqs:ReceiveMessage", "dynamodb:DescribeStream"))
    }
    used = sorted({(c.principal, c.action) for c in calls} & inline)
    assert len(used) >= 10
    for principal, action in used:
        report = check(calls, stacks, transformed=_without(transformed, principal, action))
        assert any(p == principal and a == action for p, a, _ in report.denied), (principal, action)
        assert any(principal in line and action in line for line in report.lines()), report.lines()


def test_taking_query_out_of_template_yaml_fails_the_check(failover_calls, tmp_path):
    """A grant edited out of a copy of template.yaml (issue 12's kind of defect) and seen through the SAM
    transform: the Query that reads a message with its task item (issue 18)."""
    calls, stacks = failover_calls
    text = TEMPLATE.read_text()
    shutil.copytree(ROOT / "statemachine", tmp_path / "statemachine")
    edited = tmp_path / "template.yaml"
    edited.write_text(
        text.replace("dynamodb:GetItem, dynamodb:Query, dynamodb:UpdateItem]", "dynamodb:GetItem, dynamodb:UpdateItem]")
    )
    report = check(calls, stacks, template_path=edited)
    assert ("StatusIngestFunction", "dynamodb:Query") in {(p, a) for p, a, _ in report.denied}
    assert any(
        line.startswith("NOT ALLOWED: StatusIngestFunction calls dynamodb:Query on arn:aws:dynamodb:")
        for line in report.lines()
    )


def test_event_source_mappings_need_their_stream_and_queue_from_the_functions_role():
    needs = event_source_needs(transform())
    assert ("CallbackCaptureFunction", "dynamodb:GetRecords") in {(p, a) for p, a, _ in needs}
    assert ("CallbackDeliverFunction", "sqs:ReceiveMessage") in {(p, a) for p, a, _ in needs}
    without_managed = copy.deepcopy(transform())
    without_managed["Resources"]["CallbackDeliverFunctionRole"]["Properties"]["ManagedPolicyArns"] = []
    report = check([], [], transformed=without_managed)
    assert ("CallbackDeliverFunction", "sqs:ReceiveMessage") in {(p, a) for p, a, _ in report.denied}


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "TransactWriteItems",
            {"TransactItems": [{"ConditionCheck": {"TableName": "t"}}, {"Update": {"TableName": "t"}}]},
            [("dynamodb:ConditionCheckItem", "table/t"), ("dynamodb:UpdateItem", "table/t")],
        ),
        ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "t"}}]}, [("dynamodb:GetItem", "table/t")]),
        (
            "BatchGetItem",
            {"RequestItems": {"t": {}, "u": {}}},
            [("dynamodb:BatchGetItem", "table/t"), ("dynamodb:BatchGetItem", "table/u")],
        ),
        ("BatchWriteItem", {"RequestItems": {"t": []}}, [("dynamodb:BatchWriteItem", "table/t")]),
        (
            "Query",
            {"TableName": "t", "IndexName": "ByApplication"},
            [("dynamodb:Query", "table/t/index/ByApplication")],
        ),
    ],
)
def test_transactions_batches_and_indexes_expand_into_what_iam_authorizes(operation, params, expected):
    stack = StackValues({}, {}, "eu-west-1", "123456789012")
    requests = iam_requests("dynamodb", operation, params, "eu-west-1", stack)
    assert [(a, r.split(":", 5)[-1]) for a, r in requests] == expected


def test_each_function_sees_only_its_own_variables_and_its_own_caches(stack):
    """As in a Lambda sandbox: what template.yaml gives SendStep alone is not there for the API function, and a
    secret one function fetched is not served to another from a shared cache (its call would go unrecorded)."""
    assert "ROUTEE_CREDENTIALS_SECRET" in os.environ and "STATE_MACHINE_ARN" in os.environ
    with acting_as("SendStepFunction"):
        assert os.environ.get("ROUTEE_CREDENTIALS_SECRET")
        assert os.getenv("STATE_MACHINE_ARN") is None
        assert "STATE_MACHINE_ARN" not in dict(os.environ)
        send_step_secrets = parameters.base.DEFAULT_PROVIDERS["secrets"]._instance()
        send_step_provider = providers.get("scripted")
    with acting_as("ApiFunction"):
        assert os.environ.get("ROUTEE_CREDENTIALS_SECRET") is None
        assert os.environ["STATE_MACHINE_ARN"]
        assert parameters.base.DEFAULT_PROVIDERS["secrets"]._instance() is not send_step_secrets
    assert os.environ["TABLE_NAME"]  # Globals: everyone's
    assert send_step_provider is stack.provider  # the test's own fake, handed to each function that asks


def test_every_grant_kept_for_an_unreachable_path_is_a_grant_of_the_template():
    granted = {(principal, grant.action) for principal, grants in roles(transform()).items() for grant in grants}
    assert set(KEPT_FOR_UNREACHABLE_PATHS) <= granted


def test_a_call_no_role_allows_fails_the_session_naming_function_action_and_resource():
    """What tests/conftest.py does at the end of the suite, on a recording of its own."""
    table = "arn:aws:dynamodb:eu-west-1:123456789012:table/failover-local-FlowsTable"
    recorder = IamRecorder()
    recorder.stack_started(
        {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"},
        {("FlowsTable", "Arn"): table},
        "eu-west-1",
        "123456789012",
    )
    recorder.record("FailFlowFunction", "dynamodb:UpdateItem", table)
    assert session_verdict(recorder, {})[0] is False
    recorder.record("FailFlowFunction", "dynamodb:DeleteItem", table)
    failed, lines = session_verdict(recorder, {})
    assert failed
    assert lines[0].startswith("FAILED")
    assert f"NOT ALLOWED: FailFlowFunction calls dynamodb:DeleteItem on {table}, which its role does not allow" in lines
    assert session_verdict(IamRecorder(), {}) == (False, [])
