"""Routee's documented example requests, sent to a fresh local stack over HTTP (real handlers, the Routee channel
adapter, the simulator), and every answer checked field by field against routee_failover.schema.json, a JSON
schema written from Routee's documentation, not from our models (docs/routee-compatibility.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from failover_local.stack import LocalStack, bearer_session
from tests.callbacks.test_callbacks_e2e import Receiver
from tests.harness import final_over_http, wait_for

HERE = Path(__file__).parent
SCHEMA = json.loads((HERE / "routee_failover.schema.json").read_text())
TIME_SCALE = 0.01  # ttls of minutes take seconds


def example(name: str) -> dict:
    """An example request as written out from the docs; keys starting with '_' are our notes, not the request."""
    return {k: v for k, v in json.loads((HERE / "examples" / name).read_text()).items() if not k.startswith("_")}


def check(instance: dict, definition: str) -> None:
    """Every violation, each with the path of the field that broke Routee's documented shape."""
    validator = jsonschema.Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{definition}"})
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(instance)
    ]
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def local():
    stack = LocalStack(port=0, simulator_port=0, time_scale=TIME_SCALE).start()
    receiver = Receiver().up()
    session = bearer_session(stack.url, "local-app", "local-secret")
    try:
        yield stack, session, receiver
    finally:
        session.close()
        receiver.down()
        stack.stop()


def send(local, name: str) -> tuple[dict, dict]:
    stack, session, receiver = local
    request = example(name)
    request["callback"]["url"] = receiver.url  # the docs' https://target.url is not ours to call
    response = session.post(f"{stack.url}/failover", json=request, timeout=10)
    assert response.status_code == 200, response.text
    return request, response.json()


def final(local, tracking_id: str) -> dict:
    stack, session, _ = local
    return final_over_http(session, stack.url, tracking_id)


def callbacks_of(receiver: Receiver, tracking_id: str) -> list[dict]:
    return [body for _, body in receiver.snapshots() if body["trackingId"] == tracking_id]


# --- the how-to page's example: Sms, then Voice and Viber, which share "order": 2 ---------------------------


def test_how_to_example_is_accepted_and_echoed(local):
    request, created = send(local, "how_to_send_a_failover_message.json")
    check(created, "created")
    assert [(s["type"], s["order"]) for s in created["flow"]] == [("Sms", 1), ("Voice", 2), ("Viber", 2)]
    sms, voice, viber = created["flow"]
    assert sms["message"] == request["flow"][0]["message"]  # flash, label and transcode as sent
    assert sms["failoverOnStatuses"] == ["Failed", "Undelivered"]  # case-insensitive, in Routee's spelling
    assert (voice["from"], voice["to"]) == ("ASenderId", {"phone": "+306981234501"})  # blank viber/sip left out
    assert [v["type"] for v in voice["dialPlan"]["verbs"]] == ["PLAY", "SAY"]
    assert (viber["inboundUrl"], viber["ttl"], viber["expireOnDelivery"]) == ("https://inbound.url", 30, False)
    assert created["callback"] == request["callback"]


def test_how_to_example_runs_in_order_and_its_tracking_and_callback_match_routees_shape(local):
    _, created = send(local, "how_to_send_a_failover_message.json")
    # the simulator: SMS +…011 Undelivered, Voice +…501 NoAnswer, Viber +…011 DELIVERED
    snapshot = final(local, created["trackingId"])
    check(snapshot, "tracking")
    assert (snapshot["status"], snapshot["statusCode"], snapshot["terminationChannel"]) == ("Succeeded", None, "Viber")
    sms, voice, viber = snapshot["messages"]
    # Viber's DELIVERED is followed by SEEN (simulator digit 0): a snapshot taken later shows SEEN.
    assert [m["status"]["name"] for m in snapshot["messages"]][:2] == ["Undelivered", "NoAnswer"]
    assert viber["status"]["name"] in ("DELIVERED", "SEEN")

    # SMS: Routee's ids and the receipt's details, known once Routee reported them
    assert sms["messageId"] and sms["smsId"] and sms["messageId"] != sms["smsId"]
    assert (sms["body"], sms["label"], sms["part"], sms["parts"]) == ("The sms message to be sent", "string", 1, 1)
    assert (sms["country"], sms["operator"]) == ("GR", "Simulator")
    assert isinstance(sms["latency"], int | float)
    # Viber: the content echoed in Routee's tracking spelling
    assert viber["body"] == {
        "text": "string",
        "imageUrl": "https://image.url",
        "action": {"caption": "Go", "targetUrl": "https://www.routee.net/"},
    }
    assert (viber["inboundUrl"], viber["country"]) == ("https://inbound.url", "GR")
    assert viber["from"] == "Simulator"  # the sender's name as Routee (here the simulator) gives it, not the id
    assert (voice["to"], voice["from"]) == ("+306981234501", "ASenderId")

    # OnCompletion: one callback, the final snapshot, in the same shape
    wait_for(lambda: callbacks_of(local[2], created["trackingId"]), timeout=30, what="the callback")
    (callback,) = callbacks_of(local[2], created["trackingId"])
    check(callback, "tracking")
    assert callback["status"] == "Succeeded"
    # The same messages, but for Viber's status: SEEN may have come between the callback and the tracking read.
    assert [{k: v for k, v in m.items() if k != "status"} for m in callback["messages"]] == [
        {k: v for k, v in m.items() if k != "status"} for m in snapshot["messages"]
    ]
    assert [m["status"] for m in callback["messages"][:2]] == [m["status"] for m in snapshot["messages"][:2]]
    assert callback["messages"][2]["status"]["name"] in ("DELIVERED", "SEEN")


