"""What happens to a simulated message: outcomes by magic number, prices, SMS parts.

The recipient's last three digits pick the outcome: hundreds → Viber, tens → SMS, units → Voice.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

VIBER, SMS, VOICE = "Viber", "Sms", "Voice"

# Digits whose send is refused at once rather than reported by receipts.
REFUSE_BALANCE = 5  # 400 / 400001009
REFUSE_AUTH = 6  # 401 on every call
REFUSE_FIRST = 9  # the first send for (channel, recipient) answers 503

PRICES = {VIBER: 0.035, SMS: 0.036, VOICE: 0.012}  # EUR per Viber message, per SMS part, per call
VOICE_ANSWERED_SECONDS = 14  # duration reported for an answered call
VOICE_LATE_COMPLETION = 60.0  # digit 7: the call completes this long after the send

FINAL = {
    VIBER: {"DELIVERED", "SEEN", "UNDELIVERED", "EXPIRED", "FAILED", "UNSENT"},
    SMS: {"Delivered", "Undelivered", "Failed", "Unsent"},
    VOICE: {"Completed", "Busy", "NoAnswer", "Failed", "Unsent", "Terminated"},
}

DESCRIPTIONS = {
    "Sent": "The message has been sent to the operator",
    "Delivered": "The message has been delivered to the handset",
    "Undelivered": "The message could not be delivered",
    "Expired": "The message expired before it could be delivered",
    "Failed": "The message could not be sent",
    "Seen": "The message has been seen by the recipient",
    "Not Viber User": "The recipient is not a Viber user",
    "System Failure": "The message failed because of a system failure",
}


@dataclass(frozen=True)
class Delays:
    """Seconds before scaling by the time scale."""

    first: float = 2.0  # from the send to its first receipt
    between: float = 2.0  # between successive receipts of one message


@dataclass(frozen=True)
class Event:
    at: float  # seconds after the send, before scaling
    status: str
    detailed: str | None = None


def outcome_digit(channel: str, recipient: str) -> int:
    """The outcome digit of `recipient` for `channel`; 0 when its last three characters are not all digits."""
    tail = recipient[-3:]
    if len(tail) < 3 or not tail.isdigit():
        return 0
    return int(tail[{VIBER: 0, SMS: 1, VOICE: 2}[channel]])


def script(channel: str, digit: int, delays: Delays, ttl_seconds: float) -> list[Event]:
    """The statuses a message accepted with outcome `digit` goes through, in order."""
    first, step = delays.first, delays.between
    if digit in (REFUSE_BALANCE, REFUSE_AUTH):
        return []  # refused at send: there is no message to report on
    if digit == REFUSE_FIRST:
        digit = 0  # the repeated send is accepted and behaves like digit 0

    if channel == VIBER:
        table = {
            0: [Event(first, "DELIVERED", "Delivered"), Event(first + step, "SEEN", "Seen")],
            1: [Event(first, "UNDELIVERED", "Not Viber User")],
            2: [],
            3: [Event(first, "FAILED", "System Failure")],
            4: [Event(first, "DELIVERED", "Delivered")],
            7: [Event(ttl_seconds + first, "DELIVERED", "Delivered")],
            8: _twice_then_stale("DELIVERED", "Delivered", "QUEUED", None, first, step),
        }
    elif channel == SMS:
        table = {
            0: [Event(first, "Sent", "Sent"), Event(first + step, "Delivered", "Delivered")],
            1: [Event(first, "Sent", "Sent"), Event(first + step, "Undelivered", "Undelivered")],
            2: [Event(first, "Sent", "Sent")],
            3: [Event(first, "Failed", "Failed")],
            4: [Event(first, "Undelivered", "Expired")],
            7: [Event(first, "Sent", "Sent"), Event(ttl_seconds + first, "Delivered", "Delivered")],
            8: [
                Event(first, "Sent", "Sent"),
                *_twice_then_stale("Delivered", "Delivered", "Sent", "Sent", first + step, step),
            ],
        }
    else:
        table = {
            0: [Event(first, "Ringing"), Event(first + step, "Completed")],
            1: [Event(first, "Ringing"), Event(first + step, "NoAnswer")],
            2: [Event(first, "Ringing")],
            3: [Event(first, "Failed")],
            4: [Event(first, "Busy")],
            7: [Event(first, "Ringing"), Event(max(VOICE_LATE_COMPLETION, first + step), "Completed")],
            8: [Event(first, "Ringing"), *_twice_then_stale("Completed", None, "Ringing", None, first + step, step)],
        }
    return table[digit]


def _twice_then_stale(
    final: str, final_detail: str | None, stale: str, stale_detail: str | None, at: float, step: float
) -> list[Event]:
    return [
        Event(at, final, final_detail),
        Event(at + step, final, final_detail),
        Event(at + 2 * step, stale, stale_detail),
    ]


# ---------------------------------------------------------------------------------------------------------
# SMS parts: GSM 03.38 (160 characters, 153 per part when split) or UCS-2 (70, 67 per part)
# ---------------------------------------------------------------------------------------------------------

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")  # two septets each
# Greek capitals that look like Latin ones; the rest of the Greek capitals are in the GSM set.
_GREEK_TO_LATIN = str.maketrans("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX")


def transcode(text: str) -> str:
    """Routee's transcoding, roughly: drop accents and write Greek in capitals, so more texts fit GSM."""
    stripped = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    out = []
    for char in stripped:
        if "\u0370" <= char <= "\u03ff":
            char = char.upper().translate(_GREEK_TO_LATIN)
        out.append(char)
    return "".join(out)


def body_analysis(body: str, transcode_body: bool = False) -> dict[str, int | bool]:
    text = transcode(body) if transcode_body else body
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        characters = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        single, per_part, unicode = 160, 153, False
    else:
        characters = sum(2 if ord(c) > 0xFFFF else 1 for c in text)  # UTF-16 code units
        single, per_part, unicode = 70, 67, True
    parts = 1 if characters <= single else math.ceil(characters / per_part)
    return {"parts": parts, "unicode": unicode, "characters": characters}


COUNTRIES = {"+30": "GR", "+44": "GB", "+49": "DE", "+33": "FR", "+39": "IT", "+34": "ES", "+357": "CY", "+1": "US"}


def country_of(number: str) -> str:
    for prefix in sorted(COUNTRIES, key=len, reverse=True):
        if number.startswith(prefix):
            return COUNTRIES[prefix]
    return "GR"
