"""Flows and callbacks through the local stack's fault mode (docs/faults.md), over HTTP, with the simulator.

One stack; its FaultPlan's rates are switched per test. First, with no fault, every scenario runs once: that is
the outcome each flow must have again under faults. Then, per fault class, the same scenarios run with faults
on, each with an OnChange and an OnCompletion callback, and once everything has settled (faults off again):
  - every flow ends exactly as it did without faults (status, statusCode, terminationChannel);
  - no callback is lost: each flow's events are numbered 1..N without a gap, every event its capture numbered
    was queued, and the stream mapping gave up no batch;
  - duplicates are recognisable: a repeated delivery carries the same event id and the same sequence number;
  - the highest sequence number carries the final snapshot; OnCompletion calls back exactly once;
  - the fault really happened (its injection count).
"""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from failover_local.aws import REGION
from failover_local.faults import FaultPlan
from failover_local.simulator import Delays
from failover_local.stack import LocalStack, bearer_session
from tests.harness import final_over_http, wait_for
from tests.receiver import Receiver as Endpoint

TIME_SCALE = 0.01
VIBER_TTL = 10  # minutes: 6 s at this scale (scenario 2xx waits for it)
TTL = 30  # minutes: 18 s, far longer than any receipt takes here, even on a busy machine
SCENARIOS = ("100", "111", "200")  # Viber, SMS, Voice outcomes (docs/simulator.md): failover, all fail, ttl expiry
FAULT_CLASSES = {
    "stream_replay": {"stream_replay": 0.3},
    "sqs_redeliver": {"sqs_redeliver": 0.3},
    "dynamodb_throttle": {"dynamodb_throttle": 0.05},
    "sfn_throttle": {"sfn_throttle": 0.2},
    "sfn_failure": {"sfn_failure": 0.2},
    "dynamodb_conflict": {"dynamodb_conflict": 0.1},
}
_serial = itertools.count(1)


class Receiver(Endpoint):
    """A customer's endpoint on 127.0.0.1 (tests/receiver.py) that accepts everything."""

    @property
    def url(self) -> str:
        return f"{super().url}/cb"

    def of(self, tracking_id: str) -> list[tuple[dict[str, str], dict]]:
        """(headers, snapshot) of every callback of one flow."""
        with self._lock:
            called = [(hit.headers, json.loads(hit.body)) for hit in self.hits]
        return [(headers, snapshot) for headers, snapshot in called if snapshot["trackingId"] == tracking_id]


@pytest.fixture(scope="module")
def faulty():
    plan = FaultPlan({}, seed=13)
    stack = LocalStack(
        port=0,
        simulator_port=0,
        time_scale=TIME_SCALE,
        simulator_options={"delays": Delays(first=40.0, between=10.0)},
        applications={"local-app": "local-secret"},
        faults=plan,
    ).start()
    receiver = Receiver()
    session = bearer_session(stack.url, "local-app", "local-secret")
    try:
        yield stack, session, receiver, plan
    finally:
        session.close()
        receiver.close()
        stack.stop()


def request(digits: str, url: str, strategy: str) -> dict:
    to = f"+3069{70000 + next(_serial):05d}{digits}"
    return {
        "flow": [
            {
                "type": "Viber",
                "order": 1,
                "to": to,
                "senderInfoTrackingId": "bank",
                "ttl": VIBER_TTL,
                "message": {"text": "PIN"},
            },
            {"type": "Sms", "order": 2, "from": "MyBank", "to": to, "ttl": TTL, "message": {"body": "PIN"}},
            {
                "type": "Voice",
                "order": 3,
                "from": "302101234567",
                "to": {"phone": to},
                "ttl": TTL,
                "dialPlan": {
                    "verbs": [{"type": "SAY", "message": {"text": "1 2 3 4", "language": "en-US", "gender": "female"}}]
                },
            },
        ],
        "callback": {"url": url, "strategy": strategy},
    }


def outcome(snapshot: dict) -> tuple:
    return snapshot["status"], snapshot.get("statusCode"), snapshot.get("terminationChannel")


