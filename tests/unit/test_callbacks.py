"""Callback rules with in-memory fakes: which changes call back, URL policy, signatures, retries, dead letters."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

import pytest

from failover import callbacks
from failover.callbacks import RETRY_SCHEDULE, CallbackService, Delivery


@dataclass
class FakeQueue:
    sent: list[tuple[Delivery, int]] = field(default_factory=list)
    dead: list[Delivery] = field(default_factory=list)

    def put(self, delivery: Delivery, delay: int = 0) -> None:
        self.sent.append((delivery, delay))

    def dead_letter(self, delivery: Delivery) -> None:
        self.dead.append(delivery)

    def take_dead_letters(self, wanted, limit: int = 1000) -> list[Delivery]:
        taken = [d for d in self.dead if wanted(d)]
        self.dead = [d for d in self.dead if not wanted(d)]
        return taken


@dataclass
class FakePoster:
    answers: list[bool]
    calls: list[tuple[str, bytes, dict]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
        self.calls.append((url, body, headers))
        ok = self.answers.pop(0) if self.answers else True
        return ok, "HTTP 200" if ok else "HTTP 500"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def service(answers: list[bool], clock: Clock | None = None, scale: float = 1.0):
    queue, poster = FakeQueue(), FakePoster(list(answers))
    svc = CallbackService(
        flows=None,  # type: ignore[arg-type] - deliver and redeliver never read flows
        queue=queue,  # type: ignore[arg-type]
        poster=poster,  # type: ignore[arg-type]
        deployment_key=lambda: "deployment-key",
        time_scale=scale,
        allow_loopback=True,
        clock=clock or Clock(),
    )
    return svc, queue, poster


DELIVERY = Delivery(
    eventId="e-1", trackingId="t-1", applicationId="bank-app", sequence=3, url="http://127.0.0.1:9/cb", body='{"a":1}'
)


def test_a_delivered_callback_is_signed_over_timestamp_and_body():
    svc, queue, poster = service([True])
    assert svc.deliver(DELIVERY) == "delivered"
    (_, body, headers) = poster.calls[0]
    secret = hmac.new(b"deployment-key", b"callback:bank-app", hashlib.sha256).hexdigest()
    expected = hmac.new(secret.encode(), headers["X-Failover-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Failover-Signature"] == f"v1={expected.hexdigest()}"
    assert headers["X-Failover-Event-Id"] == "e-1" and headers["X-Failover-Sequence"] == "3"
    assert queue.sent == [] and queue.dead == []


def test_a_failure_is_retried_on_routees_schedule_with_the_same_event_id():
    clock = Clock()
    svc, queue, poster = service([False] * 3, clock)
    delivery = DELIVERY
    for attempt in range(1, 4):
        assert svc.deliver(delivery) == "retrying"
        delivery, delay = queue.sent[-1]
        assert (delivery.attempt, delay) == (attempt, RETRY_SCHEDULE[attempt - 1])
        assert delivery.notBefore == clock.now + RETRY_SCHEDULE[attempt - 1]
        clock.now = delivery.notBefore
    assert {call[2]["X-Failover-Event-Id"] for call in poster.calls} == {"e-1"}
    assert [call[2]["X-Failover-Attempt"] for call in poster.calls] == ["1", "2", "3"]


def test_a_wait_longer_than_sqs_allows_is_chained_without_an_attempt():
    clock = Clock()
    svc, queue, poster = service([])
    waiting = Delivery(**{**DELIVERY.__dict__, "attempt": 8, "notBefore": clock.now + 7200})
    assert svc.deliver(waiting) == "waiting"
    assert queue.sent == [(waiting, callbacks.SQS_MAX_DELAY)] and poster.calls == []


def test_after_the_last_retry_the_delivery_is_dead_lettered_and_redelivery_starts_afresh():
    svc, queue, _ = service([False])
    last = Delivery(**{**DELIVERY.__dict__, "attempt": len(RETRY_SCHEDULE)})
    assert svc.deliver(last) == "dead"
    assert [d.attempt for d in queue.dead] == [len(RETRY_SCHEDULE) + 1]
    assert svc.redeliver(application_id="other-app") == 0
    assert svc.redeliver(application_id="bank-app") == 1
    ((again, delay),) = queue.sent
    assert (again.eventId, again.attempt, again.notBefore, delay) == ("e-1", 0, 0.0, 0)


def test_the_schedule_is_scaled_and_never_shorter_than_a_second():
    svc, queue, _ = service([False], scale=0.0001)
    svc.deliver(DELIVERY)
    assert queue.sent[0][1] == 1


@pytest.mark.parametrize(
    ("strategy", "flow_changed", "status", "wanted"),
    [
        ("OnChange", False, "InProgress", True),
        ("OnChange", True, "Queued", True),
        ("OnCompletion", False, "Succeeded", False),  # a message change after the end
        ("OnCompletion", True, "InProgress", False),
        ("OnCompletion", True, "Succeeded", True),
        ("OnCompletion", True, "Failed", True),
    ],
)
def test_which_changes_call_back(strategy, flow_changed, status, wanted):
    assert callbacks.wants_callback(strategy, flow_changed, status) is wanted


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        (None, {"sk": "#FLOW", "status": "Queued"}, (True, False)),
        (
            {"sk": "#FLOW", "status": "Queued"},
            {"sk": "#FLOW", "status": "Queued", "callbackSequence": 1},
            (False, False),
        ),
        (
            {"sk": "MSG#00", "status": {"name": "Sent"}},
            {"sk": "MSG#00", "status": {"name": "Delivered"}},
            (False, True),
        ),
        ({"sk": "MSG#00"}, {"sk": "MSG#00", "taskToken": "t"}, (False, False)),
        (None, {"sk": "00", "pk": "APP"}, (False, False)),
    ],
)
def test_status_changes(old, new, changes):
    assert callbacks.status_changes(old, new) == changes


def fixed(*addresses: str):
    return lambda host: list(addresses)


@pytest.mark.parametrize(
    ("url", "addresses", "loopback_ok", "problem"),
    [
        ("https://hooks.bank.example/cb", ["93.184.215.14"], False, None),
        ("http://hooks.bank.example/cb", ["93.184.215.14"], False, "must be an https URL"),
        ("https://10.0.0.5/cb", ["10.0.0.5"], False, "private"),
        ("https://internal.example/cb", ["192.168.1.4"], False, "private"),
        ("https://127.0.0.1/cb", ["127.0.0.1"], False, "loopback"),
        ("http://127.0.0.1:8080/cb", ["127.0.0.1"], True, None),
        ("http://localhost:8080/cb", ["127.0.0.1", "::1"], True, None),
        ("https://169.254.169.254/latest", ["169.254.169.254"], True, "metadata"),
        ("https://[fd00:ec2::254]/", ["fd00:ec2::254"], False, "metadata"),
        ("https://rebinding.example/cb", ["93.184.215.14", "10.1.2.3"], False, "private"),
        ("https://nowhere.example/cb", [], False, "does not resolve"),
    ],
)
def test_callback_url_policy(url, addresses, loopback_ok, problem):
    found = callbacks.url_problem(url, loopback_ok, resolve=fixed(*addresses))
    assert (found is None) if problem is None else (problem in (found or ""))


def test_a_refused_url_is_never_posted_to_and_is_retried_like_a_failure():
    svc, queue, poster = service([])
    svc.allow_loopback = False
    assert svc.deliver(DELIVERY) == "retrying"  # http://127.0.0.1 outside the local stack
    assert poster.calls == []


def test_a_delivery_survives_the_queue_as_json():
    assert Delivery.from_message(DELIVERY.to_message()) == DELIVERY
    assert json.loads(DELIVERY.to_message())["body"] == '{"a":1}'
