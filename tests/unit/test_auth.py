"""Secret hashing, Basic/Bearer parsing and access tokens (issue, expiry, forgery)."""

from __future__ import annotations

import base64

import jwt
import pytest

from failover import auth

KEY = "k" * 64


def issuer(now: float = 1_800_000_000.0, lifetime: int = 3600, key: str = KEY) -> auth.TokenIssuer:
    return auth.TokenIssuer(key=lambda: key, lifetime=lifetime, clock=lambda: now)


def test_secrets_are_stored_as_salted_scrypt_hashes():
    first, second = auth.hash_secret("s3cret"), auth.hash_secret("s3cret")
    assert first.startswith("scrypt$") and "s3cret" not in first
    assert first != second  # salted
    assert auth.verify_secret("s3cret", first) and auth.verify_secret("s3cret", second)
    assert not auth.verify_secret("s3cret!", first)


@pytest.mark.parametrize("stored", ["", "scrypt$1$2", "bcrypt$16384$8$1$AAAA$BBBB", "scrypt$x$8$1$AAAA$BBBB"])
def test_a_malformed_hash_never_verifies(stored):
    assert auth.verify_secret("anything", stored) is False


def test_token_response_has_routee_fields():
    response = issuer().issue("bank-app")
    assert response["token_type"] == "bearer"
    assert response["expires_in"] == 3600
    assert response["scope"] == auth.SCOPE
    claims = jwt.decode(
        response["access_token"],
        KEY,
        algorithms=["HS256"],
        audience=auth.AUDIENCE,
        options={"verify_exp": False, "verify_iat": False},  # the test clock is not the wall clock
    )
    assert claims["sub"] == "bank-app" and claims["exp"] - claims["iat"] == 3600


def test_a_token_is_valid_until_it_expires():
    token = issuer(now=1_800_000_000).issue("bank-app")["access_token"]
    assert issuer(now=1_800_000_000 + 3599).verify(token) == "bank-app"
    assert issuer(now=1_800_000_000 + 3600).verify(token) is None


def test_a_token_signed_with_another_key_is_rejected():
    forged = issuer(key="another key" * 6).issue("bank-app")["access_token"]
    assert issuer().verify(forged) is None


def test_a_tampered_token_is_rejected():
    header, payload, signature = issuer().issue("bank-app")["access_token"].split(".")
    claims = jwt.decode(f"{header}.{payload}.{signature}", options={"verify_signature": False})
    claims["sub"] = "other-app"
    other = base64.urlsafe_b64encode(jwt.api_jws.json.dumps(claims).encode()).rstrip(b"=").decode()
    assert issuer().verify(f"{header}.{other}.{signature}") is None


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"iss": "someone-else"},
        {"aud": None},
    ],
)
def test_wrong_audience_or_issuer_is_rejected(claims):
    now = 1_800_000_000
    base = {"iss": auth.ISSUER, "aud": auth.AUDIENCE, "sub": "bank-app", "iat": now, "exp": now + 60}
    token = jwt.encode({k: v for k, v in {**base, **claims}.items() if v is not None}, KEY, algorithm="HS256")
    assert issuer(now=now).verify(token) is None


def test_an_unsigned_token_is_rejected():
    now = 1_800_000_000
    claims = {"iss": auth.ISSUER, "aud": auth.AUDIENCE, "sub": "bank-app", "iat": now, "exp": now + 60}
    assert issuer(now=now).verify(jwt.encode(claims, None, algorithm="none")) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"app:secret:with:colons").decode(), ("app", "secret:with:colons")),
        ("basic " + base64.b64encode(b"app:").decode(), ("app", "")),
        ("Basic " + base64.b64encode(b"no-colon").decode(), None),
        ("Basic !!!", None),
        ("Bearer abc", None),
        ("", None),
        (None, None),
    ],
)
def test_basic_credentials(header, expected):
    assert auth.basic_credentials(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Bearer ", None), ("Basic abc", None), (None, None)],
)
def test_bearer_token(header, expected):
    assert auth.bearer_token(header) == expected
