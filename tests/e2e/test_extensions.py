"""Beyond Routee, end to end over HTTP against the local stack and its simulator (docs/extensions.md).

Idempotency-Key, cancel, search, expireOnDelivery and the late-delivery audit. The recipient's last three
digits choose the simulator's Viber, SMS and Voice outcomes (docs/simulator.md).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import boto3
import pytest

import failover.service
from failover_local.aws import REGION
from failover_local.simulator import Delays
from failover_local.stack import LocalStack, bearer_session
from tests.harness import final_over_http, wait_for

TIME_SCALE = 0.01
TTL = 5  # minutes: 3 s at this scale
LONG_TTL = 1440  # minutes: 864 s at this scale, far longer than any test
SIMULATOR = {"delays": Delays(first=40.0, between=10.0)}  # receipts 0.4 s after a send, 0.1 s apart

_serial = itertools.count(1)


def recipient(viber: int = 0, sms: int = 0, voice: int = 0) -> str:
    return f"+3069{80000 + next(_serial):05d}{viber}{sms}{voice}"


def viber(to: str, order: int = 1, ttl: float = TTL, **extra) -> dict:
    return {
        "type": "Viber",
        "order": order,
        "to": to,
        "senderInfoTrackingId": "bank",
        "ttl": ttl,
        "message": {"text": "Your PIN is 1234"},
        **extra,
    }


def sms(to: str, order: int = 2, ttl: int = TTL) -> dict:
    return {"type": "Sms", "order": order, "from": "MyBank", "to": to, "ttl": ttl, "message": {"body": "PIN 1234"}}


APPLICATIONS = {"local-app": "local-secret", "other-app": "other-secret"}  # as FAILOVER_LOCAL_APPS gives `make run`


@pytest.fixture(scope="module")
def api():
    stack = LocalStack(
        port=0, simulator_port=0, time_scale=TIME_SCALE, simulator_options=SIMULATOR, applications=APPLICATIONS
    ).start()
    session = bearer_session(stack.url, "local-app", "local-secret")
    other = bearer_session(stack.url, "other-app", "other-secret")
    try:
        yield stack, session, other
    finally:
        session.close()
        other.close()
        stack.stop()


def create(api, request: dict, **headers) -> dict:
    stack, session, _ = api
    response = session.post(f"{stack.url}/failover", json=request, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def track(api, tracking_id: str) -> dict:
    stack, session, _ = api
    response = session.get(f"{stack.url}/failover/tracking/{tracking_id}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def final(api, tracking_id: str, timeout: float = 30.0) -> dict:
    stack, session, _ = api
    return final_over_http(session, stack.url, tracking_id, timeout)


def search(api, body: dict, session=None, query: str = ""):
    stack, own, _ = api
    return (session or own).post(f"{stack.url}/failover/tracking{query}", json=body, timeout=10)


def execution_status(stack: LocalStack, tracking_id: str) -> str:
    arn = stack.aws.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{tracking_id}"
    return boto3.client("stepfunctions", region_name=REGION).describe_execution(executionArn=arn)["status"]


def wide_range() -> dict:
    now = datetime.now(UTC)
    return {"dateStart": (now - timedelta(hours=1)).isoformat(), "dateEnd": (now + timedelta(hours=1)).isoformat()}


# --- Idempotency-Key ---------------------------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_answer_and_creates_no_second_flow(api):
    stack, session, _ = api
    to = recipient(viber=0)
    request = {"flow": [viber(to)]}
    first = create(api, request, **{"Idempotency-Key": "order-1"})
    again = create(api, request, **{"Idempotency-Key": "order-1"})
    assert again == first
    found = search(api, {**wide_range(), "to": to}).json()
    assert found["totalElements"] == 1
    assert len(stack.simulator.messages(to=to)) <= 1
    final(api, first["trackingId"])
    assert len(stack.simulator.messages(to=to)) == 1


def test_same_key_with_another_body_is_a_422(api):
    _, session, _ = api
    stack = api[0]
    create(api, {"flow": [viber(recipient())]}, **{"Idempotency-Key": "order-2"})
    response = session.post(
        f"{stack.url}/failover",
        json={"flow": [viber(recipient())]},
        headers={"Idempotency-Key": "order-2"},
        timeout=10,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "422000000"


def test_keys_are_scoped_per_application(api):
    stack, _, other = api
    to = recipient()
    request = {"flow": [viber(to)]}
    mine = create(api, request, **{"Idempotency-Key": "shared-key"})
    response = other.post(f"{stack.url}/failover", json=request, headers={"Idempotency-Key": "shared-key"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["trackingId"] != mine["trackingId"]


def test_without_the_header_every_request_creates_a_flow(api):
    request = {"flow": [viber(recipient())]}
    assert create(api, request)["trackingId"] != create(api, request)["trackingId"]


# --- cancel ------------------------------------------------------------------------------------------------


def test_cancel_during_a_long_ttl_stops_the_flow_and_sends_no_later_step(api):
    stack, session, other = api
    to = recipient(viber=2, sms=0)  # Viber: nothing final, ever
    tracking_id = create(api, {"flow": [viber(to, ttl=LONG_TTL), sms(to)]})["trackingId"]
    wait_for(lambda: track(api, tracking_id)["messages"], 10, what="the Viber step to be sent")

    assert session.post(f"{stack.url}/failover/{tracking_id}/cancel", timeout=10).status_code == 200
    wait_for(lambda: execution_status(stack, tracking_id) != "RUNNING", 10, what="the execution to stop")
    snapshot = track(api, tracking_id)
    assert (snapshot["status"], snapshot["statusCode"]) == ("Failed", "4")
    assert [m["type"] for m in snapshot["messages"]] == ["Viber"]
    assert stack.simulator.messages(channel="Sms", to=to) == []

    again = session.post(f"{stack.url}/failover/{tracking_id}/cancel", timeout=10)
    assert (again.status_code, again.json()["code"]) == (409, "409000000")


def test_receipts_of_the_current_step_are_still_recorded_after_cancel(api):
    stack, session, _ = api
    to = recipient(viber=7, sms=0)  # Viber DELIVERED, but only after its ttl
    tracking_id = create(api, {"flow": [viber(to), sms(to)]})["trackingId"]
    wait_for(lambda: track(api, tracking_id)["messages"], 10, what="the Viber step to be sent")
    assert session.post(f"{stack.url}/failover/{tracking_id}/cancel", timeout=10).status_code == 200

    snapshot = wait_for(
        lambda: (s := track(api, tracking_id))["messages"][0]["status"]["name"] == "DELIVERED" and s,
        20,
        what="the Viber receipt",
    )
    assert (snapshot["status"], snapshot["statusCode"], snapshot["terminationChannel"]) == ("Failed", "4", None)
    assert len(snapshot["messages"]) == 1
    assert stack.simulator.messages(channel="Sms", to=to) == []


def test_cancel_of_an_unknown_or_another_applications_flow_is_a_404(api):
    stack, session, other = api
    tracking_id = create(api, {"flow": [viber(recipient(viber=2), ttl=LONG_TTL)]})["trackingId"]
    assert other.post(f"{stack.url}/failover/{tracking_id}/cancel", timeout=10).status_code == 404
    assert session.post(f"{stack.url}/failover/no-such-flow/cancel", timeout=10).status_code == 404
    assert track(api, tracking_id)["status"] in ("Queued", "InProgress")
    assert session.post(f"{stack.url}/failover/{tracking_id}/cancel", timeout=10).status_code == 200


def test_cancel_of_a_finished_flow_is_a_409(api):
    stack, session, _ = api
    tracking_id = create(api, {"flow": [viber(recipient(viber=0))]})["trackingId"]
    assert final(api, tracking_id)["status"] == "Succeeded"
    response = session.post(f"{stack.url}/failover/{tracking_id}/cancel", timeout=10)
    assert response.status_code == 409
    assert track(api, tracking_id)["status"] == "Succeeded"


# --- search ------------------------------------------------------------------------------------------------


def test_search_spans_pages_newest_first_and_only_the_callers_flows(api):
    _, _, other = api
    to = recipient(viber=2)
    created = [create(api, {"flow": [viber(to, ttl=LONG_TTL)]})["trackingId"] for _ in range(5)]
    pages = []
    for number in range(3):
        response = search(api, {**wide_range(), "to": to, "page": number, "size": 2})
        assert response.status_code == 200, response.text
        pages.append(response.json())
    assert [len(p["content"]) for p in pages] == [2, 2, 1]
    assert all((p["totalElements"], p["totalPages"], p["size"]) == (5, 3, 2) for p in pages)
    assert [(p["number"], p["first"], p["last"]) for p in pages] == [
        (0, True, False),
        (1, False, False),
        (2, False, True),
    ]
    found = [flow["trackingId"] for p in pages for flow in p["content"]]
    assert found == list(reversed(created))  # newest first
    stamps = [flow["createdAt"] for p in pages for flow in p["content"]]
    assert stamps == sorted(stamps, reverse=True)
    assert all(flow["messages"] is not None for p in pages for flow in p["content"])

    assert search(api, {**wide_range(), "to": to}, session=other).json()["totalElements"] == 0
    # Routee's paging in the query string
    assert [
        f["trackingId"] for f in search(api, {**wide_range(), "to": to}, query="?page=1&size=4").json()["content"]
    ] == [created[0]]


def test_search_filters_on_status_and_time(api):
    to = recipient(viber=0)
    tracking_id = create(api, {"flow": [viber(to)]})["trackingId"]
    final(api, tracking_id)
    by_status = search(api, {**wide_range(), "to": to, "status": "Succeeded"}).json()
    assert [f["trackingId"] for f in by_status["content"]] == [tracking_id]
    assert search(api, {**wide_range(), "to": to, "status": "Failed"}).json()["totalElements"] == 0
    past = {"dateStart": "2020-01-01T00:00:00Z", "dateEnd": "2020-12-31T23:59:59Z", "to": to}
    assert search(api, past).json() == {
        "content": [],
        "totalPages": 0,
        "totalElements": 0,
        "number": 0,
        "size": 10,  # Routee's default page size
        "numberOfElements": 0,
        "first": True,
        "last": True,
    }


def test_search_with_bad_input_is_a_routee_400(api):
    response = search(api, {**wide_range(), "size": 0, "status": "Done"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "400000000"
    assert set(body["properties"]) == {"size", "status"}
    reversed_range = search(api, {"dateStart": "2030-01-01T00:00:00Z", "dateEnd": "2020-01-01T00:00:00Z"})
    assert reversed_range.status_code == 400
    assert reversed_range.json()["properties"] == {"body": "dateStart must not be after dateEnd"}


# --- expireOnDelivery --------------------------------------------------------------------------------------


def test_expire_on_delivery_with_seen_succeeds_on_viber(api):
    to = recipient(viber=0, sms=0)  # DELIVERED, then SEEN
    snapshot = final(api, create(api, {"flow": [viber(to, expireOnDelivery=True), sms(to)]})["trackingId"])
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Viber")
    assert [m["status"]["name"] for m in snapshot["messages"]] == ["SEEN"]
    assert snapshot["messages"][0]["expiredOnDeliveryAt"] is None


def test_expire_on_delivery_without_seen_expires_and_fails_over(api):
    to = recipient(viber=4, sms=0)  # DELIVERED, never SEEN
    snapshot = final(api, create(api, {"flow": [viber(to, expireOnDelivery=True), sms(to)]})["trackingId"])
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")
    first, second = snapshot["messages"]
    assert first["status"]["name"] == "EXPIRED"
    assert first["expireOnDelivery"] is True
    assert first["expiredOnDeliveryAt"] is not None
    assert second["status"]["name"] == "Delivered"
    assert snapshot["deliveredOnMultipleChannels"] is False


def test_without_expire_on_delivery_delivered_is_success(api):
    to = recipient(viber=4, sms=0)
    snapshot = final(api, create(api, {"flow": [viber(to), sms(to)]})["trackingId"])
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Viber")
    assert snapshot["messages"][0]["expiredOnDeliveryAt"] is None


# --- late delivery -----------------------------------------------------------------------------------------


def test_a_late_delivery_shows_on_the_message_and_is_counted_once(api, monkeypatch):
    counted: list[tuple[str, str | None]] = []
    real_count = failover.service.count

    def counting(name: str, channel: str | None = None, value: int = 1) -> None:
        counted.append((name, channel))
        real_count(name, channel, value)  # the metric itself is still emitted

    monkeypatch.setattr(failover.service, "count", counting)
    to = recipient(viber=7, sms=0)  # Viber DELIVERED only after its ttl: the flow has moved on to SMS
    tracking_id = create(api, {"flow": [viber(to), sms(to)]})["trackingId"]
    # The late Viber receipt and the SMS delivery race (both follow Viber's ttl closely): wait for both.
    snapshot = wait_for(
        lambda: (s := track(api, tracking_id))["deliveredOnMultipleChannels"] and s["status"] != "InProgress" and s,
        30,
        what="the late Viber receipt and the flow's end",
    )
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")
    assert [m["status"]["name"] for m in snapshot["messages"]] == ["DELIVERED", "Delivered"]
    stack, _, _ = api
    wait_for(stack.aws.settled, 30, what="every receipt and record processed")
    late = [channel for name, channel in counted if name == "LateDeliveries"]
    assert late == ["Viber"]  # counted once, on the late channel; the SMS delivery in time is not late
