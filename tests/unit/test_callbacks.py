"""Callback rules: which changes call back, URL policy, signatures, retries; capture and dead letters on moto.

Delivery runs against in-memory fakes. Capture's idempotency and redelivery's dead-letter scan live in the
DynamoDB and SQS adapters, so those run against moto's DynamoDB and SQS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from failover import callbacks
from failover.callback_store import CallbackEventStore
from failover.callbacks import RETRY_SCHEDULE, CallbackService, Delivery, Queue, StreamChange
from failover.store import FlowStore
from failover.webhooks import secret_text, signing_key
from failover_local.moto_patches import MotoPatches
from tests.tables import create_keyed_table


@dataclass
class FakeQueue:
    sent: list[tuple[Delivery, int]] = field(default_factory=list)
    dead: list[Delivery] = field(default_factory=list)

    def put(self, delivery: Delivery, delay: int = 0) -> None:
        self.sent.append((delivery, delay))

    def dead_letter(self, delivery: Delivery) -> None:
        self.dead.append(delivery)


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
        flows=None,  # type: ignore[arg-type] - deliver never reads flows
        events=None,  # type: ignore[arg-type]
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


def test_a_delivered_callback_is_signed_on_the_standard_webhooks_spec():
    svc, queue, poster = service([True], Clock(time.time()))  # the library checks the timestamp against now
    assert svc.deliver(DELIVERY) == "delivered"
    (_, body, headers) = poster.calls[0]
    # The application's secret, derived as the README says, in the spec's whsec_ form; verified by the library.
    key = hmac.new(b"deployment-key", b"callback:bank-app", hashlib.sha256).digest()
    assert Webhook("whsec_" + base64.b64encode(key).decode()).verify(body, headers) == {"a": 1}
    assert headers["webhook-id"] == "e-1" and headers["X-Failover-Sequence"] == "3"
    ours = {"Content-Type", "X-Failover-Sequence", "X-Failover-Attempt"}  # the old signature headers are gone
    assert set(headers) == ours | {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert queue.sent == [] and queue.dead == []


def test_during_a_rotation_both_secrets_sign_and_afterwards_only_the_new_one():
    now = time.time()
    svc, _, poster = service([True, True], Clock(now))
    rotated = {"callbackSecretGeneration": 1, "callbackSecretPrevious": 0, "callbackSecretPreviousUntil": now + 60}
    svc.applications = {"bank-app": rotated}  # type: ignore[assignment] - the store's get, in memory
    old, new = (Webhook(secret_text(signing_key("deployment-key", "bank-app", g))) for g in (0, 1))
    svc.deliver(DELIVERY)
    (_, body, headers) = poster.calls[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert old.verify(body, headers) == new.verify(body, headers) == {"a": 1}

    rotated["callbackSecretPreviousUntil"] = now - 1  # the overlap is over
    svc.deliver(DELIVERY)
    (_, body, headers) = poster.calls[-1]
    assert new.verify(body, headers) == {"a": 1}
    with pytest.raises(WebhookVerificationError):
        old.verify(body, headers)


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
    assert {call[2]["webhook-id"] for call in poster.calls} == {"e-1"}
    assert [call[2]["X-Failover-Attempt"] for call in poster.calls] == ["1", "2", "3"]


def test_a_wait_longer_than_sqs_allows_is_chained_without_an_attempt():
    clock = Clock()
    svc, queue, poster = service([])
    waiting = Delivery(**{**DELIVERY.__dict__, "attempt": 8, "notBefore": clock.now + 7200})
    assert svc.deliver(waiting) == "waiting"
    assert queue.sent == [(waiting, callbacks.SQS_MAX_DELAY)] and poster.calls == []


def test_after_the_last_retry_the_delivery_is_dead_lettered():
    svc, queue, _ = service([False])
    last = Delivery(**{**DELIVERY.__dict__, "attempt": len(RETRY_SCHEDULE)})
    assert svc.deliver(last) == "dead"
    assert [d.attempt for d in queue.dead] == [len(RETRY_SCHEDULE) + 1]
    assert queue.sent == []


def test_the_schedule_is_scaled_and_never_shorter_than_a_second():
    svc, queue, _ = service([False], scale=0.0001)
    svc.deliver(DELIVERY)
    assert queue.sent[0][1] == 1


@pytest.mark.parametrize(
    ("strategy", "old", "new", "wanted"),
    [
        ("OnChange", None, {"sk": "#FLOW", "status": "Queued"}, True),
        ("OnCompletion", None, {"sk": "#FLOW", "status": "Queued"}, False),
        ("OnCompletion", {"sk": "#FLOW", "status": "Queued"}, {"sk": "#FLOW", "status": "InProgress"}, False),
        ("OnCompletion", {"sk": "#FLOW", "status": "InProgress"}, {"sk": "#FLOW", "status": "Succeeded"}, True),
        ("OnCompletion", {"sk": "#FLOW", "status": "Queued"}, {"sk": "#FLOW", "status": "Failed"}, True),
        ("OnCompletion", {"sk": "#FLOW", "status": "Failed"}, {"sk": "#FLOW", "status": "Failed", "x": 1}, False),
        (
            "OnCompletion",
            {"sk": "MSG#00", "status": {"name": "Sent"}},
            {"sk": "MSG#00", "status": {"name": "Delivered"}},
            False,
        ),
    ],
)
def test_which_changes_call_back(strategy, old, new, wanted):
    assert callbacks.wants_callback(strategy, callbacks.completes_flow(old, new)) is wanted


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


# --- capture: idempotent per stream record, sequence off the flow item (moto DynamoDB) --------------------------


FLOW_KEY = {"pk": "FLOW#t-9", "sk": "#FLOW"}
STEPS = [{"type": "Sms", "order": 1, "from": "MyBank", "to": "+306912345678", "message": {"body": "PIN"}}]


def flow_item(status: str, strategy: str = "OnChange") -> dict:
    return {
        **FLOW_KEY,
        "trackingId": "t-9",
        "applicationId": "bank-app",
        "status": status,
        "steps": json.dumps(STEPS),
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:01.000Z",
        "notify": True,
        "callback": {"url": "https://hooks.bank.example/cb", "strategy": strategy},
    }


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        yield create_keyed_table(dynamodb)


def capturing(table, queue: FakeQueue | None = None, events: CallbackEventStore | None = None):
    queue = queue or FakeQueue()
    svc = CallbackService(
        flows=FlowStore(table),
        events=events or CallbackEventStore(table),
        queue=queue,  # type: ignore[arg-type]
        poster=FakePoster([]),  # type: ignore[arg-type]
        deployment_key=lambda: "deployment-key",
    )
    return svc, queue


def test_capture_takes_the_event_id_from_the_record_and_queues_a_replayed_record_once(table):
    table.put_item(Item=flow_item("InProgress"))
    svc, queue = capturing(table)
    change = StreamChange("record-1", flow_item("Queued"), flow_item("InProgress"))
    first = svc.capture(change)
    assert first is not None and (first.eventId, first.sequence) == ("record-1", 1)
    assert svc.capture(change) is None  # the same record again: a retried or replayed batch
    assert [d.eventId for d, _ in queue.sent] == ["record-1"]
    second = svc.capture(StreamChange("record-2", flow_item("InProgress"), flow_item("Succeeded")))
    assert second is not None and second.sequence == 2


class CrashOnce(CallbackEventStore):
    """The capture dies once after it queued the delivery, before it could note that it did."""

    crashed = False

    def mark_queued(self, tracking_id: str, event_id: str) -> None:
        if not self.crashed:
            self.crashed = True
            raise TimeoutError("the function timed out")
        super().mark_queued(tracking_id, event_id)


def test_a_record_captured_again_after_a_crash_keeps_its_event_id_and_sequence(table):
    table.put_item(Item=flow_item("InProgress"))
    svc, queue = capturing(table, events=CrashOnce(table))
    change = StreamChange("record-7", flow_item("Queued"), flow_item("InProgress"))
    with pytest.raises(TimeoutError):
        svc.capture(change)
    assert svc.capture(change) is not None
    assert svc.capture(change) is None
    assert [(d.eventId, d.sequence) for d, _ in queue.sent] == [("record-7", 1), ("record-7", 1)]


def test_capture_never_writes_the_flow_item(table):
    """The sequence lives off the flow item, so capture never contends with a verdict's transaction."""
    table.put_item(Item=flow_item("InProgress"))
    before = table.get_item(Key=FLOW_KEY)["Item"]
    svc, _ = capturing(table)
    for n in range(3):
        svc.capture(StreamChange(f"record-{n}", flow_item("Queued"), flow_item("InProgress")))
    assert table.get_item(Key=FLOW_KEY)["Item"] == before


