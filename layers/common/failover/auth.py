"""Applications and Routee-compatible OAuth client credentials: secret hashing, signed access tokens.

Secrets are stored only as scrypt hashes (hashlib, OpenSSL's scrypt). Access tokens are JWTs (PyJWT, HS256)
signed with a per-deployment key from Secrets Manager; they carry the application id and expire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ISSUER = "failover"
AUDIENCE = "failover-api"
SCOPE = "failover"
DEFAULT_TOKEN_LIFETIME = 3600  # Routee's default: 1 hour

# scrypt cost: 2^15 x 8 x 1 needs 32 MiB and ~50 ms, slow enough for offline guessing, cheap per token request.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32
    )
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encoded[0]}${encoded[1]}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, binascii.Error):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """`Basic base64(applicationId:secret)` → (applicationId, secret), or None."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    application_id, colon, secret = decoded.partition(":")
    return (application_id, secret) if colon and application_id else None


def bearer_token(header: str | None) -> str | None:
    scheme, _, value = (header or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


@dataclass
class TokenIssuer:
    key: Callable[[], str]  # fetched lazily (Secrets Manager through Powertools Parameters, cached)
    lifetime: int = DEFAULT_TOKEN_LIFETIME
    clock: Callable[[], float] = time.time

    def issue(self, application_id: str) -> dict[str, Any]:
        """Routee's token response."""
        now = int(self.clock())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": application_id,
            "iat": now,
            "exp": now + self.lifetime,
            "jti": secrets.token_hex(8),
            "scope": SCOPE,
        }
        import jwt  # here: only the token and authorizer functions load it (tests/lean)

        token = jwt.encode(claims, self.key(), algorithm="HS256")
        return {"access_token": token, "token_type": "bearer", "expires_in": self.lifetime, "scope": SCOPE}

    def verify(self, token: str) -> str | None:
        """The application id of a valid token; None for a missing, expired, forged or wrong-audience one."""
        claims = self.claims(token)
        return claims.application_id if claims else None

    def claims(self, token: str) -> TokenClaims | None:
        """The application id and expiry of a valid token; None for a missing, expired, forged or wrong one."""
        import jwt

        try:
            claims = jwt.decode(
                token,
                self.key(),
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Time is checked below against self.clock, the one clock the issuer also uses.
                options={"require": ["exp", "iat", "sub", "aud", "iss"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return None
        now = self.clock()
        if not claims["iat"] - 60 <= now < claims["exp"]:  # a minute's grace for clock skew on iat only
            return None
        return TokenClaims(str(claims["sub"]), int(claims["exp"]))


@dataclass(frozen=True)
class TokenClaims:
    application_id: str
    expires_at: int  # epoch seconds
