"""Does each role of the transformed template allow what its function was recorded doing? (failover_local.iam_recorder)

Roles are read from the template as CloudFormation sees it (failover_local.transformed): SAM policy templates are
inline statements there, and AWS managed policies are resolved from managed_policies.json. Besides the recorded
calls, each event source mapping's documented needs are checked against its function's role.

Evaluation is IAM's, for identity policies without conditions: an explicit Deny wins, else some Allow must match the
action and the resource (wildcards * and ?). A statement this check cannot evaluate (NotAction, NotResource,
Condition) is reported, not guessed at.

Dev-only (never shipped in a Lambda artifact).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from failover_local.iam_recorder import (
    Call,
    IamRecorder,
    StackValues,
    action_exists,
    has_resource_level_permissions,
)
from failover_local.template import TEMPLATE, Resolver
from failover_local.transformed import transform

MANAGED_POLICIES = Path(__file__).with_name("managed_policies.json")
RUNTIME_PREFIXES = ("logs:", "xray:")  # used by the Lambda service and the X-Ray SDK, not by our code

# What a Lambda event source mapping does with its function's role (Lambda Developer Guide):
# DynamoDB streams https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-eventsourcemapping.html
# SQS https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
# on-failure destinations https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
_STREAM_NEEDS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams")
_QUEUE_NEEDS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


@dataclass(frozen=True)
class Grant:
    principal: str
    action: str  # as written, may hold wildcards
    resource: Any  # unresolved (intrinsics)
    effect: str = "Allow"


@dataclass
class Report:
    denied: list[tuple[str, str, str]] = field(default_factory=list)  # (principal, action, resource)
    unexercised: list[tuple[str, str, str]] = field(default_factory=list)  # (principal, action, resource)
    unknown_actions: list[tuple[str, str]] = field(default_factory=list)  # (principal, action): not in the catalogue
    unsupported: list[str] = field(default_factory=list)
    exercised: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def failed(self) -> bool:
        return bool(self.denied or self.unknown_actions or self.unsupported)

    def lines(self, kept: dict[tuple[str, str], str] | None = None) -> list[str]:
        kept = kept or {}
        out = [f"NOT ALLOWED: {p} calls {a} on {r}, which its role does not allow" for p, a, r in self.denied]
        out += [f"UNKNOWN ACTION: {p}'s role grants {a}, which IAM does not define" for p, a in self.unknown_actions]
        out += [f"CANNOT EVALUATE: {u}" for u in self.unsupported]
        for principal, action, resource in self.unexercised:
            why = kept.get((principal, action))
            if action.startswith(RUNTIME_PREFIXES):
                continue
            if why:
                out.append(f"kept, not reachable in tests: {principal} {action} on {resource} ({why})")
            else:
                out.append(f"UNEXERCISED (least privilege: remove?): {principal} {action} on {resource}")
        return out


def roles(transformed: dict[str, Any]) -> dict[str, list[Grant]]:
    """Principal (the function's or state machine's logical id) → its role's grants."""
    resources = transformed["Resources"]
    managed = _managed_policies()
    found: dict[str, list[Grant]] = {}
    unsupported: list[str] = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties") or {}
        role_ref = {
            "AWS::Lambda::Function": properties.get("Role"),
            "AWS::StepFunctions::StateMachine": properties.get("RoleArn"),
        }.get(resource["Type"])
        if not isinstance(role_ref, dict) or "Fn::GetAtt" not in role_ref:
            continue
        role = resources[role_ref["Fn::GetAtt"][0]]["Properties"]
        statements: list[dict[str, Any]] = []
        for policy in role.get("Policies") or []:
            statements.extend(_listify(policy["PolicyDocument"]["Statement"]))
        for arn in role.get("ManagedPolicyArns") or []:
            if arn not in managed:
                unsupported.append(f"{logical_id}: managed policy {arn} is not in {MANAGED_POLICIES.name}")
                continue
            statements.extend(managed[arn]["Statement"])
        grants = []
        for statement in statements:
            if {"NotAction", "NotResource", "Condition"} & statement.keys():
                unsupported.append(f"{logical_id}: a statement with NotAction/NotResource/Condition: {statement}")
                continue
            for action in _listify(statement["Action"]):
                for target in _listify(statement["Resource"]):
                    grants.append(Grant(logical_id, action, target, statement.get("Effect", "Allow")))
        found[logical_id] = grants
    if unsupported:
        found["__unsupported__"] = [Grant("", u, "") for u in unsupported]
    return found


