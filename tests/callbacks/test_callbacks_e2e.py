"""Customer callbacks through the local stack, over HTTP: counts per strategy, signatures, retries, dead letters.

The receiver is a loopback HTTP server that can be down, answer 500 or be slow. Signatures are checked here with
the standardwebhooks library, as a customer would, independently of the product's code.
"""

from __future__ import annotations

import itertools
import json
import time

import boto3
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from failover_local.aws import REGION
from failover_local.stack import LocalStack, bearer_session
from tests.harness import wait_for
from tests.receiver import Receiver as Endpoint

# Callback retries wait 30 s, 1 m, 2 m, ... x this scale, and never less than 1 s: 12 retries take ~13 s.
TIME_SCALE = 0.0001
_serial = itertools.count(1)


class Receiver(Endpoint):
    """A customer's endpoint on 127.0.0.1 (tests/receiver.py: pytest-httpserver), at /failover-callback."""

    @property
    def url(self) -> str:
        return f"{super().url}/failover-callback"

    @property
    def requests(self) -> list[tuple[dict[str, str], bytes]]:
        with self._lock:
            return [(hit.headers, hit.body) for hit in self.hits]

    def snapshots(self) -> list[tuple[dict[str, str], dict]]:
        return [(headers, json.loads(body)) for headers, body in self.requests]


@pytest.fixture(scope="module")
def local():
    stack = LocalStack(port=0, simulator_port=0, time_scale=TIME_SCALE).start()
    try:
        yield stack, bearer_session(stack.url, "local-app", "local-secret")
    finally:
        stack.stop()


@pytest.fixture
def receiver():
    receiver = Receiver().up()
    yield receiver
    receiver.down()


def send(local, url: str, strategy: str) -> str:
    stack, session = local
    to = f"+3069{next(_serial):05d}100"  # Viber UNDELIVERED, then SMS Delivered
    flow = [
        {"type": "Viber", "order": 1, "to": to, "senderInfoTrackingId": "bank", "message": {"text": "PIN 1234"}},
        {"type": "Sms", "order": 2, "from": "MyBank", "to": to, "message": {"body": "PIN 1234"}},
    ]
    response = session.post(
        f"{stack.url}/failover", json={"flow": flow, "callback": {"url": url, "strategy": strategy}}
    )
    assert response.status_code == 200, response.text
    return response.json()["trackingId"]


def all_snapshots_arrived(receiver: Receiver, tracking_id: str) -> bool:
    """The final snapshot, and every sequence number before it."""
    mine = [(int(h["x-failover-sequence"]), s) for h, s in receiver.snapshots() if s["trackingId"] == tracking_id]
    finals = [n for n, s in mine if s["status"] in ("Succeeded", "Failed")]
    return bool(finals) and {n for n, _ in mine} >= set(range(1, max(finals) + 1))


def final_snapshot_arrived(receiver: Receiver, tracking_id: str) -> bool:
    return any(s["trackingId"] == tracking_id and s["status"] == "Succeeded" for _, s in receiver.snapshots())


def verify_signature(local, headers: dict[str, str], body: bytes, application_id: str = "local-app") -> bool:
    """The receiver's side, as the README shows it: the standardwebhooks library and the secret the stack prints."""
    stack, _ = local
    try:
        Webhook(stack.aws.callback_secret(application_id)).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def test_on_change_sends_every_change_signed_and_in_sequence(local, receiver):
    stack, session = local
    tracking_id = send(local, receiver.url, "OnChange")
    wait_for(lambda: all_snapshots_arrived(receiver, tracking_id), timeout=30, what="every snapshot")
    tracked = session.get(f"{stack.url}/failover/tracking/{tracking_id}").json()
    snapshots = receiver.snapshots()
    # At least once: SQS may deliver a message twice. A duplicate repeats its event id and its sequence number.
    numbered = {(h["webhook-id"], int(h["x-failover-sequence"])) for h, _ in snapshots}
    assert len({event for event, _ in numbered}) == len(numbered)  # one number per event
    assert sorted(n for _, n in numbered) == list(range(1, len(numbered) + 1))  # each change once, none lost
    newest = max(snapshots, key=lambda hs: int(hs[0]["x-failover-sequence"]))[1]
    assert newest["status"] == "Succeeded" and newest == tracked  # the newest is the final snapshot
    seen = {s["status"] for _, s in snapshots} | {m["status"]["name"] for _, s in snapshots for m in s["messages"]}
    assert {"Queued", "InProgress", "Succeeded", "UNDELIVERED", "Delivered"} <= seen
    for headers, body in receiver.requests:
        assert verify_signature(local, headers, body)
        assert not verify_signature(local, headers, body, application_id="other-app")  # the check can fail
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60  # a receiver's replay window


