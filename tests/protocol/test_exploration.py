"""The receipt protocol explored: Hypothesis interleaves every writer of one flow, call by call, crashes any of
them after any one of its writes, throttles DynamoDB and Step Functions, and then retries all work to
completion and checks the invariants of issue 13 (tests/protocol/model.py: World.complete, World.check).

`make test` runs a fixed number of examples with a fixed seed; FAILOVER_EXPLORE_EXAMPLES=2000 explores longer.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from failover import domain
from failover.domain import Channel, Verdict
from failover.service import FailoverService
from failover.signing import token_digest
from tests.protocol.model import SEND_OUTCOMES, World

EXAMPLES = int(os.environ.get("FAILOVER_EXPLORE_EXAMPLES", "150"))
EXPLORATION = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    derandomize=True,  # the same interleavings on every run: a failure reproduces
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)

# The calls a writer can be killed before (tests/fakes/memory.py names them).
CALLS = (
    "get_flow",
    "get_message",
    "claim",
    "update_flow",
    "claim_send",
    "record_accepted",
    "record_status",
    "record_part",
    "resolve",
    "SendTaskSuccess",
    "mark_resumed",
    "StopExecution",
)
RARELY = st.sampled_from([False] * 7 + [True])  # flows that end early rarely get far
channels = st.lists(st.sampled_from(list(Channel)), min_size=1, max_size=3)


def receipt_for(channel: Channel) -> st.SearchStrategy[tuple[str, int | None]]:
    statuses = st.sampled_from(sorted(domain.STATUSES[channel]))
    parts = st.sampled_from([None, None, 1, 2]) if channel is Channel.SMS else st.none()
    return st.tuples(statuses, parts)


class Protocol(RuleBasedStateMachine):
    service_class: type[FailoverService] = FailoverService
    receipt_crashes: tuple[str | None, ...] = (None, *CALLS)  # where a receipt's writer may die
    send_outcomes: tuple[str, ...] = SEND_OUTCOMES  # what the provider answers each send

    world: World

    @initialize(data=st.data(), chain=channels)
    def start_flow(self, data, chain):
        outcomes = data.draw(st.lists(st.sampled_from(self.send_outcomes), min_size=len(chain), max_size=len(chain)))
        self.world = World(chain, outcomes, self.service_class)

    @precondition(lambda self: self.world.sends)
    @rule(data=st.data())
    def receipt(self, data):
        """A receipt for a step the provider got (perhaps before its answer to the send arrived)."""
        index = data.draw(st.sampled_from(sorted(self.world.sends, reverse=True)))  # the latest first
        status, part = data.draw(receipt_for(self.world.channels[index]))
        copies = data.draw(st.sampled_from([1, 1, 2]))  # a duplicate, racing the first
        for _ in range(copies):
            self.world.receipt(index, status, part, crash_before=data.draw(st.sampled_from(self.receipt_crashes)))

    @precondition(lambda self: self.world.scheduler.live)
    @rule(data=st.data(), steps=st.integers(1, 24))
    def advance(self, data, steps):
        """Run one writer for a few of its calls: the others wait between two of theirs."""
        writer = self.pick(data)
        for _ in range(steps):
            if writer.finished:
                break
            self.world.scheduler.advance(writer)

    @precondition(lambda self: self.world.scheduler.live)
    @rule(data=st.data(), before=st.sampled_from(CALLS))
    def arm_crash(self, data, before):
        """The writer dies when it is next about to make `before`, after its previous write."""
        self.pick(data).crash_before = before

    def pick(self, data):
        live = self.world.scheduler.live
        return live[data.draw(st.integers(0, len(live) - 1), label="writer")]

    @precondition(lambda self: self.world.open_task() is not None)
    @rule(happens=RARELY)
    def ttl_passes(self, happens):
        if happens:
            self.world.expire()

    @precondition(lambda self: self.world.open_task() is not None)
    @rule(happens=RARELY)
    def workflow_error(self, happens):
        if happens:
            self.world.fail_flow()

    @rule(happens=RARELY)
    def cancel(self, happens):
        if happens:
            self.world.cancel()

    @rule(calls=st.integers(0, 3))
    def throttle(self, calls):
        """The next few calls to DynamoDB or Step Functions are throttled (retried with backoff)."""
        self.world.throttles += calls

    @invariant()
    def nothing_wrong_so_far(self):
        if hasattr(self, "world"):
            assert not self.world.violations, self.world.violations

    def teardown(self):
        if not hasattr(self, "world"):
            return
        try:
            self.world.complete()
            self.world.check()
        finally:
            self.world.stop()


@pytest.mark.timeout(max(120, EXAMPLES // 5))
def test_the_protocol_keeps_its_invariants_under_any_interleaving():
    run_state_machine_as_test(Protocol, settings=EXPLORATION)


class ClaimBeforeResume(FailoverService):
    """The protocol before issue 13: resumedToken was written before SendTaskSuccess."""

    def _advance(self, flow, index):
        tracking_id = flow["trackingId"]
        message = self._store.get_message(tracking_id, index) or {}
        if "verdict" not in message:
            verdict = self._judge(flow, index, message)
            if verdict is None:
                return None
            self._store.resolve(tracking_id, index, verdict, self._now())
            message = self._store.get_message(tracking_id, index) or {}
            if "verdict" not in message:
                return verdict
        verdict = Verdict.model_validate(message["verdict"])
        token = message.get("taskToken")
        if token and message.get("resumedToken") != token_digest(token):
            # the claim first: a crash here stalls the task
            self._store.mark_resumed(tracking_id, index, token_digest(token))
            self._workflow.resume(token, verdict.model_dump(mode="json", exclude_none=True))
        return verdict


class BrokenProtocol(Protocol):
    service_class = ClaimBeforeResume
    # Steer the fault (every receipt's writer dies before SendTaskSuccess, then is retried); the exploration
    # still has to find an interleaving in which that receipt is the one that resolves and resumes the step.
    receipt_crashes = ("SendTaskSuccess",)
    send_outcomes = ("accepted",)  # and every send gets through, so that each step waits for its receipts


def test_the_exploration_finds_a_resume_claimed_before_it_is_made():
    """A check must be able to fail: the old claim-then-resume order stalls a task when its writer dies between."""
    with pytest.raises(AssertionError, match="stall"):
        run_state_machine_as_test(BrokenProtocol, settings=settings(EXPLORATION, phases=[Phase.generate]))
