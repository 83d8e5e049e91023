"""Static checks of statemachine/failover.asl.json and its wiring in template.yaml."""

from __future__ import annotations

import json
import re

from failover_local.template import ROOT, load_template, resources_of

ASL_PATH = ROOT / "statemachine" / "failover.asl.json"


def definition() -> dict:
    return json.loads(ASL_PATH.read_text())


def targets(state: dict) -> set[str]:
    found = {state[k] for k in ("Next", "Default") if k in state}
    found |= {c["Next"] for c in state.get("Catch", [])}
    found |= {c["Next"] for c in state.get("Choices", [])}
    return found


def test_every_transition_target_exists():
    states = definition()["States"]
    for name, state in states.items():
        missing = targets(state) - set(states)
        assert not missing, f"{name} goes to unknown states {missing}"


def test_every_state_is_reachable_from_the_start():
    asl = definition()
    seen, todo = set(), [asl["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(targets(asl["States"][name]))
    assert seen == set(asl["States"])


def test_every_non_terminal_state_has_a_way_out_and_every_task_catches_errors():
    for name, state in definition()["States"].items():
        if state["Type"] in ("Succeed", "Fail"):
            continue
        assert targets(state) or state.get("End"), name
        if state["Type"] == "Task" and name != "FailFlow":
            assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), f"{name} lets errors escape"


def test_durations_are_data():
    states = definition()["States"]
    assert states["Schedule"]["SecondsPath"] == "$.waitSeconds"
    assert states["SendStep"]["TimeoutSecondsPath"] == "$.step.timeoutSeconds"
    assert not any("Seconds" in state or "TimeoutSeconds" in state for state in states.values())


def test_substitutions_match_the_template_and_every_arn_is_substituted():
    machine = next(iter(resources_of(load_template(), "AWS::Serverless::StateMachine").values()))["Properties"]
    used = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    assert used == set(machine["DefinitionSubstitutions"])
    assert "arn:aws:lambda" not in ASL_PATH.read_text()


def test_every_function_and_route_of_the_template_is_served_locally(stack):
    template = load_template()
    functions = resources_of(template, "AWS::Serverless::Function")
    assert set(stack.aws.functions) == set(functions)
    assert all(f.handler is not None for f in stack.aws.functions.values())
    declared = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"], logical_id)
        for logical_id, function in functions.items()
        for event in (function["Properties"].get("Events") or {}).values()
        if event["Type"] == "Api"
    }
    assert {(r.method, r.path, r.function) for r in stack.aws.routes} == declared
    for method, path, _ in declared:
        concrete = re.sub(r"\{\w+\}", "x", path)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {stack.token()}"}
        status, _, _ = stack.aws.handle_http(method, concrete, headers, b"{}")
        assert status != 403, f"{method} {path} is not served"


def test_tasks_retry_a_transient_refusal_instead_of_failing_the_flow():
    """The name Step Functions sees is the exception's class name (the Lambda runtime's errorType)."""
    from failover.ports import Contention

    for name in ("SendStep", "ExpireStep"):
        retried = {error for retrier in definition()["States"][name]["Retry"] for error in retrier["ErrorEquals"]}
        assert {Contention.__name__, "Lambda.Unknown"} <= retried, name
        assert "States.Timeout" not in retried and "States.ALL" not in retried  # the ttl is not an error to retry
