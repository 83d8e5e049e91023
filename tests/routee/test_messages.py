"""What the adapter sends for each channel, what it makes of the answers, and how it reads receipts."""

from __future__ import annotations

import json

import pytest

from failover.domain import Channel
from failover.providers import InvalidReceipt
from failover.providers.routee import RouteeProvider
from failover_local.simulator import PRICES, Simulator

from .conftest import SAY, Receiver, decoded, definition, number, outbound, wait_until

# ---------------------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------------------


def test_sms_request(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    message = {"body": "Your code is 1234", "flash": True, "label": "otp", "transcode": True}
    step = definition(Channel.SMS, "+306900000000", ttl=30, message=message)

    accepted = provider.send(outbound(Channel.SMS, step, receiver, "s1"))

    (sent,) = sim.messages()
    assert sent.request == {
        "from": "Brand",
        "to": "+306900000000",
        "body": "Your code is 1234",
        "flash": True,
        "label": "otp",
        "transcode": True,
        "ttl": 30,
        "callback": {"url": f"{receiver.url}/s1", "strategy": "OnChange"},
    }
    assert (accepted.provider_message_id, accepted.status, accepted.parts) == (sent.tracking_id, "Queued", 1)


@pytest.mark.parametrize(("minutes", "seconds"), [(10.0, 600), (0.5, 30), (1440, 86400), (2.3, 138)])
def test_viber_ttl_minutes_become_seconds(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver, minutes: float, seconds: int
) -> None:
    provider.send(outbound(Channel.VIBER, definition(Channel.VIBER, "+306900000000", ttl=minutes), receiver))
    assert sim.messages()[0].request["ttl"] == seconds


@pytest.mark.parametrize(("minutes", "seconds"), [(0.1, 30), (2000, 86400)])
def test_viber_ttl_is_clamped_to_routee_range(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver, minutes: float, seconds: int
) -> None:
    step = {**definition(Channel.VIBER, "+306900000000"), "ttl": minutes}  # outside our own validation
    provider.send(outbound(Channel.VIBER, step, receiver))
    assert sim.messages()[0].request["ttl"] == seconds


def test_viber_request(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    content = {
        "text": "Hello",
        "imageUrl": "https://example.com/a.png",
        "action": {"caption": "Go", "targetUrl": "https://example.com"},
    }
    step = definition(Channel.VIBER, "+306900000000", message=content, label="campaign", expireOnDelivery=True)

    accepted = provider.send(outbound(Channel.VIBER, step, receiver, "v1"))

    (sent,) = sim.messages()
    assert sent.request == {
        "senderInfoTrackingId": "sender-info-1",
        "to": "+306900000000",
        "body": {
            "text": "Hello",
            "imageURL": "https://example.com/a.png",  # Routee's request spelling
            "action": {"caption": "Go", "targetUrl": "https://example.com"},
        },
        "ttl": 30,
        "label": "campaign",
        "callbackUrl": f"{receiver.url}/v1",  # a plain string for Viber
    }
    assert (accepted.provider_message_id, accepted.status) == (sent.tracking_id, "QUEUED")


def test_viber_image_only(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    step = definition(Channel.VIBER, "+306900000000", message={"imageUrl": "https://example.com/a.png"})
    provider.send(outbound(Channel.VIBER, step, receiver))
    assert sim.messages()[0].request["body"] == {"imageURL": "https://example.com/a.png"}


def test_sms_request_leaves_transcode_out_and_passes_the_url_shortener(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver
) -> None:
    message = {"body": "See https://example.com/a", "urlShortener": {"domain": "rt.ee"}}
    provider.send(outbound(Channel.SMS, definition(Channel.SMS, "+306900000000", message=message), receiver))
    sent = sim.messages()[0].request
    assert "transcode" not in sent  # Routee then applies the application's own setting
    assert sent["urlShortener"] == {"domain": "rt.ee"}


def test_viber_request_passes_inbound_url_label_and_attachments(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver
) -> None:
    file = {"fileName": "invoice.pdf", "fileType": "pdf", "fileUrl": "https://example.com/invoice.pdf"}
    step = definition(
        Channel.VIBER, "+306900000000", inboundUrl="https://example.com/in", label="otp", message={"viberFile": file}
    )
    provider.send(outbound(Channel.VIBER, step, receiver))
    sent = sim.messages()[0].request
    assert (sent["inboundUrl"], sent["label"], sent["body"]) == ("https://example.com/in", "otp", {"viberFile": file})


def test_voice_request_as_in_routees_example(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    play = {"type": "PLAY", "repeat": 2, "fileURL": "http://example.com/monkey.wav", "bargeIn": False}
    step = definition(Channel.VOICE, "+306900000000", **{"from": "ASenderId"}, dialPlan={"verbs": [play, SAY]})
    step["to"] = {"phone": "+306900000000", "viber": "", "sip": ""}  # blanks, should any reach it
    provider.send(outbound(Channel.VOICE, step, receiver))
    sent = sim.messages()[0].request
    assert (sent["from"], sent["to"]) == ("ASenderId", {"phone": "+306900000000"})  # blanks are not sent
    assert [verb["type"] for verb in sent["dialPlan"]["verbs"]] == ["PLAY", "SAY"]


def test_voice_request_to_a_sip_address(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    step = {**definition(Channel.VOICE, "+306900000000"), "to": {"sip": "sip:alice@example.com"}}
    provider.send(outbound(Channel.VOICE, step, receiver))
    assert sim.messages()[0].request["to"] == {"sip": "sip:alice@example.com"}


def test_voice_request(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    step = definition(Channel.VOICE, "+306900000000", machineDetection={"strategy": "Hangup"})

    accepted = provider.send(outbound(Channel.VOICE, step, receiver, "c1"))

    (sent,) = sim.messages()
    assert sent.request == {
        "from": "+302100000000",  # our definition may omit the '+'; Routee's voice API wants E.164
        "to": {"phone": "+306900000000"},
        "dialPlan": step["dialPlan"],
        "machineDetection": {"strategy": "Hangup"},
        "callback": {"url": f"{receiver.url}/c1", "strategy": "OnChange"},
    }
    assert accepted.provider_message_id == sent.tracking_id


# ---------------------------------------------------------------------------------------------------------
# Receipts from the simulator
# ---------------------------------------------------------------------------------------------------------


def test_multipart_sms_reports_each_part(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    body = "x" * 200  # GSM: 153 characters per part → 2 parts
    step = definition(Channel.SMS, number(Channel.SMS, 0), message={"body": body})

    accepted = provider.send(outbound(Channel.SMS, step, receiver))
    wait_until(lambda: sim.pending_receipts() == 0)
    receipts = [provider.parse_receipt(Channel.SMS, raw) for raw in receiver.bodies("/step")]

    assert accepted.parts == 2
    assert [(r.status, r.part, r.parts) for r in receipts] == [
        ("Sent", 1, 2),
        ("Sent", 2, 2),
        ("Delivered", 1, 2),
        ("Delivered", 2, 2),
    ]
    assert {r.provider_message_id for r in receipts} == {accepted.provider_message_id}
    assert all(r.price == PRICES["Sms"] for r in receipts)  # the price of one part
    assert sim.balance == pytest.approx(100 - 2 * PRICES["Sms"])


def test_voice_receipts_correlate_on_conversation_tracking_id(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver
) -> None:
    accepted = provider.send(outbound(Channel.VOICE, definition(Channel.VOICE, "+306900000000"), receiver))
    wait_until(lambda: sim.pending_receipts() == 0)

    raw = decoded(receiver.bodies("/step"))
    receipts = [provider.parse_receipt(Channel.VOICE, body) for body in receiver.bodies("/step")]

    assert [r.status for r in receipts] == ["Ringing", "Completed"]
    assert {r.provider_message_id for r in receipts} == {accepted.provider_message_id}
    assert all(body["messageId"] != accepted.provider_message_id for body in raw)  # the call's own id
    assert receipts[-1].price == PRICES["Voice"]


def test_receipt_fields(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    provider.send(outbound(Channel.VIBER, definition(Channel.VIBER, "+306900000000"), receiver))
    wait_until(lambda: sim.pending_receipts() == 0)
    delivered = provider.parse_receipt(Channel.VIBER, receiver.bodies("/step")[0])

    assert delivered.status == "DELIVERED"
    assert delivered.detailed_status == "Delivered"
    assert delivered.description
    assert delivered.price == PRICES["Viber"]
    assert delivered.updated is not None and delivered.updated.endswith("Z")
    assert delivered.part is None and delivered.parts is None


# ---------------------------------------------------------------------------------------------------------
# Receipt parsing: the reference's examples and malformed bodies
# ---------------------------------------------------------------------------------------------------------

SMS_EXAMPLE = {
    "messageId": "66fb6987-0000",
    "smsId": "1274d238-0000",
    "part": 1,
    "parts": 1,
    "label": "otp",
    "to": "+306912345678",
    "from": "Brand",
    "country": "GR",
    "operator": "Vodafone",
    "status": {
        "name": "Delivered",
        "reason": {"detailedStatus": "Delivered", "description": "Delivered to handset"},
        "updatedDate": "2019-07-05T10:28:49Z",
    },
    "message": "Your code",
    "applicationName": "default",
    "latency": 4,
    "price": 0.036,
    "direction": "Outbound",
    "originatingService": "Sms",
}
VIBER_EXAMPLE = {
    "trackingId": "viber-1",
    "to": "+306912345678",
    "from": "MyBrand",
    "status": {
        "name": "DELIVERED",
        "reason": {"detailedStatus": "Delivered", "description": "Delivered"},
        "updatedDate": "2024-07-10T03:32:32.916Z",
    },
    "ttl": 3600,
    "price": 0.035,
    "originatingService": "Viber",
    "createdAt": "2024-07-10T03:32:30.000Z",
}
VOICE_EXAMPLE = {
    "messageId": "call-1",
    "conversationTrackingId": "conversation-1",
    "to": "+306912345678",
    "from": "+302100000000",
    "status": {"name": "Completed", "updatedDate": "2024-07-10T03:32:32.916Z"},
    "duration": 14,
    "price": 0.012,
    "originatingService": "Voice",
}


def parse(channel: Channel, body: object) -> object:
    return RouteeProvider(application_id="a", application_secret="s").parse_receipt(channel, json.dumps(body).encode())


def test_parse_reference_examples() -> None:
    sms = parse(Channel.SMS, SMS_EXAMPLE)
    viber = parse(Channel.VIBER, VIBER_EXAMPLE)
    voice = parse(Channel.VOICE, VOICE_EXAMPLE)

    sms_details = {"country": "GR", "operator": "Vodafone", "smsId": "1274d238-0000", "latency": 4.0, "part": 1}
    assert vars(sms) == {
        **vars(
            _receipt(
                "Delivered",
                "66fb6987-0000",
                "Delivered",
                "Delivered to handset",
                "2019-07-05T10:28:49.000Z",
                0.036,
                1,
                1,
            )
        ),
        "details": sms_details,
    }
    assert vars(viber) == {
        **vars(
            _receipt("DELIVERED", "viber-1", "Delivered", "Delivered", "2024-07-10T03:32:32.916Z", 0.035, None, None)
        ),
        "details": {"senderName": "MyBrand"},  # Viber's `from` is the sender's name
    }
    assert voice == _receipt("Completed", "conversation-1", None, None, "2024-07-10T03:32:32.916Z", 0.012, None, None)


def test_minimal_sms_receipt() -> None:
    receipt = parse(Channel.SMS, {"messageId": "m-1", "status": {"name": "delivered"}})
    assert receipt == _receipt("Delivered", "m-1", None, None, None, None, None, None)  # canonical spelling


@pytest.mark.parametrize(
    ("channel", "body"),
    [
        (Channel.SMS, {"messageId": "m-1", "status": {"name": "Seen"}}),  # not an SMS status
        (Channel.SMS, {"status": {"name": "Delivered"}}),  # no messageId
        (Channel.SMS, {"messageId": "m-1"}),  # no status
        (Channel.SMS, {"messageId": "m-1", "status": "Delivered"}),  # status not an object
        (Channel.VIBER, {"trackingId": "t-1", "status": {"name": "Sent"}}),
        (Channel.VIBER, {"messageId": "t-1", "status": {"name": "DELIVERED"}}),
        (Channel.VOICE, {**VOICE_EXAMPLE, "conversationTrackingId": None}),  # messageId alone is not enough
        (Channel.VOICE, {**VOICE_EXAMPLE, "status": {"name": "Answered"}}),
        (Channel.SMS, ["not", "an", "object"]),
    ],
)
def test_invalid_receipts(channel: Channel, body: object) -> None:
    with pytest.raises(InvalidReceipt):
        parse(channel, body)


@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe", b""])
def test_non_json_receipt(raw: bytes) -> None:
    with pytest.raises(InvalidReceipt):
        RouteeProvider(application_id="a", application_secret="s").parse_receipt(Channel.SMS, raw)


def test_unreadable_optional_fields_are_dropped() -> None:
    body = {**SMS_EXAMPLE, "price": "n/a", "part": None, "status": {**SMS_EXAMPLE["status"], "updatedDate": "?"}}
    receipt = parse(Channel.SMS, body)
    assert (receipt.status, receipt.price, receipt.part, receipt.updated) == ("Delivered", None, None, None)


def _receipt(*fields: object) -> object:
    from failover.providers import Receipt

    names = ("status", "provider_message_id", "detailed_status", "description", "updated", "price", "part", "parts")
    return Receipt(**dict(zip(names, fields, strict=True)))  # type: ignore[arg-type]


def test_idle_connections_are_dropped_before_a_send(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from failover.providers import routee

    monkeypatch.setattr(routee, "MAX_IDLE_SECONDS", 0.0)  # every call finds the pool idle
    for _ in range(3):
        provider.send(outbound(Channel.SMS, definition(Channel.SMS, "+306900000000"), receiver))
    assert sim.count("POST", "/sms", status=200) == 3
    assert sim.count("POST", "/oauth/token") == 1