def test_on_completion_is_decided_from_the_records_images_once_per_flow(table):
    """Records processed after the flow ended (stream lag, batches) still describe earlier changes."""
    table.put_item(Item=flow_item("Succeeded", "OnCompletion"))  # what a re-read finds by now
    svc, queue = capturing(table)
    changes = [
        StreamChange("r1", None, flow_item("Queued", "OnCompletion")),
        StreamChange("r2", flow_item("Queued", "OnCompletion"), flow_item("InProgress", "OnCompletion")),
        StreamChange("r3", flow_item("InProgress", "OnCompletion"), flow_item("Succeeded", "OnCompletion")),
        StreamChange("r4", flow_item("Succeeded", "OnCompletion"), {**flow_item("Succeeded", "OnCompletion"), "x": 1}),
        StreamChange("r3", flow_item("InProgress", "OnCompletion"), flow_item("Succeeded", "OnCompletion")),
    ]
    for change in changes:
        svc.capture(change)
    assert [(d.eventId, d.sequence) for d, _ in queue.sent] == [("r3", 1)]
    assert json.loads(queue.sent[0][0].body)["status"] == "Succeeded"


def test_concurrent_captures_of_one_flow_number_their_events_without_gaps_or_repeats(table):
    """On moto made atomic per item, as DynamoDB is (plain moto checks a condition and writes in two steps)."""
    with MotoPatches():
        claim_concurrently(table)


