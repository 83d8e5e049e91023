"""A corpus of hostile bodies against the real handlers (API Gateway events through the local stack).

Every one gets a Routee-style 4xx that names the problem, creates nothing and changes nothing; none reaches a
5xx. The first findings of issue 16 were 502s: RecursionError on deep nesting, ValueError on a >4,300-digit
integer, OverflowError or a stored NaN on receipts with 1e999, "Infinity" or "NaN".
"""

from __future__ import annotations

import json

import boto3
import pytest
from boto3.dynamodb.conditions import Attr

from failover.domain import Channel
from failover_local.aws import REGION
from tests.fakes.scripted_provider import Say
from tests.harness import wait_for

SMS = {"type": "Sms", "order": 1, "from": "Brand", "to": "+306912345678", "message": {"body": "PIN 1234"}}
VIBER = {
    "type": "Viber",
    "order": 1,
    "to": "+306912345678",
    "senderInfoTrackingId": "sender",
    "message": {"text": "PIN 1234"},
}
SAY = {
    "type": "Voice",
    "order": 1,
    "from": "+302101234567",
    "to": {"phone": "+306912345678"},
    "dialPlan": {"verbs": [{"type": "SAY", "message": {"text": "PIN", "language": "en-US", "gender": "female"}}]},
}
SEARCH = {"dateStart": "2026-01-01T00:00:00Z", "dateEnd": "2026-12-31T00:00:00Z"}


def _flow_with(raw_value: str) -> bytes:
    """A valid request whose SMS `order` is replaced by a raw JSON literal."""
    return json.dumps({"flow": [{**SMS, "order": "__RAW__"}]}).replace('"__RAW__"', raw_value).encode()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# (name, raw body, the field named, a words of the problem): parsed before any model sees the body.
PARSE_CORPUS = [
    ("array nested 1,000 deep", _nested(1000).encode(), "body", "nested deeper than"),
    ("object nested 1,000 deep", ('{"a":' * 1000 + "1" + "}" * 1000).encode(), "body", "nested deeper than"),
    (
        "deep value inside a flow",
        json.dumps({"flow": [{**SMS, "message": {"body": "__RAW__"}}]}).replace('"__RAW__"', _nested(500)).encode(),
        "body",
        "nested deeper than",
    ),
    ("integer of 5,000 digits", _flow_with("1" + "0" * 5000), "body", "number longer than"),
    ("integer of 4,301 digits", _flow_with("9" * 4301), "body", "number longer than"),
    ("1e999", _flow_with("1e999"), "body", "out of range"),
    ("-1e999", _flow_with("-1e999"), "body", "out of range"),
    ("NaN", _flow_with("NaN"), "body", "NaN"),
    ("Infinity", _flow_with("Infinity"), "body", "Infinity"),
    ("-Infinity", _flow_with("-Infinity"), "body", "-Infinity"),
    ("a 20,000-character key", json.dumps({"flow": [SMS], "k" * 20_000: 1}).encode(), "body", "string longer"),
    ("a 20,000-character value", json.dumps({"flow": [SMS], "x": "v" * 20_000}).encode(), "body", "string longer"),
]

# (name, body, field, words): parsed fine, refused by the request model.
MODEL_CORPUS = [
    ("order true", {"flow": [{**SMS, "order": True}]}, "flow[0].order", "not a boolean"),
    ("SMS ttl true", {"flow": [{**SMS, "ttl": True}]}, "flow[0].ttl", "not a boolean"),
    ("Viber ttl true", {"flow": [{**VIBER, "ttl": True}]}, "flow[0].ttl", "not a boolean"),
    ("Voice ttl false", {"flow": [{**SAY, "ttl": False}]}, "flow[0].ttl", "not a boolean"),
    (
        "repeat true",
        {"flow": [{**SAY, "dialPlan": {"verbs": [{**SAY["dialPlan"]["verbs"][0], "repeat": True}]}}]},
        "flow[0].dialPlan.verbs[0].repeat",
        "not a boolean",
    ),
    (
        "SMS body of 10,001 characters",
        {"flow": [{**SMS, "message": {"body": "x" * 10_001}}]},
        "flow[0].message.body",
        "at most 10000",
    ),
    (
        "Viber text of 1,001 characters",
        {"flow": [{**VIBER, "message": {"text": "x" * 1001}}]},
        "flow[0].message.text",
        "at most 1000",
    ),
    (
        "SAY text of 1,001 characters",
        {
            "flow": [
                {
                    **SAY,
                    "dialPlan": {
                        "verbs": [
                            {"type": "SAY", "message": {**SAY["dialPlan"]["verbs"][0]["message"], "text": "x" * 1001}}
                        ]
                    },
                }
            ]
        },
        "flow[0].dialPlan.verbs[0].message.text",
        "at most 1000",
    ),
]


