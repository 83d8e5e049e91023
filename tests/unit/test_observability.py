"""Phone numbers never reach a log line in full; ARNs, UUIDs and other ids are left alone."""

import io
import json
import logging
import re

import pytest

from failover import observability
from failover.observability import MaskingFormatter, mask_fields, mask_phone, mask_text

PHONE = "+306912345678"
ARN = "arn:aws:states:eu-west-1:123456789012:execution:FailoverFlow:5b7e0b8e-1f7b-4c6e-9a49-2d7bfa0c9f11"
UUID = "5b7e0b8e-1f7b-4c6e-9a49-2d7bfa0c9f11"


# --- mask_phone: one number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (PHONE, "+3069*****678"),
        ("+306900000100", "+3069*****100"),
        ("306912345678", "30691****678"),  # without its '+'
        ("+4915123456789", "+4915******789"),
        ("+14155552671", "+1415****671"),
    ],
)
def test_phone_numbers_are_masked(number, expected):
    assert mask_phone(number) == expected


@pytest.mark.parametrize("value", ["Brand", "sip:alice@example.com", "123456", "", "+30 691 234"])
def test_a_field_value_that_is_no_phone_number_is_left_alone(value):
    assert mask_phone(value) == value


@pytest.mark.parametrize("digits", range(9, 16))
@pytest.mark.parametrize("plus", ["+", ""])
def test_mask_keeps_length_first_and_last_digits(digits, plus):
    number = plus + "".join(str((i * 7 + 3) % 10) for i in range(digits))
    masked = mask_phone(number)
    assert len(masked) == len(number)
    assert masked[:5] == number[:5] and masked[-3:] == number[-3:]
    assert set(masked[5:-3]) == {"*"}
    assert masked != number


@pytest.mark.parametrize("number", ["+6907290", "+5005123", "1234567", "12345678"])
def test_short_numbers_are_masked_too(number):
    # +6907290 (Tokelau) is a valid E.164 number that the request validation accepts.
    masked = mask_phone(number)
    assert "*" in masked
    assert len(masked) == len(number)
    assert number not in masked


# --- mask_text: free text (messages, exceptions) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sending to +306912345678 now", "sending to +3069*****678 now"),
        ('{"to": "+306912345678"}', '{"to": "+3069*****678"}'),
        ('{"phone":"306912345678"}', '{"phone":"30691****678"}'),  # a phone field quoted in JSON, without '+'
        ("sent to +306912345678.", "sent to +3069*****678."),
        ("+306912345678,+306900000100", "+3069*****678,+3069*****100"),
        ("(+306912345678)", "(+3069*****678)"),
    ],
)
def test_phone_numbers_in_text_are_masked(text, expected):
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        ARN,
        UUID,
        "12345678-1234-1234-1234-123456789012",  # a UUID whose groups are all digits
        f"{UUID}.0",  # a step id
        "arn:aws:lambda:eu-west-1:123456789012:function:send-step",
        "2024-07-10T03:32:32.916Z",
        "2024-07-10 03:32:32,916+0000",
        "price 0.035 EUR",
        "code 123456",
        "order 1000, ttl 1440, timeout 86400",
        '"expiresAt": 1712345678',  # issue 17: the old regex made this 17123**678
        "token expires at 1712345678",
        '{"expiresAt": "1712345678"}',
        "abc1234567890",
        "req-1234567890",
        "",
        "no digits at all",
    ],
)
def test_ids_and_other_numbers_in_text_are_left_alone(text):
    assert mask_text(text) == text


def test_mask_is_idempotent():
    once = mask_text(f'to {PHONE} and {{"to": "306900000100"}}')
    assert "*****" in once and mask_text(once) == once


# --- mask_fields: by field, exactly ------------------------------------------------------------------------------


def test_phone_fields_are_masked_at_any_depth_and_nothing_else():
    others = {
        "expiresAt": 1712345678,
        "createdAt": "1712345678",
        "latency": 4123456789,
        "sequence": 12345678,
        "trackingId": UUID,
        "flag": True,
        "definition": {"to": {"sip": "sip:a@b.c"}, "from": "Brand", "ttl": 86400},
    }
    log = {**others, "to": PHONE, "from": "306900000100", "recipients": [PHONE, 306900000100]}
    log["definition"] = {**others["definition"], "to": {"sip": "sip:a@b.c", "phone": PHONE}}
    masked = mask_fields(log)
    assert (masked["to"], masked["from"]) == ("+3069*****678", "30690****100")
    assert masked["recipients"] == ["+3069*****678", "30690****100"]
    assert masked["definition"]["to"] == {"phone": "+3069*****678", "sip": "sip:a@b.c"}
    masked["definition"]["to"] = others["definition"]["to"]
    assert {key: masked[key] for key in others} == others  # every other value exactly as it was


# --- the Logger -------------------------------------------------------------------------------------------


@pytest.fixture
def log_lines():
    """What the product's Logger writes, one JSON object per line (its handler's stream swapped for a buffer)."""
    logger = observability.logger
    handler = logger.registered_handler
    buffer = io.StringIO()
    previous_stream = handler.setStream(buffer)
    previous_level = logger.log_level
    logger.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        logger.setLevel(previous_level)
        handler.setStream(previous_stream)


def test_logger_uses_the_masking_formatter():
    assert isinstance(observability.logger.registered_formatter, MaskingFormatter)
    assert observability.logger.service == "failover"


def test_log_message_and_extra_keys_are_masked(log_lines):
    observability.logger.info(
        f"Step sent to {PHONE}",
        extra={"to": PHONE, "recipients": [PHONE, "306900000100"], "trackingId": UUID, "execution": ARN},
    )
    (line,) = log_lines()
    assert line["message"] == "Step sent to +3069*****678"
    assert line["to"] == "+3069*****678"
    assert line["recipients"] == ["+3069*****678", "30690****100"]
    assert line["trackingId"] == UUID
    assert line["execution"] == ARN
    assert line["level"] == "INFO" and line["service"] == "failover"


def test_other_numbers_survive_in_the_line(log_lines):
    observability.logger.info("token issued", extra={"expiresAt": 1712345678, "to": PHONE, "count": "1234567"})
    (line,) = log_lines()
    assert (line["expiresAt"], line["count"], line["to"]) == (1712345678, "1234567", "+3069*****678")


def test_no_full_phone_number_anywhere_in_the_line(log_lines):
    observability.logger.warning("refused", extra={"definition": {"to": {"phone": PHONE}, "from": "306900000100"}})
    (line,) = log_lines()
    raw = json.dumps(line["definition"])
    assert not re.search(r"\d{7,}", raw), raw
    assert line["definition"]["to"]["phone"] == "+3069*****678"


def test_exception_text_is_masked(log_lines):
    try:
        raise ValueError(f"provider rejected {PHONE}")
    except ValueError:
        observability.logger.exception("send failed")
    (line,) = log_lines()
    assert line["exception_name"] == "ValueError"
    assert "+3069*****678" in line["exception"]
    assert PHONE not in line["exception"]


def test_lines_below_the_level_are_not_written(log_lines):
    observability.logger.debug(f"debug {PHONE}")
    observability.logger.info("kept")
    assert [line["message"] for line in log_lines()] == ["kept"]


def test_formatter_masks_a_plain_record():
    record = logging.LogRecord("failover", logging.INFO, __file__, 1, "call %s for %s", (PHONE, UUID), None)
    line = json.loads(MaskingFormatter().format(record))
    assert line["message"] == f"call +3069*****678 for {UUID}"