def test_on_completion_sends_one_snapshot(local, receiver):
    stack, session = local
    tracking_id = send(local, receiver.url, "OnCompletion")
    wait_for(lambda: final_snapshot_arrived(receiver, tracking_id), timeout=30, what="the final snapshot")
    wait_for(lambda: session.get(f"{stack.url}/failover/tracking/{tracking_id}").json()["status"] == "Succeeded")
    # Every stream record processed, every delivery made: nothing else can still arrive.
    wait_for(stack.aws.settled, timeout=30, what="the stream and the queues to drain")
    assert [s["status"] for _, s in receiver.snapshots()] == ["Succeeded"]


def test_a_receiver_that_is_down_then_up_gets_every_snapshot_with_stable_event_ids(local):
    receiver = Receiver(default="hangup").up()  # every connection dropped without an answer, for now
    tracking_id = send(local, receiver.url, "OnChange")
    stack, session = local
    wait_for(lambda: session.get(f"{stack.url}/failover/tracking/{tracking_id}").json()["status"] == "Succeeded")

    def attempts_per_event() -> dict[str, set[int]]:
        seen: dict[str, set[int]] = {}
        for headers, snapshot in receiver.snapshots():
            if snapshot["trackingId"] == tracking_id:
                seen.setdefault(headers["webhook-id"], set()).add(int(headers["x-failover-attempt"]))
        return seen

    # Every snapshot (up to the final one) has failed twice: the receiver was down through two retry rounds.
    wait_for(
        lambda: (
            all_snapshots_arrived(receiver, tracking_id) and all(a >= {1, 2} for a in attempts_per_event().values())
        ),
        timeout=40,
        what="two failed attempts of every snapshot",
    )
    failed = len(receiver.requests)
    receiver.default = "ok"
    try:
        wait_for(
            lambda: all(max(a) >= 3 for a in attempts_per_event().values()), timeout=40, what="every snapshot again"
        )
        delivered = [(h, s) for h, s in receiver.snapshots()[failed:] if s["trackingId"] == tracking_id]
        sequences = sorted({int(h["x-failover-sequence"]) for h, _ in delivered})  # a duplicate repeats its number
        assert sequences == list(range(1, len(attempts_per_event()) + 1))  # each change once, none lost
        assert all(int(h["x-failover-attempt"]) >= 3 for h, _ in delivered)  # each was retried...
        assert {h["webhook-id"] for h, _ in delivered} == set(attempts_per_event())  # ...under its own id
    finally:
        receiver.down()


def test_500_and_slow_answers_are_retried_until_accepted(local):
    receiver = Receiver(answers=["500", "slow", "500"]).up()
    try:
        tracking_id = send(local, receiver.url, "OnCompletion")
        wait_for(lambda: len(receiver.requests) >= 4, timeout=30, what="three failures and a success")
        wait_for(lambda: final_snapshot_arrived(receiver, tracking_id), timeout=30)
        attempts = [int(h["x-failover-attempt"]) for h, _ in receiver.requests]
        assert attempts == [1, 2, 3, 4]
        assert len({h["webhook-id"] for h, _ in receiver.requests}) == 1
    finally:
        receiver.down()


def test_a_dead_endpoint_is_dead_lettered_then_redelivered(local):
    stack, session = local
    receiver = Receiver().up().down()
    tracking_id = send(local, receiver.url, "OnCompletion")
    sqs = boto3.client("sqs", region_name=REGION)
    dead_letters = stack.aws.environment["CALLBACK_DEAD_LETTER_URL"]

    def dead_lettered() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"]) >= 1

    wait_for(dead_lettered, timeout=40, interval=0.2, what="the dead letter after 12 retries")
    other = bearer_session(stack.url, "local-app", "local-secret")
    receiver.up()
    try:
        response = other.post(f"{stack.url}/callbacks/redeliver", params={"trackingId": tracking_id})
        assert response.status_code == 200 and response.json() == {"redelivered": 1, "complete": True}
        wait_for(lambda: final_snapshot_arrived(receiver, tracking_id), timeout=15, what="the redelivered snapshot")
        assert session.post(f"{stack.url}/callbacks/redeliver").json() == {"redelivered": 0, "complete": True}
    finally:
        receiver.down()


def test_a_private_callback_url_is_refused_at_request_time_outside_loopback(local):
    stack, session = local
    flow = [{"type": "Sms", "order": 1, "from": "MyBank", "to": "+306912345678", "message": {"body": "x"}}]
    for url in ("https://10.0.0.8/cb", "https://169.254.169.254/latest/meta-data", "ftp://127.0.0.1/cb"):
        response = session.post(f"{stack.url}/failover", json={"flow": flow, "callback": {"url": url}})
        assert response.status_code == 400, url
        assert "callback.url" in response.json()["properties"]
