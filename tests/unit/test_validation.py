"""POST /failover request validation (Routee's rules) and Routee-style error properties."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from failover.domain import (
    MAX_STEPS,
    SAY_LANGUAGES,
    Callback,
    FailoverRequest,
    SmsStep,
    ViberStep,
    VoiceStep,
    error_properties,
    field_path,
    step_definition,
)

PHONE = "+306912345678"
OTHER_PHONE = "+306900000100"


def viber(order=1, **fields):
    step = {
        "type": "Viber",
        "order": order,
        "to": PHONE,
        "senderInfoTrackingId": "d1b0f7a4-sender",
        "message": {"text": "Your code is 1234"},
    }
    return {**step, **fields}


def sms(order=1, **fields):
    step = {"type": "Sms", "order": order, "from": "Brand", "to": PHONE, "message": {"body": "Your code is 1234"}}
    return {**step, **fields}


def say(**fields):
    verb = {"type": "SAY", "message": {"text": "Your code is 1 2 3 4", "language": "en-US", "gender": "female"}}
    return {**verb, **fields}


def voice(order=1, **fields):
    step = {
        "type": "Voice",
        "order": order,
        "from": "302101234567",
        "to": {"phone": PHONE},
        "dialPlan": {"verbs": [say()]},
    }
    return {**step, **fields}


def body(*steps, **top):
    return {"flow": list(steps), **top}


def parse(payload) -> FailoverRequest:
    return FailoverRequest.model_validate(payload)


def problems(payload) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        FailoverRequest.model_validate(payload)
    return error_properties(caught.value.errors())


def assert_only_problem(payload, key):
    found = problems(payload)
    assert list(found) == [key], found
    assert found[key]
    return found[key]


# --- a whole request --------------------------------------------------------------------------------------

REFERENCE_EXAMPLE = {
    "flow": [
        {
            "type": "Viber",
            "order": 1,
            "to": PHONE,
            "senderInfoTrackingId": "sender-1",
            "ttl": 10,
            "expireOnDelivery": False,
            "message": {
                "text": "Hi",
                "imageUrl": "https://cdn.example.com/a.png",
                "action": {"caption": "Go", "targetUrl": "https://example.com/go"},
            },
            "failoverOnStatuses": ["EXPIRED", "FAILED", "UNDELIVERED"],
        },
        {
            "type": "Sms",
            "order": 2,
            "from": "Brand",
            "to": PHONE,
            "ttl": 30,
            "message": {"body": "Hi", "flash": False, "label": "otp", "transcode": True},
            "failoverOnStatuses": ["Failed", "Undelivered"],
        },
        {
            "type": "Voice",
            "order": 3,
            "from": "302101234567",
            "to": {"phone": PHONE},
            "dialPlan": {"verbs": [say(repeat=1, bargeIn=False)]},
            "machineDetection": {"strategy": "Hangup"},
            "failoverOnStatuses": ["Busy", "NoAnswer"],
        },
    ],
    "callback": {"strategy": "OnCompletion", "url": "https://client.example.com/failover"},
}


def test_reference_example_is_accepted():
    request = parse(REFERENCE_EXAMPLE)
    viber_step, sms_step, voice_step = request.flow
    assert isinstance(viber_step, ViberStep) and isinstance(sms_step, SmsStep) and isinstance(voice_step, VoiceStep)
    assert [s.recipient for s in request.flow] == [PHONE, PHONE, PHONE]
    assert sms_step.from_ == "Brand" and voice_step.from_ == "302101234567"
    assert sms_step.failoverOnStatuses == ["Failed", "Undelivered"]
    assert request.callback == Callback(url="https://client.example.com/failover", strategy="OnCompletion")
    assert request.scheduledDate is None


def test_steps_run_in_ascending_order_not_array_order():
    request = parse(body(sms(order=7), voice(order=2), viber(order=5)))
    assert [s.order for s in request.ordered_steps()] == [2, 5, 7]
    assert [s.type for s in request.ordered_steps()] == ["Voice", "Viber", "Sms"]
    assert [s.order for s in request.flow] == [7, 2, 5]  # the request itself is left as sent


@pytest.mark.parametrize(
    ("step", "ttl", "failover"),
    [
        (viber(), 10, ["EXPIRED", "FAILED", "UNDELIVERED"]),
        (sms(), 1200, ["Undelivered", "Failed", "Network Error"]),
        (voice(), 10, ["Busy", "NoAnswer", "Unknown"]),
    ],
)
def test_defaults_per_channel(step, ttl, failover):
    (parsed,) = parse(body(step)).flow
    assert parsed.ttl == ttl
    assert parsed.ttl_minutes == float(ttl)
    assert sorted(parsed.failoverOnStatuses) == sorted(failover)


@pytest.mark.parametrize("make", [viber, sms, voice])
def test_null_failover_statuses_take_the_defaults(make):
    assert (
        parse(body(make(failoverOnStatuses=None))).flow[0].failoverOnStatuses
        == parse(body(make())).flow[0].failoverOnStatuses
    )


def test_sms_message_and_viber_step_defaults():
    sms_step, viber_step = parse(body(sms(order=1), viber(order=2))).flow
    # transcode left out stays out: Routee then applies the application's own setting
    assert (sms_step.message.flash, sms_step.message.transcode, sms_step.message.label) == (False, None, None)
    assert "transcode" not in step_definition(sms_step)["message"]
    assert viber_step.expireOnDelivery is False


def test_voice_verb_defaults_and_recipient():
    (step,) = parse(body(voice())).flow
    verb = step.dialPlan.verbs[0]
    assert (verb.repeat, verb.bargeIn) == (1, False)
    assert step.recipient == PHONE
    assert step.machineDetection is None


def test_step_definition_uses_routee_field_names_and_drops_nones():
    steps = parse(REFERENCE_EXAMPLE).ordered_steps()
    viber_def, sms_def, voice_def = (step_definition(s) for s in steps)
    assert sms_def["from"] == "Brand" and "from_" not in sms_def
    assert voice_def["from"] == "302101234567" and voice_def["to"] == {"phone": PHONE}
    assert voice_def["dialPlan"]["verbs"][0]["type"] == "SAY"
    assert "label" not in viber_def  # None left out
    assert viber_def["message"]["imageUrl"] == "https://cdn.example.com/a.png"
    assert parse(body(sms(message={"body": "x"}))).flow[0].message.label is None
    assert "label" not in step_definition(parse(body(sms(message={"body": "x"}))).flow[0])["message"]


# --- phone numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [PHONE, OTHER_PHONE, "+306944444444", "+4915123456789", "+14155552671"])
@pytest.mark.parametrize("make", [viber, sms])
def test_valid_e164_recipients(make, number):
    assert parse(body(make(to=number))).flow[0].recipient == number


@pytest.mark.parametrize(
    "number",
    [
        "306912345678",  # no '+'
        "+447700900123",  # well-formed but not a valid number
        "+30 691 234 5678",  # not E.164 form
        "+30-6912345678",
        "+30691234567a",
        "+",
        "",
        "+3069123456789012345",
        "+306912345",  # too short
        "00306912345678",
    ],
)
@pytest.mark.parametrize("make", [viber, sms])
def test_invalid_recipients(make, number):
    assert_only_problem(body(make(to=number)), "flow[0].to")


@pytest.mark.parametrize("number", ["306912345678", "+447700900123", "+30 691 234 5678"])
def test_invalid_voice_recipient(number):
    assert_only_problem(body(voice(to={"phone": number})), "flow[0].to.phone")


@pytest.mark.parametrize(
    ("to", "address", "stored"),
    [
        (PHONE, PHONE, {"phone": PHONE}),  # a bare string is the phone
        ({"phone": PHONE, "viber": "", "sip": ""}, PHONE, {"phone": PHONE}),  # Routee's example: blanks are absent
        ({"sip": "sip:alice@example.com"}, "sip:alice@example.com", {"sip": "sip:alice@example.com"}),
        ({"viber": "306912345678"}, "306912345678", {"viber": "306912345678"}),
    ],
)
def test_voice_recipient_is_phone_viber_or_sip(to, address, stored):
    (step,) = parse(body(voice(to=to))).flow
    assert step.recipient == address
    assert step_definition(step)["to"] == stored


@pytest.mark.parametrize(
    "to", [{}, {"phone": "", "viber": "", "sip": ""}, {"sip": "alice"}, {"viber": "12"}, {"fax": PHONE}]
)
def test_voice_recipient_needs_one_valid_address(to):
    found = problems(body(voice(to=to)))
    assert found and all(key.startswith("flow[0].to") for key in found), found


def test_non_string_recipient_is_rejected():
    assert_only_problem(body(sms(to=306912345678)), "flow[0].to")


# --- sender ids -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [
        "Brand",
        "My Brand",
        "A1234567890",  # 11 alphanumeric
        "ABCDEFGHIJK",
        "1",
        "12345678901",
        "1234567890123456",  # 16 digits
        "306912345678",
    ],
)
def test_valid_sms_sender_ids(sender):
    assert parse(body(sms(**{"from": sender}))).flow[0].from_ == sender


@pytest.mark.parametrize(
    "sender",
    [
        "ABCDEFGHIJKL",  # 12 alphanumeric
        "Brand123456X",
        "12345678901234567",  # 17 digits
        "+306912345678",  # no '+'
        "Brand!",
        "Br-and",
        "Brånd",
        "",
    ],
)
def test_invalid_sms_sender_ids(sender):
    assert_only_problem(body(sms(**{"from": sender})), "flow[0].from")


@pytest.mark.parametrize("sender", ["Brand\n", "12345\n"])
def test_sender_id_with_trailing_newline_is_rejected(sender):
    assert_only_problem(body(sms(**{"from": sender})), "flow[0].from")


def test_sms_sender_is_required():
    step = sms()
    del step["from"]
    assert_only_problem(body(step), "flow[0].from")


@pytest.mark.parametrize("caller", ["302101234567", "+302101234567", "306912345678"])
def test_voice_caller_id_with_or_without_plus_keeps_its_spelling(caller):
    (step,) = parse(body(voice(**{"from": caller}))).flow
    assert step.from_ == caller


@pytest.mark.parametrize("caller", ["ASenderId", "Brand"])
def test_voice_caller_may_be_an_alphanumeric_sender(caller):
    assert parse(body(voice(**{"from": caller}))).flow[0].from_ == caller


@pytest.mark.parametrize("caller", ["12", "447700900123", "+30 210 1234567", "TwelveLetters", ""])
def test_invalid_voice_caller_id(caller):
    assert_only_problem(body(viber(order=1), voice(order=2, **{"from": caller})), "flow[1].from")


def test_viber_sender_info_tracking_id_must_not_be_empty():
    assert_only_problem(body(viber(senderInfoTrackingId="")), "flow[0].senderInfoTrackingId")


# --- ttl --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "ttl", "ok"),
    [
        (viber, 0.5, True),
        (viber, 2.5, True),
        (viber, 1440, True),
        (viber, 1440.0, True),
        (viber, 0.49, False),
        (viber, 0, False),
        (viber, -1, False),
        (viber, 1440.5, False),
        (viber, float("inf"), False),
        (viber, float("nan"), False),
        (sms, 1, True),
        (sms, 30, True),
        (sms, 1440, True),
        (sms, 0, False),
        (sms, 1441, False),
        (sms, 2.5, False),  # whole minutes only
        (sms, 4320, False),  # the single-SMS API allows it; Failover does not
        (voice, 1, True),
        (voice, 1440, True),
        (voice, 0, False),
        (voice, 1441, False),
        (voice, 0.5, False),
    ],
)
def test_ttl_ranges(make, ttl, ok):
    payload = body(make(ttl=ttl))
    if ok:
        assert parse(payload).flow[0].ttl_minutes == float(ttl)
    else:
        assert_only_problem(payload, "flow[0].ttl")


# --- order and number of steps ----------------------------------------------------------------------------


@pytest.mark.parametrize("order", [0, -1, 1001, "first"])
def test_order_range(order):
    assert_only_problem(body(sms(order=order)), "flow[0].order")


def test_order_is_required():
    step = sms()
    del step["order"]
    assert_only_problem(body(step), "flow[0].order")


def test_a_repeated_order_runs_in_array_order():
    # Routee's own how-to example repeats "order": 2; steps sort stably by (order, position in the array).
    request = parse(body(sms(order=2, to=OTHER_PHONE), viber(order=1), voice(order=2), sms(order=1)))
    assert [(s.type, s.order) for s in request.ordered_steps()] == [("Viber", 1), ("Sms", 1), ("Sms", 2), ("Voice", 2)]
    assert request.ordered_steps()[2].recipient == OTHER_PHONE


def test_orders_need_not_be_contiguous():
    assert [s.order for s in parse(body(sms(order=10), sms(order=1000))).ordered_steps()] == [10, 1000]


@pytest.mark.parametrize("count", [1, 2, MAX_STEPS])
def test_one_to_ten_steps_accepted(count):
    assert len(parse(body(*(sms(order=i + 1) for i in range(count)))).flow) == count


@pytest.mark.parametrize("payload", [body(), body(*(sms(order=i + 1) for i in range(MAX_STEPS + 1))), {}])
def test_step_count_outside_one_to_ten_is_rejected_on_flow(payload):
    assert_only_problem(payload, "flow")


def test_max_steps_is_ten():
    assert MAX_STEPS == 10


@pytest.mark.parametrize("flow", [None, "Sms", {"type": "Sms"}])
def test_flow_must_be_a_list(flow):
    assert "flow" in problems({"flow": flow})


# --- step type --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "step", [{"type": "Fax", "order": 1}, {"type": "sms", "order": 1}, {"order": 1}, {"type": None}]
)
def test_unknown_or_missing_step_type(step):
    message = assert_only_problem(body(sms(order=1), step), "flow[1].type")
    assert message == "must be one of Viber, Sms, Voice"


@pytest.mark.parametrize("make", [viber, sms, voice])
def test_unknown_fields_are_rejected(make):
    assert_only_problem(body(make(colour="blue")), "flow[0].colour")


def test_unknown_top_level_field_is_rejected():
    assert_only_problem(body(sms(), priority="high"), "priority")


def test_fields_of_another_channel_are_rejected():
    assert_only_problem(body(sms(senderInfoTrackingId="x")), "flow[0].senderInfoTrackingId")
    assert_only_problem(body(viber(expireOnDelivery=True, dialPlan={})), "flow[0].dialPlan")


# --- Viber content ----------------------------------------------------------------------------------------

TEXT = {"text": "Hello"}
IMAGE = {"imageUrl": "https://cdn.example.com/a.png"}
BUTTON = {"action": {"caption": "Open", "targetUrl": "https://example.com/open"}}


@pytest.mark.parametrize(
    ("message", "ok"),
    [
        (TEXT, True),
        (IMAGE, True),
        ({**TEXT, **BUTTON}, True),
        ({**TEXT, **IMAGE, **BUTTON}, True),
        ({**TEXT, **IMAGE}, False),  # text+image without a button
        ({**IMAGE, **BUTTON}, False),
        (BUTTON, False),
        ({}, False),
    ],
)
def test_viber_content_combinations(message, ok):
    payload = body(viber(message=message))
    if ok:
        parsed = parse(payload).flow[0].message
        assert (parsed.text, parsed.imageUrl) == (message.get("text"), message.get("imageUrl"))
    else:
        assert "one of" in assert_only_problem(payload, "flow[0].message")


def test_viber_accepts_image_url_request_spelling():
    (step,) = parse(body(viber(message={"imageURL": "https://cdn.example.com/a.png"}))).flow
    assert step.message.imageUrl == "https://cdn.example.com/a.png"
    assert step_definition(step)["message"] == {"imageUrl": "https://cdn.example.com/a.png"}


@pytest.mark.parametrize(
    ("text", "ok"),
    [("x", True), ("x" * 1000, True), ("é" * 1000, True), ("x" * 1001, False), ("", False)],
)
def test_viber_text_length(text, ok):
    payload = body(viber(message={"text": text}))
    if ok:
        assert parse(payload).flow[0].message.text == text
    else:
        assert_only_problem(payload, "flow[0].message.text")


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ({**TEXT, "imageUrl": "http://cdn.example.com/a.png", **BUTTON}, "flow[0].message.imageUrl"),
        ({"imageUrl": "cdn.example.com/a.png"}, "flow[0].message.imageUrl"),
        ({"imageUrl": "https://" + "a" * 1000}, "flow[0].message.imageUrl"),
        ({**TEXT, "action": {"caption": "", "targetUrl": "https://e.com"}}, "flow[0].message.action.caption"),
        ({**TEXT, "action": {"caption": "x" * 31, "targetUrl": "https://e.com"}}, "flow[0].message.action.caption"),
        ({**TEXT, "action": {"caption": "Go", "targetUrl": "http://e.com"}}, "flow[0].message.action.targetUrl"),
        ({**TEXT, "action": {"caption": "Go"}}, "flow[0].message.action.targetUrl"),
        ({**TEXT, "video": "https://e.com/v.mp4"}, "flow[0].message.video"),
    ],
)
def test_viber_content_field_errors(message, key):
    assert key in problems(body(viber(message=message)))


def test_viber_button_caption_up_to_30():
    action = {"caption": "x" * 30, "targetUrl": "https://example.com/a?b=c"}
    assert parse(body(viber(message={**TEXT, "action": action}))).flow[0].message.action.caption == "x" * 30


# --- SMS message ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ({"body": ""}, "flow[0].message.body"),
        ({}, "flow[0].message.body"),
        ({"body": "x", "label": "l" * 351}, "flow[0].message.label"),
        ({"body": "x", "flash": "sometimes"}, "flow[0].message.flash"),
        ({"body": "x", "unicode": True}, "flow[0].message.unicode"),
    ],
)
def test_sms_message_errors(message, key):
    assert_only_problem(body(sms(message=message)), key)


def test_sms_label_up_to_350():
    assert parse(body(sms(message={"body": "x", "label": "l" * 350}))).flow[0].message.label == "l" * 350


# --- Voice dial plan --------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", SAY_LANGUAGES)
@pytest.mark.parametrize("gender", ["male", "female"])
def test_say_languages_and_genders(language, gender):
    verb = say(message={"text": "Hi", "language": language, "gender": gender})
    parsed = parse(body(voice(dialPlan={"verbs": [verb]}))).flow[0].dialPlan.verbs[0]
    assert (parsed.message.language, parsed.message.gender) == (language, gender)


def test_say_languages_are_the_reference_list():
    assert set(SAY_LANGUAGES) == {
        "en-US", "de-DE", "fr-FR", "it-IT", "pt-BR", "es-ES", "es-LA",
        "en-GB", "el-GR", "bg-BG", "pl-PL", "hu-HU", "sv-SE", "ru-RU",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("verb", "key"),
    [
        (
            say(message={"text": "Hi", "language": "en-us", "gender": "male"}),
            "flow[0].dialPlan.verbs[0].message.language",
        ),
        (
            say(message={"text": "Hi", "language": "ja-JP", "gender": "male"}),
            "flow[0].dialPlan.verbs[0].message.language",
        ),
        (
            say(message={"text": "Hi", "language": "en-US", "gender": "other"}),
            "flow[0].dialPlan.verbs[0].message.gender",
        ),
        (say(message={"text": "Hi", "language": "en-US"}), "flow[0].dialPlan.verbs[0].message.gender"),
        (say(message={"text": "", "language": "en-US", "gender": "male"}), "flow[0].dialPlan.verbs[0].message.text"),
        (
            say(message={"text": "x" * 1001, "language": "en-US", "gender": "male"}),
            "flow[0].dialPlan.verbs[0].message.text",
        ),
        (say(repeat=0), "flow[0].dialPlan.verbs[0].repeat"),
        (say(repeat=11), "flow[0].dialPlan.verbs[0].repeat"),
        ({"type": "PLAY", "fileURL": "https://example.com/a.mp3"}, "flow[0].dialPlan.verbs[0].fileURL"),
        ({"type": "PLAY", "fileURL": "ftp://example.com/a.wav"}, "flow[0].dialPlan.verbs[0].fileURL"),
        ({"type": "PLAY"}, "flow[0].dialPlan.verbs[0].fileURL"),
    ],
)
def test_voice_verb_errors(verb, key):
    assert_only_problem(body(voice(dialPlan={"verbs": [verb]})), key)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.wav",
        "https://example.com/A.WAV",
        "https://example.com/a.wav?sig=abc",
        "https://e.com/x/y.wav",
        "http://www.externalharddrive.com/waves/animal/monkey.wav",  # Routee's example: http
    ],
)
def test_play_verb_takes_a_wav_file(url):
    verb = (
        parse(body(voice(dialPlan={"verbs": [{"type": "PLAY", "fileURL": url, "repeat": 10}]})))
        .flow[0]
        .dialPlan.verbs[0]
    )
    assert (verb.type, verb.fileURL, verb.repeat) == ("PLAY", url, 10)


@pytest.mark.parametrize("verbs", [[], [say()] * 11])
def test_dial_plan_has_one_to_ten_verbs(verbs):
    assert_only_problem(body(voice(dialPlan={"verbs": verbs})), "flow[0].dialPlan.verbs")


def test_dial_plan_verbs_run_in_sequence():
    play = {"type": "PLAY", "repeat": 2, "fileURL": "http://example.com/a.wav", "bargeIn": False}
    (step,) = parse(body(voice(dialPlan={"verbs": [play, say(repeat=3)]}))).flow
    assert [(v.type, v.repeat) for v in step.dialPlan.verbs] == [("PLAY", 2), ("SAY", 3)]


def test_dial_plans_spelling_is_accepted():
    step = voice()
    step["dialPlans"] = step.pop("dialPlan")
    assert parse(body(step)).flow[0].dialPlan.verbs[0].type == "SAY"


def test_unknown_verb_type_is_reported_on_the_verb_type():
    assert list(problems(body(voice(dialPlan={"verbs": [{"type": "DIAL"}]})))) == ["flow[0].dialPlan.verbs[0].type"]


def test_unknown_verb_type_message_names_the_verb_types():
    message = problems(body(voice(dialPlan={"verbs": [{"type": "DIAL"}]})))["flow[0].dialPlan.verbs[0].type"]
    assert "Viber" not in message
    assert "SAY" in message and "PLAY" in message


@pytest.mark.parametrize(("strategy", "ok"), [("Hangup", True), ("Continue", True), ("hangup", False), ("Beep", False)])
def test_machine_detection_strategy(strategy, ok):
    payload = body(voice(machineDetection={"strategy": strategy}))
    if ok:
        assert parse(payload).flow[0].machineDetection.strategy == strategy
    else:
        assert_only_problem(payload, "flow[0].machineDetection.strategy")


# --- failoverOnStatuses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "given", "stored"),
    [
        (viber, ["expired", "Failed", "UNDELIVERED"], ["EXPIRED", "FAILED", "UNDELIVERED"]),
        (viber, ["expired"], ["EXPIRED"]),
        (sms, ["UNDELIVERED", "failed"], ["Undelivered", "Failed"]),
        (sms, ["Failed", "FAILED", "failed"], ["Failed"]),  # repeated spellings collapse
        (voice, ["BUSY", "noanswer", "failed"], ["Busy", "NoAnswer", "Failed"]),
        (voice, ["Failed"], ["Failed"]),
        (
            voice,
            ["completed", "Busy", "NoAnswer", "failed", "Unsent", "terminated", "unknown"],
            ["Completed", "Busy", "NoAnswer", "Failed", "Unsent", "Terminated", "Unknown"],
        ),
        (sms, ["network error"], ["Network Error"]),
    ],
)
def test_failover_statuses_are_matched_case_insensitively_and_stored_canonically(make, given, stored):
    assert parse(body(make(failoverOnStatuses=given))).flow[0].failoverOnStatuses == stored


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (viber, "Busy"),  # another channel's status
        (viber, "DELIVERED"),  # success
        (viber, "SEEN"),
        (viber, "UNSENT"),  # no balance ends the flow, never fails over
        (viber, "QUEUED"),  # not final
        (sms, "Delivered"),
        (sms, "Unsent"),
        (sms, "Sent"),
        (sms, "Expired"),  # a detailedStatus, not a status
        (sms, "NoAnswer"),
        (voice, "Ringing"),
        (voice, "Undelivered"),
        (voice, "nope"),
    ],
)
def test_unknown_or_non_failover_status_is_an_error(make, status):
    key = "flow[0].failoverOnStatuses"
    message = assert_only_problem(body(make(failoverOnStatuses=[status])), key)
    assert status in message


@pytest.mark.parametrize("value", ["Failed", [1], {"Failed": True}])
def test_failover_statuses_must_be_a_list_of_strings(value):
    found = problems(body(sms(failoverOnStatuses=value)))
    assert found and all(key.startswith("flow[0].failoverOnStatuses") for key in found), found


def test_failover_status_error_is_reported_on_its_step():
    found = problems(body(viber(order=1), sms(order=2, failoverOnStatuses=["Failed", "Busy"])))
    assert list(found) == ["flow[1].failoverOnStatuses"]
    assert "Busy" in found["flow[1].failoverOnStatuses"]


# --- callback ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["OnChange", "OnCompletion"])
@pytest.mark.parametrize("url", ["https://client.example.com/hook", "http://client.example.com:8080/hook?x=1"])
def test_callback_accepted(url, strategy):
    assert parse(body(sms(), callback={"url": url, "strategy": strategy})).callback == Callback(
        url=url, strategy=strategy
    )


def test_callback_strategy_defaults_to_on_change():
    assert parse(body(sms(), callback={"url": "https://e.com/h"})).callback.strategy == "OnChange"


@pytest.mark.parametrize(
    ("callback", "key"),
    [
        ({"url": "https://e.com/h", "strategy": "Always"}, "callback.strategy"),
        ({"url": "https://e.com/h", "strategy": "onchange"}, "callback.strategy"),
        ({"url": "https://e.com/h", "strategy": None}, "callback.strategy"),
        ({"url": "ftp://e.com/h"}, "callback.url"),
        ({"url": "e.com/h"}, "callback.url"),
        ({"url": "https://e.com/a b"}, "callback.url"),
        ({"url": "https://e.com/" + "a" * 2000}, "callback.url"),
        ({"strategy": "OnChange"}, "callback.url"),
        ({"url": "https://e.com/h", "secret": "x"}, "callback.secret"),
    ],
)
def test_callback_errors(callback, key):
    assert_only_problem(body(sms(), callback=callback), key)


def test_callback_url_with_trailing_newline_is_rejected():
    assert_only_problem(body(sms(), callback={"url": "https://client.example.com/hook\n"}), "callback.url")


# --- scheduledDate ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        datetime.now(UTC) + timedelta(hours=1),
        datetime.now(UTC) + timedelta(days=300),
        datetime.now(timezone(timedelta(hours=2))) + timedelta(days=1),
        (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),  # Routee's wire form
    ],
)
def test_scheduled_date_accepted(when):
    scheduled = parse(body(sms(), scheduledDate=when)).scheduledDate
    assert scheduled is not None and scheduled.utcoffset() is not None


@pytest.mark.parametrize(
    "when",
    [
        (datetime.now(UTC) + timedelta(days=400)).isoformat(),
        (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat(),  # no timezone
        "tomorrow",
    ],
)
def test_scheduled_date_rejected(when):
    assert_only_problem(body(sms(), scheduledDate=when), "scheduledDate")


# --- error properties -------------------------------------------------------------------------------------


def test_several_problems_are_all_reported_with_routee_paths():
    payload = body(
        viber(order=1, to="12345", message={"text": ""}),
        sms(order=2, **{"from": "Not a valid id"}),
        callback={"url": "https://e.com/h", "strategy": "Sometimes"},
    )
    assert set(problems(payload)) == {"flow[0].to", "flow[0].message.text", "flow[1].from", "callback.strategy"}


def test_messages_lose_the_value_error_prefix():
    message = problems(body(sms(to="306912345678")))["flow[0].to"]
    assert not message.startswith("Value error")
    assert "E.164" in message


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("flow", 0, "Viber", "message", "text"), "flow[0].message.text"),
        (("flow", 1, "Sms", "from"), "flow[1].from"),
        (
            ("flow", 2, "Voice", "dialPlan", "verbs", 0, "SAY", "message", "language"),
            "flow[2].dialPlan.verbs[0].message.language",
        ),
        (("flow", 0, "Sms", "message", "body"), "flow[0].message.body"),  # SMS field named body is kept
        (("body", "flow", 0, "Sms", "to"), "flow[0].to"),  # a leading request-body marker is dropped
        (("callback", "strategy"), "callback.strategy"),
        (("flow",), "flow"),
        (("flow", 0, "Voice", "to", "function-after[_e164(), str]", "phone"), "flow[0].to.phone"),
        ((), "body"),
        (("body",), "body"),
        ([], "body"),
    ],
)
def test_field_path(loc, expected):
    assert field_path(loc) == expected


def test_error_properties_special_cases():
    errors = [
        {"type": "json_invalid", "loc": ("body", 12), "msg": "Invalid JSON: EOF"},
        {"type": "union_tag_invalid", "loc": ("flow", 3), "msg": "bad tag"},
        {"type": "union_tag_not_found", "loc": (), "msg": "Unable to extract tag"},
        {"type": "value_error", "loc": ("flow", 0, "Sms", "from"), "msg": "Value error, bad sender"},
        {"type": "string_too_long", "loc": ("flow", 0, "Sms", "from"), "msg": "too long"},
        {"type": "missing", "loc": ("callback", "url")},
    ]
    assert error_properties(errors) == {
        "body": "is not valid JSON",
        "flow[3].type": "must be one of Viber, Sms, Voice",
        "type": "Unable to extract tag",
        "flow[0].from": "bad sender; too long",  # several messages for one field are joined
        "callback.url": "invalid",
    }


def test_error_properties_of_nothing_is_empty():
    assert error_properties([]) == {}


def test_error_properties_from_invalid_json():
    with pytest.raises(ValidationError) as caught:
        FailoverRequest.model_validate_json('{"flow": [')
    assert error_properties(caught.value.errors()) == {"body": "is not valid JSON"}


# --- Routee's other documented fields -------------------------------------------------------------------


def test_viber_inbound_url_label_file_and_video():
    file = {"fileName": "invoice.pdf", "fileType": "pdf", "fileUrl": "https://example.com/invoice.pdf"}
    video = {"videoURL": "https://example.com/v.mp4", "thumbnailUrl": "https://example.com/t.png", "duration": 10}
    steps = [
        viber(order=1, inboundUrl="https://example.com/inbound", label="otp", message={"viberFile": file}),
        viber(order=2, message={"text": "Watch", "viberVideo": video}),
        viber(order=3, viberFile=file, message={}),  # beside the message, as the reference's table lists it
    ]
    first, second, third = (step_definition(s) for s in parse(body(*steps)).ordered_steps())
    assert (first["inboundUrl"], first["label"], first["message"]["viberFile"]) == (
        "https://example.com/inbound",
        "otp",
        file,
    )
    assert second["message"]["viberVideo"]["videoUrl"] == "https://example.com/v.mp4"
    assert third["message"] == {"viberFile": file}


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ({"viberFile": {"fileName": "x" * 26, "fileType": "pdf", "fileUrl": "https://e.com/a"}}, "fileName"),
        ({"viberFile": {"fileName": "a.pdf", "fileType": "pdf", "fileUrl": "http://e.com/a"}}, "fileUrl"),
        ({"viberVideo": {"videoUrl": "http://e.com/v.mp4"}}, "videoUrl"),
        ({"text": "x", "viberFile": {"fileName": "a", "fileType": "pdf", "fileUrl": "https://e.com/a"}}, "message"),
    ],
)
def test_viber_attachment_errors(message, key):
    found = problems(body(viber(message=message)))
    assert any(k.endswith(key) for k in found), found


@pytest.mark.parametrize(("ttl", "ok"), [(0.5, True), (12.3, True), (1440.0, True), (1.25, False), (0.55, False)])
def test_viber_ttl_has_at_most_one_decimal_place(ttl, ok):
    if ok:
        assert parse(body(viber(ttl=ttl))).flow[0].ttl == ttl
    else:
        assert "decimal" in assert_only_problem(body(viber(ttl=ttl)), "flow[0].ttl")


@pytest.mark.parametrize("shortener", [True, {"domain": "rt.ee"}])
def test_sms_url_shortener_and_restrictions_are_kept(shortener):
    request = parse(body(sms(message={"body": "x", "urlShortener": shortener}), restrictions={"quietHours": True}))
    assert step_definition(request.flow[0])["message"]["urlShortener"] == shortener
    assert request.restrictions == {"quietHours": True}


def test_sms_url_shortener_must_be_an_object_or_boolean():
    found = problems(body(sms(message={"body": "x", "urlShortener": "yes"})))
    assert found and all(k.startswith("flow[0].message.urlShortener") for k in found), found
