"""JSON bodies parsed with limits, and the one media type the API accepts.

The standard library's json.loads recurses once per nesting level (about 1,000 levels raise RecursionError),
converts integers of any length (over 4,300 digits raise ValueError), and accepts NaN, Infinity and numbers
like 1e999 that become inf. Every request body (the API and the provider webhooks) goes through `loads`
instead, which refuses all of these with a BodyProblem that names the limit, before anything else runs.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32  # the deepest legitimate body (a Voice step's verb message) is 6 levels deep
MAX_NUMBER_LENGTH = 32  # characters of one number literal: no field needs more than a double's 17 digits
MAX_STRING_LENGTH = 16_384  # characters of one string or key: above every field's own cap (an SMS body: 10,000)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class BodyProblem(ValueError):
    """A body outside the limits; the message names the problem and goes to the client as is."""


def loads(text: str | bytes) -> Any:
    """json.loads with bounded depth, numbers and strings. Raises BodyProblem, or json.JSONDecodeError."""
    if isinstance(text, bytes | bytearray):
        text = text.decode()
    _check_depth(text)
    value = json.loads(
        text,
        parse_int=_integer,
        parse_float=_real,
        parse_constant=_constant,
    )
    _check_strings(value)
    return value


def _check_depth(text: str) -> None:
    """Counts brackets outside strings, without recursion; invalid JSON is left to the parser."""
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            raise BodyProblem(f"is nested deeper than {MAX_DEPTH} levels")


def _integer(literal: str) -> int:
    if len(literal) > MAX_NUMBER_LENGTH:
        raise BodyProblem(f"has a number longer than {MAX_NUMBER_LENGTH} characters")
    return int(literal)


def _real(literal: str) -> float:
    if len(literal) > MAX_NUMBER_LENGTH:
        raise BodyProblem(f"has a number longer than {MAX_NUMBER_LENGTH} characters")
    value = float(literal)
    if not math.isfinite(value):
        raise BodyProblem(f"has a number out of range ({literal})")
    return value


def _constant(name: str) -> Any:
    raise BodyProblem(f"has {name}, which is not a JSON number")


def _check_strings(value: Any) -> None:
    stack = [value]  # iterative: depth is already bounded, but a wide body should not recurse either
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) > MAX_STRING_LENGTH:
                raise BodyProblem(f"has a string longer than {MAX_STRING_LENGTH} characters")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# ---------------------------------------------------------------------------------------------------------
# Content negotiation: Routee documents `Content-Type: application/json`
# ---------------------------------------------------------------------------------------------------------

JSON_MEDIA_TYPE = "application/json"
_CHARSETS = {"utf-8", "utf8"}


def media_type_problem(content_type: str | None) -> str | None:
    """Why a request body's Content-Type is refused, or None for application/json (optionally ;charset=utf-8)."""
    if not content_type or not content_type.strip():
        return f"is missing; send {JSON_MEDIA_TYPE}"
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    if media_type.lower() != JSON_MEDIA_TYPE:
        return f"must be {JSON_MEDIA_TYPE}, not {media_type[:100]!r}"
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in _CHARSETS:
            return f"must be {JSON_MEDIA_TYPE}, optionally with charset=utf-8"
    return None
