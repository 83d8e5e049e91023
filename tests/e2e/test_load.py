"""The local stack under concurrent load, over HTTP (issue 14): every outcome right, no request lost.

Outcomes only, never timings: how fast is `make bench`'s business (bench/sustained.py).
"""

from __future__ import annotations

import itertools
import threading

import pytest
import requests

from failover_local.stack import LocalStack, bearer_session
from tests.harness import wait_for

TIME_SCALE = 0.01
TTL = 60  # minutes: 36 s here, so that a receipt the load delays (a busy 2-core machine) still beats its ttl
FLOWS, CLIENTS = 100, 8
# The recipient's last three digits → the flow's steps and its expected (status, statusCode) (docs/simulator.md).
PATHS = {
    "000": (("Viber",), ("Succeeded", None)),  # delivered
    "100": (("Viber", "Sms"), ("Succeeded", None)),  # Viber undelivered → SMS delivered
    "111": (("Viber", "Sms", "Voice"), ("Failed", "2")),  # every step fails
    "200": (("Viber", "Sms"), ("Succeeded", None)),  # Viber's ttl passes (no receipt) → SMS delivered
}
_serial = itertools.count(1)


def flow(digits: str) -> tuple[str, dict]:
    to = f"+3069{next(_serial):05d}{digits}"
    steps = []
    for order, channel in enumerate(PATHS[digits][0], start=1):
        # The expiry path's Viber ttl is its minimum, 0.5 min (0.3 s here), so that it expires at once.
        ttl = 0.5 if digits == "200" and channel == "Viber" else TTL
        step = {"type": channel, "order": order, "ttl": ttl}
        if channel == "Viber":
            step |= {"to": to, "senderInfoTrackingId": "bank", "message": {"text": "PIN 1234"}}
        elif channel == "Sms":
            step |= {"to": to, "from": "MyBank", "message": {"body": "PIN 1234"}}
        else:
            say = {"text": "1 2 3 4", "language": "en-US", "gender": "female"}
            step |= {
                "to": {"phone": to},
                "from": "302101234567",
                "dialPlan": {"verbs": [{"type": "SAY", "message": say}]},
            }
        steps.append(step)
    return to, {"flow": steps}


@pytest.fixture(scope="module")
def stack():
    stack = LocalStack(port=0, simulator_port=0, time_scale=TIME_SCALE).start()
    try:
        yield stack
    finally:
        stack.stop()


def test_a_concurrent_batch_ends_every_flow_as_its_numbers_say(stack):
    """100 flows from 8 clients at once, each with its own token; every POST answered 200 and every flow
    ends with the status (and statusCode) its recipient's digits fix."""
    application_id, secret = next(iter(stack.aws.applications.items()))
    paths = list(PATHS)
    started: list[tuple[str, str]] = []  # (trackingId, digits)
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        session = bearer_session(stack.url, application_id, secret)
        barrier.wait()
        try:
            for n in range(index, FLOWS, CLIENTS):
                digits = paths[n % len(paths)]
                _, body = flow(digits)
                response = session.post(f"{stack.url}/failover", json=body, timeout=60)
                with lock:
                    if response.status_code == 200:
                        started.append((response.json()["trackingId"], digits))
                    else:
                        failures.append(f"{response.status_code} {response.text[:200]}")
        finally:
            session.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(started) == FLOWS

    session = bearer_session(stack.url, application_id, secret)
    pending = dict(started)
    outcomes: dict[str, tuple] = {}

    def all_ended() -> bool:
        for tracking_id in list(pending):
            response = session.get(f"{stack.url}/failover/tracking/{tracking_id}", timeout=30)
            if response.status_code == 429:  # the application's rate limit (600 a minute): ask again later
                return False
            assert response.status_code == 200, response.text
            snapshot = response.json()
            if snapshot["status"] in ("Succeeded", "Failed"):
                outcomes[tracking_id] = (snapshot["status"], snapshot.get("statusCode"))
                del pending[tracking_id]
        return not pending

    wait_for(all_ended, timeout=180, interval=0.5, what="every flow of the batch to end")
    wrong = {t: (outcomes[t], PATHS[d][1]) for t, d in started if outcomes[t] != PATHS[d][1]}
    assert wrong == {}, f"{len(wrong)} flows ended wrong: (got, expected) {list(wrong.items())[:5]}"


def test_a_burst_of_identical_receipts_is_all_accepted(stack):
    """64 copies of one receipt posted at once, each on its own connection: every one answered 200 (none reset or
    refused), and the flow's outcome unchanged."""
    application_id, secret = next(iter(stack.aws.applications.items()))
    session = bearer_session(stack.url, application_id, secret)
    _, body = flow("000")
    tracking_id = session.post(f"{stack.url}/failover", json=body, timeout=30).json()["trackingId"]
    wait_for(
        lambda: session.get(f"{stack.url}/failover/tracking/{tracking_id}", timeout=10).json()["status"] == "Succeeded",
        timeout=30,
        what="the flow to succeed",
    )
    receipt = wait_for(  # the simulator records a delivery once its POST has been answered
        lambda: next((d for d in stack.simulator.deliveries if d.status == 200 and tracking_id in d.url), None),
        timeout=10,
        what="the flow's first receipt",
    )
    burst = 64
    barrier = threading.Barrier(burst)
    answers: list[int | str] = []
    lock = threading.Lock()

    def post() -> None:
        barrier.wait()
        try:
            status: int | str = requests.post(receipt.url, json=receipt.body, timeout=30).status_code
        except requests.RequestException as error:
            status = type(error).__name__
        with lock:
            answers.append(status)

    threads = [threading.Thread(target=post) for _ in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * burst
    assert session.get(f"{stack.url}/failover/tracking/{tracking_id}", timeout=10).json()["status"] == "Succeeded"
