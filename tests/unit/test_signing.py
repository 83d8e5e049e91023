"""Signed callback tokens: <step id>.<HMAC-SHA256(step id), base64url without padding>."""

import base64
import hashlib
import hmac
import re

import pytest

from failover.signing import CallbackSigner, parse_step_id, step_id

SECRET = "s3cret-for-tests"
TRACKING_ID = "5b7e0b8e-1f7b-4c6e-9a49-2d7bfa0c9f11"


def signer(secret=SECRET):
    return CallbackSigner(lambda: secret)


def expected_mac(message, secret=SECRET):
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@pytest.mark.parametrize("index", [0, 1, 9])
def test_token_is_step_id_dot_hmac(index):
    sid = step_id(TRACKING_ID, index)
    token = signer().sign(sid)
    assert token == f"{TRACKING_ID}.{index}.{expected_mac(sid)}"
    mac = token.rpartition(".")[2]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", mac)  # 32 bytes, base64url, no padding: safe in a URL path


@pytest.mark.parametrize("sid", [step_id(TRACKING_ID, 0), step_id(TRACKING_ID, 12), "x", "a.b.c", "ünïcode.3"])
def test_verify_returns_the_signed_step_id(sid):
    s = signer()
    assert s.verify(s.sign(sid)) == sid


def test_signing_is_deterministic_and_per_step():
    s = signer()
    assert s.sign("t.0") == s.sign("t.0")
    assert s.sign("t.0") != s.sign("t.1")


def test_token_from_another_secret_is_rejected():
    token = signer("other secret").sign(step_id(TRACKING_ID, 0))
    assert signer().verify(token) is None


def test_token_cannot_be_moved_to_another_step():
    mac = signer().sign(step_id(TRACKING_ID, 0)).rpartition(".")[2]
    assert signer().verify(f"{step_id(TRACKING_ID, 1)}.{mac}") is None
    assert signer().verify(f"{step_id('another-flow', 0)}.{mac}") is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # last mac character changed
        lambda t: t + "A",  # mac too long
        lambda t: t[:-1],  # mac too short
        lambda t: t + "=",  # padded
        lambda t: t.upper(),
        lambda t: t.replace(".", "", 1),  # step id changed
        lambda t: "X" + t,
    ],
)
def test_tampered_token_is_rejected(tamper):
    token = signer().sign(step_id(TRACKING_ID, 0))
    assert signer().verify(tamper(token)) is None


@pytest.mark.parametrize("token", [None, "", ".", "abc", "abc.", ".abc", "..", f"{TRACKING_ID}.0"])
def test_missing_or_malformed_token_is_rejected(token):
    assert signer().verify(token) is None


@pytest.mark.parametrize("token", [f"{TRACKING_ID}.0.é", f"{TRACKING_ID}.0.{'ü' * 43}"])
def test_non_ascii_token_is_rejected_not_raised(token):
    assert signer().verify(token) is None


def test_secret_is_fetched_lazily_and_on_each_use():
    calls = []

    def secret():
        calls.append(1)
        return SECRET

    s = CallbackSigner(secret)
    assert calls == []  # a cold start that handles no receipt never fetches it
    token = s.sign("t.0")
    assert calls == [1]
    assert s.verify(token) == "t.0"
    assert len(calls) == 2


def test_rotated_secret_invalidates_old_tokens():
    current = {"secret": "one"}
    s = CallbackSigner(lambda: current["secret"])
    token = s.sign("t.0")
    current["secret"] = "two"
    assert s.verify(token) is None
    assert s.verify(s.sign("t.0")) == "t.0"


# --- step ids ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tracking_id", "index", "expected"),
    [(TRACKING_ID, 0, f"{TRACKING_ID}.0"), ("abc", 9, "abc.9"), ("a.b", 10, "a.b.10")],
)
def test_step_id_round_trip(tracking_id, index, expected):
    assert step_id(tracking_id, index) == expected
    assert parse_step_id(expected) == (tracking_id, index)


def test_parsed_index_is_an_int():
    _, index = parse_step_id(f"{TRACKING_ID}.3")
    assert isinstance(index, int) and index == 3


@pytest.mark.parametrize("value", ["abc", "abc.", "abc.x", f"{TRACKING_ID}.1.5x", ""])
def test_parse_step_id_rejects_a_value_without_an_index(value):
    with pytest.raises(ValueError):
        parse_step_id(value)


def test_signed_step_id_parses_back_to_flow_and_index():
    s = signer()
    assert parse_step_id(s.verify(s.sign(step_id(TRACKING_ID, 2)))) == (TRACKING_ID, 2)