def claim_concurrently(table):
    events = CallbackEventStore(table, sleep=lambda _: None)
    numbers: list[int] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        sequence = events.claim("t-9", f"record-{n}").sequence
        with lock:
            numbers.append(sequence)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(numbers) == list(range(1, 9))


# --- redelivery: the dead-letter queue on moto SQS ----------------------------------------------------------


@pytest.fixture
def sqs(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        client = boto3.client("sqs")
        yield (
            client,
            client.create_queue(QueueName="deliveries")["QueueUrl"],
            client.create_queue(QueueName="dead-letters")["QueueUrl"],
        )


def dead_letter(client, url: str, application_id: str, n: int) -> None:
    letter = Delivery(f"e-{application_id}-{n}", f"t-{n}", application_id, 1, "https://x.example/cb", "{}", 13)
    client.send_message(QueueUrl=url, MessageBody=letter.to_message())


def messages_in(client, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def redelivering(client, url: str, dead_url: str) -> CallbackService:
    return CallbackService(None, None, Queue(client, url, dead_url), FakePoster([]), lambda: "")  # type: ignore[arg-type]


def test_redelivery_drains_every_wanted_letter_and_leaves_the_others_visible(sqs):
    client, url, dead_url = sqs
    for n in range(30):
        dead_letter(client, dead_url, "bank-app" if n % 3 else "shop-app", n)  # 20 of bank-app, 10 of shop-app
    moved, complete = redelivering(client, url, dead_url).redeliver(application_id="bank-app")
    assert (moved, complete) == (20, True)
    assert messages_in(client, url) == 20
    again = [
        Delivery.from_message(m["Body"])
        for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert {d.applicationId for d in again} == {"bank-app"} and {d.attempt for d in again} == {0}
    visible = client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(visible["Attributes"]["ApproximateNumberOfMessages"]) == 10  # shop-app's, visible at once


class FailingSends:
    """The SQS client, except that re-queuing fails (a timeout, a throttle) after `ok` sends."""

    def __init__(self, client, ok: int = 0):
        self._client, self._ok = client, ok

    def __getattr__(self, name):
        return getattr(self._client, name)

    def send_message(self, **kwargs):
        if self._ok <= 0:
            raise ClientError({"Error": {"Code": "RequestThrottled", "Message": "slow down"}}, "SendMessage")
        self._ok -= 1
        return self._client.send_message(**kwargs)


def test_redelivery_requeues_before_it_deletes_so_a_failed_send_loses_nothing(sqs):
    client, url, dead_url = sqs
    for n in range(3):
        dead_letter(client, dead_url, "bank-app", n)
    flaky = CallbackService(None, None, Queue(FailingSends(client, ok=1), url, dead_url), FakePoster([]), lambda: "")  # type: ignore[arg-type]
    with pytest.raises(ClientError):
        flaky.redeliver()
    assert messages_in(client, url) == 1 and messages_in(client, dead_url) == 2  # nothing lost


class ShortPollingSamples:
    """SQS short polling asks a subset of its servers and may answer empty while the queue holds messages."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def receive_message(self, **kwargs):
        if not kwargs.get("WaitTimeSeconds"):
            return {"Messages": []}
        return self._client.receive_message(**kwargs)


def test_redelivery_uses_long_polling(sqs):
    client, url, dead_url = sqs
    dead_letter(client, dead_url, "bank-app", 1)
    service = redelivering(ShortPollingSamples(client), url, dead_url)
    assert service.redeliver() == (1, True)


def test_a_scan_that_runs_out_of_time_says_so_and_its_continuation_goes_on(sqs):
    client, url, dead_url = sqs
    for n in range(25):
        dead_letter(client, dead_url, "bank-app" if n >= 20 else "shop-app", n)  # shop-app's first in the queue
    queue = Queue(client, url, dead_url)
    ticks = iter(range(100))
    taken, complete = queue.take_dead_letters(
        lambda d: d.applicationId == "bank-app", lambda d: None, 2, lambda: next(ticks)
    )
    assert (taken, complete) == (0, False)  # two receives: 20 of shop-app's letters seen, then the time was up
    more, complete = queue.take_dead_letters(lambda d: d.applicationId == "bank-app", lambda d: None, 1e9)
    assert complete and taken + more == 5
    assert messages_in(client, dead_url) == 20
