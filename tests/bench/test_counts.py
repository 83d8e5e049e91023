"""`make bench-check`: the state transitions and Lambda invocations of the benchmark's three paths stay within the
issue's targets. Counts only, no timing: each path runs once in the local stack, which is deterministic."""

from __future__ import annotations

import pytest

from bench.flows import PATHS, Driver, FlowCounts, start_stack, target_invocations, target_transitions

REFUSED_SENDS: list[int] = []  # the simulator's 503s to Viber sends during the measured paths


@pytest.fixture(scope="module")
def counts() -> dict[str, FlowCounts]:
    stack = start_stack()
    driver = Driver(stack)
    try:
        measured = {path.key: driver.measure(path) for path in PATHS}
        REFUSED_SENDS.append(stack.simulator.count("POST", "/viber", status=503))
        yield measured
    finally:
        driver.close()
        stack.stop()


@pytest.mark.parametrize("path", PATHS, ids=[p.key for p in PATHS])
def test_the_flow_ends_as_the_path_says(counts, path):
    assert counts[path.key].outcome == path.outcome


@pytest.mark.parametrize("path", PATHS, ids=[p.key for p in PATHS])
def test_state_transitions_within_target(counts, path):
    flow = counts[path.key]
    assert flow.transitions <= target_transitions(path.steps), flow.states


@pytest.mark.parametrize("path", PATHS, ids=[p.key for p in PATHS])
def test_lambda_invocations_within_target_not_counting_receipts(counts, path):
    flow = counts[path.key]
    assert flow.flow_invocations <= target_invocations(path.steps), flow.invocations


def test_receipts_are_counted_apart(counts):
    """Every path gets receipts; they reach status_ingest through API Gateway, one invocation each."""
    for flow in counts.values():
        assert flow.receipts > 0
        assert flow.receipt_invocations == flow.invocations.get("StatusIngestFunction", 0)
        assert flow.aws["units"].get("wru", 0) > 0, "the DynamoDB meter saw no writes"


def test_an_outage_retried_inside_the_send_costs_no_transition(counts):
    """Retrying inside SendStepFunction (not a Retry on the Task, not re-entering SendStep) is not billed as a
    state transition: the outage path enters exactly the states of the plain path."""
    assert REFUSED_SENDS == [1], "the outage path met no outage"
    assert counts["viber_outage"].states == counts["viber"].states
    assert counts["viber_outage"].transitions == counts["viber"].transitions
