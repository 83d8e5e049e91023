"""The snapshot (tracking answer and callback body) and timestamps, in Routee's format."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from failover.domain import (
    FailoverRequest,
    FlowStatus,
    created_flow,
    flow_snapshot,
    message_snapshot,
    parse_timestamp,
    step_definition,
    timestamp,
)

PHONE = "+306912345678"
CREATED = "2024-07-10T03:32:32.916Z"

TOP_LEVEL_KEYS = {
    "deliveredOnMultipleChannels",
    "trackingId",
    "status",
    "statusCode",
    "terminationChannel",
    "totalPrice",
    "originatingService",
    "applicationId",
    "createdAt",
    "updatedAt",
    "messages",
}
MESSAGE_KEYS = {
    "type",
    "trackingId",
    "to",
    "from",
    "country",
    "order",
    "ttl",
    "failoverOnStatuses",
    "status",
    "price",
    "createdAt",
}


def steps():
    """Step definitions as the service stores them: validated, in ascending `order`, Routee field names."""
    request = FailoverRequest.model_validate(
        {
            "flow": [
                {
                    "type": "Voice",
                    "order": 30,
                    "from": "302101234567",
                    "to": {"phone": PHONE},
                    "dialPlan": {
                        "verbs": [{"type": "SAY", "message": {"text": "1 2 3", "language": "el-GR", "gender": "male"}}]
                    },
                },
                {
                    "type": "Viber",
                    "order": 10,
                    "to": PHONE,
                    "senderInfoTrackingId": "sender-1",
                    "ttl": 0.5,
                    "expireOnDelivery": True,
                    "message": {"text": "Your code is 123"},
                    "failoverOnStatuses": ["expired"],
                },
                {
                    "type": "Sms",
                    "order": 20,
                    "from": "Brand",
                    "to": PHONE,
                    "ttl": 30,
                    "message": {"body": "Your code is 123"},
                },
            ]
        }
    )
    return [step_definition(s) for s in request.ordered_steps()]


def flow(status=FlowStatus.IN_PROGRESS.value, updated=CREATED, **extra):
    return {
        "trackingId": "5b7e0b8e-1f7b-4c6e-9a49-2d7bfa0c9f11",
        "status": status,
        "createdAt": CREATED,
        "updatedAt": updated,
        "steps": steps(),
        "timeouts": [30, 1800, 600],
        **extra,
    }


def message(index, name=None, updated=None, price=None, **extra):
    out = {"index": index, "providerMessageId": f"provider-{index}", "createdAt": CREATED, **extra}
    if price is not None:
        out["price"] = price
    if name is not None:
        out["status"] = {
            "name": name,
            "reason": {"detailedStatus": f"{name} detail", "description": "from the provider"},
            "updatedDate": updated,
        }
    return out


# --- top level --------------------------------------------------------------------------------------------


def test_snapshot_of_a_new_flow():
    snapshot = flow_snapshot(flow(status=FlowStatus.QUEUED.value), [])
    assert snapshot == {
        "trackingId": "5b7e0b8e-1f7b-4c6e-9a49-2d7bfa0c9f11",
        "status": "Queued",
        "statusCode": None,  # Routee shows the key, null unless Failed
        "terminationChannel": None,
        "totalPrice": 0,
        "originatingService": "Failover",
        "applicationId": None,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "messages": [],
        "deliveredOnMultipleChannels": False,
    }


@pytest.mark.parametrize(
    ("status", "has_code"),
    [("Queued", False), ("InProgress", False), ("Succeeded", False), ("Failed", True)],
)
def test_status_code_is_null_unless_failed(status, has_code):
    snapshot = flow_snapshot(flow(status=status, statusCode="2", terminationChannel="Sms"), [])
    assert set(snapshot) == TOP_LEVEL_KEYS
    assert snapshot["statusCode"] == ("2" if has_code else None)


def test_termination_channel_and_application_id_are_passed_through():
    snapshot = flow_snapshot(flow(status="Succeeded", terminationChannel="Viber", applicationId="app-1"), [])
    assert (snapshot["terminationChannel"], snapshot["applicationId"]) == ("Viber", "app-1")


@pytest.mark.parametrize("scheduled", [None, "", "2024-07-11T00:00:00.000Z"])
def test_scheduled_date_only_when_scheduled(scheduled):
    snapshot = flow_snapshot(flow(status="Queued", scheduledDate=scheduled), [])
    assert ("scheduledDate" in snapshot) is bool(scheduled)
    if scheduled:
        assert snapshot["scheduledDate"] == scheduled


def test_messages_are_ordered_by_step_index():
    messages = [message(2, "Busy"), message(0, "EXPIRED"), message(1, "Undelivered")]
    rendered = flow_snapshot(flow(), messages)["messages"]
    assert [m["type"] for m in rendered] == ["Viber", "Sms", "Voice"]
    assert [m["order"] for m in rendered] == [10, 20, 30]
    assert [m["trackingId"] for m in rendered] == ["provider-0", "provider-1", "provider-2"]


@pytest.mark.parametrize(
    ("flow_updated", "message_dates", "expected"),
    [
        ("2024-07-10T03:40:00.000Z", ["2024-07-10T03:35:00.000Z"], "2024-07-10T03:40:00.000Z"),
        (
            "2024-07-10T03:33:00.000Z",
            ["2024-07-10T03:35:00.000Z", "2024-07-10T03:34:00.000Z"],
            "2024-07-10T03:35:00.000Z",
        ),
        # milliseconds are sometimes omitted; compared as instants, not as strings
        ("2024-07-10T03:35:00.500Z", ["2024-07-10T03:35:01Z"], "2024-07-10T03:35:01Z"),
        ("2024-07-10T03:35:01.001Z", ["2024-07-10T03:35:01Z"], "2024-07-10T03:35:01.001Z"),
        ("2024-07-10T09:00:00.000Z", ["2024-07-10T10:00:00+02:00"], "2024-07-10T09:00:00.000Z"),
        ("2024-07-10T03:33:00.000Z", [None], "2024-07-10T03:33:00.000Z"),  # a message without a status yet
    ],
)
def test_updated_at_is_the_newest_change_of_flow_or_messages(flow_updated, message_dates, expected):
    messages = [message(i, "Sent" if i == 1 else "QUEUED", updated=d) for i, d in enumerate(message_dates)]
    assert flow_snapshot(flow(updated=flow_updated), messages)["updatedAt"] == expected


def test_updated_at_ignores_messages_not_yet_sent():
    assert (
        flow_snapshot(flow(updated="2024-07-10T03:33:00.000Z"), [message(0)])["updatedAt"] == "2024-07-10T03:33:00.000Z"
    )


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        ([], 0),
        ([None, None], 0),
        ([0.5, 0.25], 0.75),
        ([1, 2], 3),
        ([0.5, None, 1.5], 2),  # a whole total is written as an integer
        ([0.035], 0.035),
    ],
)
def test_total_price_is_the_sum_of_message_prices(prices, expected):
    messages = [message(i, "QUEUED" if i == 0 else "Sent", price=p) for i, p in enumerate(prices)]
    snapshot = flow_snapshot(flow(), messages)
    assert snapshot["totalPrice"] == expected
    assert type(snapshot["totalPrice"]) is type(expected)


def test_total_price_has_no_float_noise():
    messages = [message(0, "EXPIRED", price=0.035), message(1, "Delivered", price=0.036)]
    assert flow_snapshot(flow(), messages)["totalPrice"] == 0.071


# --- messages[] -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "own_keys"),
    [
        (0, {"senderInfoTrackingId", "body", "label", "inboundUrl", "expireOnDelivery", "expiredOnDeliveryAt"}),
        (1, {"messageId", "smsId", "body", "label", "operator", "part", "parts", "latency"}),
        (2, set()),
    ],
)
def test_message_keys_per_channel(index, own_keys):
    (rendered,) = flow_snapshot(flow(), [message(index, "QUEUED" if index == 0 else "Queued")])["messages"]
    assert set(rendered) == MESSAGE_KEYS | own_keys
    assert set(rendered["status"]) == {"name", "reason", "updatedDate"}
    assert set(rendered["status"]["reason"]) == {"detailedStatus", "description"}


def test_viber_message():
    definition = steps()[0]
    stored = message(
        0,
        "DELIVERED",
        updated="2024-07-10T03:33:00.000Z",
        price=0.035,
        expiredOnDeliveryAt="2024-07-10T03:33:30Z",
        senderName="MyBank",
        country="GR",
    )
    assert message_snapshot(definition, stored) == {
        "type": "Viber",
        "trackingId": "provider-0",
        "to": PHONE,
        "from": "MyBank",  # the sender's name, as Routee reported it
        "senderInfoTrackingId": "sender-1",
        "country": "GR",
        "body": {"text": "Your code is 123", "imageUrl": None, "action": None},
        "label": None,
        "inboundUrl": None,
        "order": 10,
        "ttl": 0.5,
        "failoverOnStatuses": ["EXPIRED"],
        "status": {
            "name": "DELIVERED",
            "reason": {"detailedStatus": "DELIVERED detail", "description": "from the provider"},
            "updatedDate": "2024-07-10T03:33:00.000Z",
        },
        "price": 0.035,
        "createdAt": CREATED,
        "expireOnDelivery": True,
        "expiredOnDeliveryAt": "2024-07-10T03:33:30Z",
    }


def test_sms_message():
    stored = message(
        1, "Delivered", updated=CREATED, price=0.072, parts=2, part=2, smsId="part-2", operator="Cosmote", latency=4
    )
    rendered = message_snapshot(steps()[1], stored)
    assert (rendered["type"], rendered["from"], rendered["to"]) == ("Sms", "Brand", PHONE)
    assert (rendered["ttl"], rendered["parts"], rendered["price"]) == (30, 2, 0.072)
    assert rendered["failoverOnStatuses"] == ["Undelivered", "Failed", "Network Error"]
    assert (rendered["messageId"], rendered["trackingId"], rendered["smsId"]) == ("provider-1", "provider-1", "part-2")
    assert (rendered["body"], rendered["label"], rendered["part"]) == ("Your code is 123", None, 2)
    assert (rendered["operator"], rendered["latency"], rendered["country"]) == ("Cosmote", 4, None)


def test_viber_from_is_null_until_routee_names_the_sender():
    assert message_snapshot(steps()[0], message(0, "QUEUED"))["from"] is None


def test_voice_to_is_rendered_as_the_phone_string():
    rendered = message_snapshot(steps()[2], message(2, "Completed", updated=CREATED, price=0.012))
    assert rendered["to"] == PHONE
    assert (rendered["type"], rendered["from"], rendered["ttl"]) == ("Voice", "302101234567", 10)
    assert rendered["failoverOnStatuses"] == ["Busy", "NoAnswer", "Unknown"]


@pytest.mark.parametrize(
    ("to", "expected"),
    [({"phone": PHONE, "viber": "", "sip": ""}, PHONE), ({"sip": "sip:alice@example.com"}, "sip:alice@example.com")],
)
def test_voice_to_is_the_address_called(to, expected):
    definition = {**steps()[2], "to": to}
    assert message_snapshot(definition, message(2))["to"] == expected


@pytest.mark.parametrize(("ttl", "expected"), [(10.0, 10), (10, 10), (0.5, 0.5), (1440, 1440), (None, None)])
def test_ttl_is_a_plain_number(ttl, expected):
    definition = {**steps()[1], "ttl": ttl}
    rendered = message_snapshot(definition, message(1, "Sent"))["ttl"]
    assert rendered == expected
    assert type(rendered) is type(expected)


def test_message_before_any_status():
    rendered = message_snapshot(steps()[1], {"index": 1, "createdAt": CREATED})
    assert rendered["trackingId"] is None
    assert rendered["status"] == {
        "name": None,
        "reason": {"detailedStatus": None, "description": None},
        "updatedDate": None,
    }
    assert rendered["price"] == 0
    assert rendered["parts"] is None


def test_status_without_reason():
    stored = {"index": 2, "status": {"name": "Ringing", "updatedDate": CREATED}}
    assert message_snapshot(steps()[2], stored)["status"] == {
        "name": "Ringing",
        "reason": {"detailedStatus": None, "description": None},
        "updatedDate": CREATED,
    }


def test_viber_expire_on_delivery_defaults_to_false():
    definition = {k: v for k, v in steps()[0].items() if k != "expireOnDelivery"}
    rendered = message_snapshot(definition, message(0))
    assert rendered["expireOnDelivery"] is False
    assert rendered["expiredOnDeliveryAt"] is None


def test_snapshot_does_not_change_its_inputs():
    stored_flow, stored_messages = flow(), [message(1, "Sent"), message(0, "EXPIRED")]
    before = (repr(stored_flow), repr(stored_messages))
    flow_snapshot(stored_flow, stored_messages)
    assert (repr(stored_flow), repr(stored_messages)) == before


# --- timestamps -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 7, 10, 3, 32, 32, 916000, tzinfo=UTC), "2024-07-10T03:32:32.916Z"),
        (datetime(2024, 7, 10, 3, 32, 32, 916999, tzinfo=UTC), "2024-07-10T03:32:32.916Z"),  # truncated, not rounded
        (datetime(2024, 7, 10, 3, 32, 32, tzinfo=UTC), "2024-07-10T03:32:32.000Z"),
        (datetime(2024, 7, 10, 3, 32, 32, 5000, tzinfo=UTC), "2024-07-10T03:32:32.005Z"),
        (datetime(2024, 7, 10, 6, 32, 32, 1000, tzinfo=timezone(timedelta(hours=3))), "2024-07-10T03:32:32.001Z"),
        (datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))), "2023-12-31T23:00:00.000Z"),
    ],
)
def test_timestamp_is_utc_with_milliseconds(moment, expected):
    assert timestamp(moment) == expected
    assert parse_timestamp(expected) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-07-10T03:32:32.916Z", datetime(2024, 7, 10, 3, 32, 32, 916000, tzinfo=UTC)),
        ("2019-07-05T10:28:49Z", datetime(2019, 7, 5, 10, 28, 49, tzinfo=UTC)),
        ("2024-07-10T05:32:32+02:00", datetime(2024, 7, 10, 3, 32, 32, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(value, expected):
    parsed = parse_timestamp(value)
    assert parsed == expected
    assert parsed.utcoffset() is not None


# --- the POST /failover answer ------------------------------------------------------------------------------


def test_created_flow_echoes_the_flow_as_routee_does():
    stored = flow(status="Queued", callback={"url": "https://x.example/cb", "strategy": "OnChange"}, notify=True)
    answer = created_flow({**stored, "applicationId": "app", "timeouts": [1, 2, 3]})
    assert answer == {
        "trackingId": stored["trackingId"],
        "flow": stored["steps"],  # each step with its defaults, in running order
        "callback": {"url": "https://x.example/cb", "strategy": "OnChange"},
        "status": "Queued",
        "createdAt": CREATED,
    }  # nothing internal (applicationId, timeouts, notify) leaks
    assert [s["order"] for s in answer["flow"]] == [10, 20, 30]


def test_created_flow_adds_restrictions_and_scheduled_date_only_when_given():
    answer = created_flow(flow(status="Queued", restrictions={"a": 1}, scheduledDate="2030-01-01T00:00:00.000Z"))
    assert (answer["restrictions"], answer["scheduledDate"]) == ({"a": 1}, "2030-01-01T00:00:00.000Z")
    assert "callback" not in created_flow(flow(status="Queued"))