def run_all(faulty, strategy: str) -> dict[str, str]:
    """Create every scenario's flow at once (they interleave); return trackingId → digits."""
    stack, session, receiver, _ = faulty
    created: dict[str, str] = {}
    for digits in SCENARIOS:
        response = session.post(f"{stack.url}/failover", json=request(digits, receiver.url, strategy), timeout=30)
        assert response.status_code == 200, response.text
        created[response.json()["trackingId"]] = digits
    return created


def final(faulty, tracking_id: str) -> dict:
    stack, session, _, _ = faulty
    return final_over_http(session, stack.url, tracking_id)


@pytest.fixture(scope="module")
def baseline(faulty) -> dict[str, tuple]:
    """Each scenario's outcome without faults."""
    created = run_all(faulty, "OnChange")
    return {digits: outcome(final(faulty, tracking_id)) for tracking_id, digits in created.items()}


def settle(faulty) -> None:
    stack, _, _, plan = faulty
    plan.rates.clear()  # what follows is the check, not the run
    wait_for(stack.aws.settled, timeout=60, interval=0.1, what="the stream and the queues to drain")


def captured_events(tracking_id: str) -> list[dict]:
    table = boto3.resource("dynamodb", region_name=REGION).Table("failover-local-FlowsTable")
    items = table.query(KeyConditionExpression=Key("pk").eq(f"CALLBACKS#{tracking_id}"))["Items"]
    return [item for item in items if item["sk"].startswith("EVENT#")]


def assert_callbacks_complete(faulty, tracking_id: str, tracked: dict) -> int:
    """Every event delivered, numbered 1..N, duplicates recognisable; returns how many deliveries were repeats."""
    _, _, receiver, _ = faulty
    deliveries = receiver.of(tracking_id)
    sequence_of: dict[str, set[int]] = defaultdict(set)
    for headers, _ in deliveries:
        sequence_of[headers["webhook-id"]].add(int(headers["x-failover-sequence"]))
    assert all(len(numbers) == 1 for numbers in sequence_of.values()), "a repeated event changed its number"
    numbers = sorted(next(iter(n)) for n in sequence_of.values())
    assert numbers == list(range(1, len(numbers) + 1)), f"a gap: {numbers}"
    events = captured_events(tracking_id)
    assert len(events) == len(numbers) and all(event["queued"] for event in events), "an event was never queued"
    newest = max(deliveries, key=lambda d: int(d[0]["x-failover-sequence"]))[1]
    assert outcome(newest) == outcome(tracked)
    return len(deliveries) - len(sequence_of)


@pytest.mark.parametrize("fault_class", list(FAULT_CLASSES))
def test_flows_and_callbacks_survive(faulty, baseline, fault_class):
    stack, _, receiver, plan = faulty
    before = dict(plan.injected)
    rates = FAULT_CLASSES[fault_class]
    # A seed whose first draw is a hit: the first call of the class meets its fault, later ones at the rate. Only
    # this class draws, so which of its calls meet the fault does not depend on how threads interleave.
    plan.reseed(next(seed for seed in itertools.count() if random.Random(seed).random() < min(rates.values())))  # noqa: S311
    plan.rates.update(rates)
    on_change = run_all(faulty, "OnChange")
    on_completion = run_all(faulty, "OnCompletion")
    finals = {tracking_id: final(faulty, tracking_id) for tracking_id in [*on_change, *on_completion]}
    settle(faulty)

    for tracking_id, digits in {**on_change, **on_completion}.items():
        assert outcome(finals[tracking_id]) == baseline[digits], f"scenario {digits} under {fault_class}"
    repeats = sum(assert_callbacks_complete(faulty, t, finals[t]) for t in on_change)
    for tracking_id in on_completion:
        deliveries = receiver.of(tracking_id)
        assert len({h["webhook-id"] for h, _ in deliveries}) == 1, "OnCompletion called back twice"
        assert outcome(deliveries[0][1]) == outcome(finals[tracking_id])
    assert all(not m.failed_batches for m in stack.aws.stream_mappings), "the stream mapping gave up records"
    injected = {kind: count - before.get(kind, 0) for kind, count in plan.injected.items()}
    assert all(injected.get(kind, 0) > 0 for kind in FAULT_CLASSES[fault_class]), injected
    if fault_class == "sqs_redeliver":
        assert repeats > 0  # the receiver did see redeliveries, and recognised them