def event_source_needs(transformed: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(principal, action, unresolved resource) that each event source mapping needs from its function's role."""
    needs: list[tuple[str, str, Any]] = []
    for resource in transformed["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource["Properties"]
        principal = properties["FunctionName"]["Ref"]
        source = properties["EventSourceArn"]
        attribute = source.get("Fn::GetAtt", [None, None])[1] if isinstance(source, dict) else None
        actions = _STREAM_NEEDS if attribute == "StreamArn" else _QUEUE_NEEDS
        needs += [(principal, a, source if has_resource_level_permissions(a) else "*") for a in actions]
        destination = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if destination is not None:
            needs.append((principal, _destination_action(transformed, destination), destination))
    return needs


def _destination_action(transformed: dict[str, Any], destination: Any) -> str:
    target = destination.get("Fn::GetAtt", [None])[0] if isinstance(destination, dict) else None
    kind = transformed["Resources"].get(target, {}).get("Type", "")
    return {"AWS::SQS::Queue": "sqs:SendMessage", "AWS::SNS::Topic": "sns:Publish"}.get(kind, "s3:PutObject")


def check(
    calls: Iterable[Call], stacks: list[StackValues], template_path: Path = TEMPLATE, transformed: Any = None
) -> Report:
    transformed = transformed or transform(template_path)
    by_principal = roles(transformed)
    report = Report(unsupported=[g.action for g in by_principal.pop("__unsupported__", [])])
    resolvers = [Resolver(dict(s.refs), dict(s.attributes)) for s in stacks]
    symbolic = _SymbolicResolver()

    def resolved(grants: list[Grant], resolver: Resolver) -> list[tuple[Grant, list[str]]]:
        return [(g, [str(r) for r in _listify(resolver.resolve(g.resource))]) for g in grants]

    per_stack: dict[tuple[str, int], list[tuple[Grant, list[str]]]] = {}
    for call in sorted(set(calls), key=lambda c: (c.principal, c.action, c.resource)):
        key = (call.principal, call.stack)
        if key not in per_stack:
            per_stack[key] = resolved(by_principal.get(call.principal, []), resolvers[call.stack])
        # An action without resource-level permissions is authorized against "*", whatever the request names.
        resource = call.resource if has_resource_level_permissions(call.action) else "*"
        _evaluate(report, call.principal, call.action, resource, per_stack[key])

    for principal, action, target in event_source_needs(transformed):
        resource = "*" if target == "*" else str(symbolic.resolve(target))
        _evaluate(report, principal, action, resource, resolved(by_principal.get(principal, []), symbolic))

    for principal, grants in sorted(by_principal.items()):
        for grant in grants:
            if "*" not in grant.action and "?" not in grant.action and not action_exists(grant.action):
                report.unknown_actions.append((principal, grant.action))
            described = json.dumps(grant.resource) if not isinstance(grant.resource, str) else grant.resource
            if (principal, grant.action, described) not in report.exercised and grant.effect == "Allow":
                report.unexercised.append((principal, grant.action, described))
    report.denied = sorted(set(report.denied))
    return report


def session_verdict(
    recorder: IamRecorder, kept: dict[tuple[str, str], str], template_path: Path = TEMPLATE
) -> tuple[bool, list[str]]:
    """What the end of a test session reports: (the suite fails, the lines to print)."""
    if not recorder.calls:
        return False, []
    report = check(recorder.calls, recorder.stacks, template_path)
    headline = ["FAILED: a function's role does not allow what its code does in AWS (see NOT ALLOWED)"]
    return report.failed, (headline if report.failed else []) + report.lines(kept)


def _evaluate(report: Report, principal: str, action: str, resource: str, grants: list[tuple[Grant, list[str]]]):
    matched = [
        (grant, pattern)
        for grant, patterns in grants
        for pattern in patterns
        if _matches(grant.action, action, case=False) and _matches(pattern, resource, case=True)
    ]
    if not matched or any(grant.effect == "Deny" for grant, _ in matched):
        report.denied.append((principal, action, resource))
        return
    for grant, _ in matched:
        described = json.dumps(grant.resource) if not isinstance(grant.resource, str) else grant.resource
        report.exercised.add((principal, grant.action, described))


@cache
def _pattern(pattern: str, case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", 0 if case else re.IGNORECASE)


def _matches(pattern: str, value: str, case: bool) -> bool:
    """IAM's wildcards: * any run of characters, ? one. Action names ignore case; ARNs do not."""
    if value == "*":
        return pattern == "*"  # an action without resource-level permissions needs Resource "*"
    return bool(_pattern(pattern, case).match(value))


class _SymbolicResolver(Resolver):
    """Resolves every Ref and GetAtt to a stable placeholder: both sides of a comparison get the same text."""

    def __init__(self) -> None:
        super().__init__(refs={})

    def _ref(self, name: str) -> Any:
        return {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}.get(
            name, f"<{name}>"
        )

    def _attribute(self, resource: str, attribute: str) -> Any:
        return f"<{resource}.{attribute}>"


@cache
def _managed_policies() -> dict[str, Any]:
    return {k: v for k, v in json.loads(MANAGED_POLICIES.read_text()).items() if not k.startswith("_")}


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