# --- the reference's other documented fields ---------------------------------------------------------------


def test_documented_fields_are_accepted_passed_on_and_tracked(local):
    stack, session, receiver = local
    request, created = send(local, "send_a_failover_message_fields.json")
    check(created, "created")
    viber, sms, voice = created["flow"]
    assert viber["message"]["viberFile"]["fileType"] == "pdf"
    assert "transcode" not in sms["message"]  # left out: Routee applies the application's setting
    assert voice["to"] == {"phone": "+306900000100"} and "dialPlan" in voice
    assert voice["failoverOnStatuses"] == ["Completed", "Busy", "NoAnswer", "Failed", "Unsent", "Terminated"]
    assert created["restrictions"] == request["restrictions"]

    snapshot = final(local, created["trackingId"])
    check(snapshot, "tracking")
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")
    sent_sms = next(m for m in stack.simulator.messages(to="+306900000100") if m.channel == "Sms")
    assert sent_sms.request["urlShortener"] == {"domain": "rt.ee"} and "transcode" not in sent_sms.request
    sent_viber = next(m for m in stack.simulator.messages(to="+306900000100") if m.channel == "Viber")
    assert (sent_viber.request["inboundUrl"], sent_viber.request["label"]) == ("https://inbound.url", "invoice")

    # OnChange: every snapshot the flow went through has Routee's shape
    wait_for(
        lambda: any(s["status"] == "Succeeded" for s in callbacks_of(receiver, created["trackingId"])),
        timeout=30,
        what="the final callback",
    )
    for callback in callbacks_of(receiver, created["trackingId"]):
        check(callback, "tracking")


# --- search ------------------------------------------------------------------------------------------------


def test_search_as_documented(local):
    stack, session, _ = local
    _, created = send(local, "how_to_send_a_failover_message.json")
    final(local, created["trackingId"])
    documented = example("search_failover_trackings.json")
    now = datetime.now(UTC)
    query = {
        **documented["query"],
        "dateStart": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "dateEnd": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    response = session.post(f"{stack.url}/failover/tracking", params=query, json=documented["body"], timeout=10)
    assert response.status_code == 200, response.text
    page = response.json()
    check(page, "page")
    assert created["trackingId"] in [flow["trackingId"] for flow in page["content"]]
    assert all(
        any(m["to"].endswith("0011") for m in flow["messages"]) or flow["status"] == "Queued"
        for flow in page["content"]
    )
    assert (page["size"], page["number"], page["numberOfElements"]) == (10, 0, len(page["content"]))

    # no body at all: every flow of the range; a filter that matches nothing: an empty page
    assert session.post(f"{stack.url}/failover/tracking", params=query, timeout=10).status_code == 200
    nothing = {"fieldName": "terminationChannel", "searchOperator": "is", "searchTerm": "fax"}
    empty = session.post(f"{stack.url}/failover/tracking", params=query, json=nothing, timeout=10).json()
    check(empty, "page")
    assert (empty["totalElements"], empty["numberOfElements"], empty["content"]) == (0, 0, [])


def test_search_without_a_range_names_the_missing_fields(local):
    stack, session, _ = local
    response = session.post(f"{stack.url}/failover/tracking", json={"fieldName": "status", "searchTerm": "Failed"})
    assert response.status_code == 400
    assert set(response.json()["properties"]) == {"dateStart", "dateEnd"}


# --- the schema can fail: what issue 19 found in the old answers is refused ---------------------------------

OLD_SNAPSHOT = {  # the shape answered before issue 19
    "trackingId": "t-1",
    "status": "Succeeded",
    "terminationChannel": "Sms",
    "totalPrice": 0.036,
    "originatingService": "Failover",
    "applicationId": "app",
    "createdAt": "2024-07-10T03:32:32.916Z",
    "updatedAt": "2024-07-10T03:32:33.916Z",
    "messages": [
        {
            "type": "Sms",
            "trackingId": "m-1",
            "to": "+306912345678",
            "from": "Brand",
            "order": 1,
            "ttl": 30,
            "failoverOnStatuses": ["Failed"],
            "status": {
                "name": "Delivered",
                "reason": {"detailedStatus": None, "description": None},
                "updatedDate": None,
            },
            "price": 0.036,
            "createdAt": "2024-07-10T03:32:32.916Z",
            "parts": 1,
        }
    ],
}


@pytest.mark.parametrize(
    ("instance", "definition", "reason"),
    [
        (OLD_SNAPSHOT, "tracking", "'statusCode' is a required property"),
        ({**OLD_SNAPSHOT, "statusCode": None}, "tracking", "'messageId' is a required property"),
        ({**OLD_SNAPSHOT, "statusCode": "2"}, "tracking", "is not of type 'null'"),  # a code on a success
        (
            {"content": [], "totalPages": 0, "totalElements": 0, "number": 0, "size": 10, "first": True, "last": True},
            "page",
            "'numberOfElements' is a required property",
        ),
        ({k: v for k, v in OLD_SNAPSHOT.items() if k != "messages"}, "created", "'flow' is a required property"),
    ],
)
def test_the_schema_refuses_the_shapes_issue_19_found(instance, definition, reason):
    with pytest.raises(AssertionError, match=reason):
        check(instance, definition)