def flow_count(stack) -> int:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.aws.table_name)
    return table.scan(Select="COUNT", FilterExpression=Attr("sk").eq("#FLOW"))["Count"]


def post(stack, path: str, raw: bytes, content_type: str | None = "application/json"):
    headers = {"Authorization": f"Bearer {stack.token()}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    status, response_headers, payload = stack.aws.handle_http("POST", path, headers, raw)
    return status, response_headers, json.loads(payload)


@pytest.mark.parametrize("path", ["/failover", "/failover/tracking"])
@pytest.mark.parametrize(("name", "raw", "field", "words"), PARSE_CORPUS, ids=[c[0] for c in PARSE_CORPUS])
def test_a_hostile_body_is_a_400_naming_the_problem(stack, path, name, raw, field, words):
    assert len(raw) <= 64 * 1024, "the corpus stays under the 64 KiB cap, or it would only test the 413"
    before = flow_count(stack)
    status, _, error = post(stack, path, raw)
    assert status == 400, error
    assert error["code"] == "400000000"
    assert words in error["properties"][field]
    assert field in error["developerMessage"]
    assert flow_count(stack) == before


@pytest.mark.parametrize(("name", "body", "field", "words"), MODEL_CORPUS, ids=[c[0] for c in MODEL_CORPUS])
def test_a_number_field_refuses_booleans_and_texts_have_routee_caps(stack, name, body, field, words):
    before = flow_count(stack)
    status, _, error = post(stack, "/failover", json.dumps(body).encode())
    assert status == 400, error
    assert error["code"] == "400000000"
    assert words in error["properties"][field], error["properties"]
    assert flow_count(stack) == before


def test_the_caps_still_let_the_longest_documented_values_through(stack):
    """The guards above must be able to fail: a body at every cap is a flow."""
    from failover import bodies

    assert bodies.MAX_DEPTH > 20
    at_caps = {
        "flow": [
            {**SMS, "message": {"body": "x" * 10_000}},
            {**VIBER, "order": 2, "message": {"text": "y" * 1000}},
        ]
    }
    status, _, snapshot = post(stack, "/failover", json.dumps(at_caps).encode())
    assert status == 200, snapshot
    status, _, _ = post(stack, "/failover", json.dumps({"flow": [SMS], "nested": _nested(20)}).encode())
    assert status == 400  # an unknown field, but parsed: 20 levels are within the depth limit


@pytest.mark.parametrize(
    "content_type",
    ["application/jsonx", "", None, "text/plain", "application/x-www-form-urlencoded",
     "application/json; charset=latin-1", "application/json; boundary=x", "application/json-patch+json"],
)  # fmt: skip
def test_a_body_that_is_not_application_json_is_a_415_naming_the_header(stack, content_type):
    before = flow_count(stack)
    status, _, error = post(stack, "/failover", json.dumps({"flow": [SMS]}).encode(), content_type)
    assert status == 415, error
    assert error["code"] == "415000000"
    assert "application/json" in error["properties"]["Content-Type"]
    assert flow_count(stack) == before


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
def test_application_json_with_or_without_a_utf8_charset_is_accepted(stack, content_type):
    status, _, snapshot = post(stack, "/failover", json.dumps({"flow": [SMS]}).encode(), content_type)
    assert status == 200, snapshot


def test_the_bounded_parser_is_what_the_api_uses():
    """Unit-level: each limit raises BodyProblem, and a body within the limits parses as json.loads would."""
    from failover import bodies

    for raw in (
        _nested(bodies.MAX_DEPTH + 1),
        "1" * 40,
        "1e400",
        "NaN",
        json.dumps("s" * (bodies.MAX_STRING_LENGTH + 1)),
    ):
        with pytest.raises(bodies.BodyProblem):
            bodies.loads(raw)
    fine = json.dumps({"a": [1, 2.5, "x", None, True, {"b": _nested(bodies.MAX_DEPTH - 2)}], '"[': "]]]"})
    assert bodies.loads(fine) == json.loads(fine)


# --- receipts: POST /webhooks/routee/{token} ------------------------------------------------------------------


@pytest.fixture
def sent_sms(stack):
    """An SMS step sent and waiting (Sent): (its receipt URL for the Routee adapter, its provider message id)."""
    to = "+306912349901"
    stack.provider.script(Channel.SMS, to, Say("Sent", after=0.01))
    created = stack.create({"flow": [{**SMS, "to": to, "ttl": 60}]})
    tracking_id = created["trackingId"]
    message_id = wait_for(
        lambda: stack.track(tracking_id)["messages"][:1] and stack.track(tracking_id)["messages"][0]["trackingId"]
    )
    wait_for(lambda: stack.track(tracking_id)["messages"][0]["status"]["name"] == "Sent")
    url = stack.signed_callback(tracking_id, 0).replace(f"/webhooks/{stack.provider.name}/", "/webhooks/routee/")
    return tracking_id, url, message_id


def receipt(message_id: str, **fields) -> dict:
    return {"messageId": message_id, "status": {"name": "Delivered"}, **fields}


RECEIPT_CORPUS = [
    ("parts 1e999", lambda m: json.dumps(receipt(m, parts=1)).replace('"parts": 1', '"parts": 1e999'), "out of range"),
    ("parts Infinity", lambda m: json.dumps(receipt(m, parts="Infinity")), "parts must be a finite number"),
    ("price NaN", lambda m: json.dumps(receipt(m, price="NaN")), "price must be a finite number"),
    ("price bare NaN", lambda m: json.dumps(receipt(m, price=0)).replace('"price": 0', '"price": NaN'), "NaN"),
    ("price -Infinity", lambda m: json.dumps(receipt(m, price="-Infinity")), "price must be a finite number"),
    ("price negative", lambda m: json.dumps(receipt(m, price=-1)), "price must be from 0"),
    ("price huge", lambda m: json.dumps(receipt(m, price=1e300)), "price must be from 0"),
    ("parts 1,000,000", lambda m: json.dumps(receipt(m, parts=1_000_000, part=1)), "parts must be a whole number"),
    ("parts 0", lambda m: json.dumps(receipt(m, parts=0, part=1)), "parts must be a whole number"),
    ("parts 2.5", lambda m: json.dumps(receipt(m, parts=2.5, part=1)), "parts must be a whole number"),
    ("part beyond parts", lambda m: json.dumps(receipt(m, parts=2, part=3)), "part must be a whole number"),
    ("integer of 5,000 digits",
     lambda m: json.dumps(receipt(m, parts=1)).replace('"parts": 1', '"parts": 1' + "0" * 5000), "number longer"),
    ("nested 1,000 deep", lambda m: json.dumps(receipt(m, x=1)).replace('"x": 1', '"x": ' + _nested(1000)),
     "nested deeper"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "build", "words"), RECEIPT_CORPUS, ids=[c[0] for c in RECEIPT_CORPUS])
def test_a_hostile_receipt_is_a_400_and_changes_nothing(stack, sent_sms, name, build, words):
    tracking_id, url, message_id = sent_sms
    before = stack.track(tracking_id)["messages"][0]
    status, _, payload = stack.aws.handle_http(
        "POST", url, {"Content-Type": "application/json"}, build(message_id).encode()
    )
    error = json.loads(payload)
    assert status == 400, error
    assert error["code"] == "400000000"
    assert words in error["developerMessage"]
    after = stack.track(tracking_id)["messages"][0]
    assert (after["status"], after["price"], after["parts"]) == (before["status"], before["price"], before["parts"])


def test_a_valid_receipt_with_parts_and_price_is_still_recorded(stack, sent_sms):
    """The receipt checks above must be able to fail: the same URL takes a well-formed receipt."""
    tracking_id, url, message_id = sent_sms
    body = json.dumps(receipt(message_id, price=0.036, parts=1, part=1)).encode()
    status, _, payload = stack.aws.handle_http("POST", url, {"Content-Type": "application/json"}, body)
    assert status == 200, payload
    message = wait_for(lambda: (m := stack.track(tracking_id)["messages"][0])["status"]["name"] == "Delivered" and m)
    assert message["price"] == 0.036


def test_an_absurd_informational_number_is_dropped_not_a_5xx(stack, sent_sms):
    """latency 1e300 is finite but past what DynamoDB stores (1e125): it is dropped, the receipt recorded."""
    tracking_id, url, message_id = sent_sms
    body = json.dumps(receipt(message_id, latency=1e300, part=1, parts=1)).encode()
    status, _, payload = stack.aws.handle_http("POST", url, {"Content-Type": "application/json"}, body)
    assert status == 200, payload
    wait_for(lambda: stack.track(tracking_id)["messages"][0]["status"]["name"] == "Delivered")
