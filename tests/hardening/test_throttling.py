"""Brute force and throttling: failed token attempts, the per-application rate limit, disabled applications
and expired tokens behind API Gateway's authorizer cache, and the stage throttles in template.yaml."""

from __future__ import annotations

import inspect
import json
import time

import boto3
import jwt
import pytest

from failover import auth
from failover.settings import Settings
from failover.wiring import build_access
from failover_local.apigateway import http_response, proxy_event
from failover_local.aws import REGION
from failover_local.template import load_template
from tests.harness import basic, wait_for

SMS = {"type": "Sms", "order": 1, "from": "Brand", "to": "+306912345678", "message": {"body": "PIN 1234"}}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GRANT = "grant_type=client_credentials"


def token_request(stack, authorization: str, source_ip: str | None = None):
    """POST /oauth/token as API Gateway would pass it, from `source_ip` (the local stack's is 127.0.0.1)."""
    route = next(r for r in stack.aws.routes if r.path == "/oauth/token")
    headers = {**FORM, "Authorization": authorization}
    event = proxy_event(route, "POST", "/oauth/token", {}, headers, b"grant_type=client_credentials")
    if source_ip:
        event["requestContext"]["identity"]["sourceIp"] = source_ip
    result = stack.aws.invoke(route.function, event)  # as handle_http does (each thread has its own event)
    status, headers, payload = http_response(result)
    return status, headers, json.loads(payload)


@pytest.fixture
def scrypt_calls(monkeypatch):
    """How many times the slow hash ran."""
    calls = []
    real = auth.hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(auth.hashlib, "scrypt", counting)
    return calls


@pytest.fixture
def token_access(stack, monkeypatch):
    """The token function's own AccessService, with small limits: every attempt costs a scrypt (0.1-0.5 s)."""
    access = inspect.unwrap(stack.aws.functions["OAuthTokenFunction"].handler).__globals__["access"]
    monkeypatch.setattr(access, "failures_per_application", 3)
    monkeypatch.setattr(access, "failures_per_address", 4)
    return access


def test_failed_token_attempts_per_application_are_limited_before_the_hash_runs(stack, token_access, scrypt_calls):
    access = token_access
    application_id, secret = access.create_application("brute-forced", "the-real-secret")
    limit = access.failures_per_application
    answers = [token_request(stack, basic(application_id, f"guess-{n}"), f"203.0.113.{n}") for n in range(limit)]
    assert [a[0] for a in answers] == [401] * limit
    hashed = len(scrypt_calls)
    status, headers, body = token_request(stack, basic(application_id, "guess-again"), "203.0.113.200")
    assert status == 429
    assert body["code"] == "429000000" and "too many failed attempts" in body["developerMessage"]
    assert 1 <= int(headers["Retry-After"]) <= access.failure_window_seconds
    assert len(scrypt_calls) == hashed  # refused before any hashing
    # Even the right secret waits for the window: the limit is per applicationId, whoever guesses.
    assert token_request(stack, basic(application_id, secret), "203.0.113.201")[0] == 429


def test_the_failure_count_is_shared_across_sandboxes(stack):
    """Two sandboxes (two AccessService instances) count against the same DynamoDB counters."""
    first, second = build_access(), build_access()
    first.failures_per_application = second.failures_per_application = 3
    application_id, _ = first.create_application("two-sandboxes", "s3cret")
    for n in range(first.failures_per_application):
        sandbox = first if n % 2 else second
        with pytest.raises(Exception, match="bad credentials"):
            sandbox.token(basic(application_id, "wrong"), FORM["Content-Type"], GRANT, f"198.51.100.{n}")
    with pytest.raises(Exception, match="too many failed attempts"):  # TooManyAttempts
        first.token(basic(application_id, "wrong"), FORM["Content-Type"], GRANT, "198.51.100.99")


def test_failed_token_attempts_per_source_address_are_limited(stack, token_access, scrypt_calls):
    access = token_access
    limit = access.failures_per_address
    address = "192.0.2.77"
    # Every attempt names another application (unknown ones too): only the address ties them together.
    statuses = [token_request(stack, basic(f"spray-{n}", "x"), address)[0] for n in range(limit)]
    assert statuses == [401] * limit
    hashed = len(scrypt_calls)
    status, headers, _ = token_request(stack, basic("spray-last", "x"), address)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert len(scrypt_calls) == hashed
    assert token_request(stack, basic("local-app", "local-secret"), "192.0.2.78")[0] == 200  # another address


def test_a_successful_token_request_does_not_count_as_a_failure(stack, token_access):
    access = token_access
    application_id, secret = access.create_application("often-fetches", "its-secret")
    for n in range(access.failures_per_application + 2):
        assert token_request(stack, basic(application_id, secret), f"203.0.113.{50 + n}")[0] == 200


# --- the per-application rate limit ---------------------------------------------------------------------------


def test_requests_with_invalid_bodies_count_against_the_rate_limit(stack):
    """Issue 16: invalid bodies escaped the limit (it was checked after validation)."""
    access = build_access()
    application_id, secret = access.create_application("invalid-bodies", "its-secret", rate_limit_per_minute=3)
    _, _, body = token_request(stack, basic(application_id, secret))
    headers = {"Authorization": f"Bearer {body['access_token']}", "Content-Type": "application/json"}
    first = [stack.aws.handle_http("POST", "/failover", headers, raw)[0] for raw in (b"{", b'{"flow": 1}', b"[[[")]
    assert first == [400, 400, 400]
    valid = json.dumps({"flow": [SMS]}).encode()
    status, response_headers, _ = stack.aws.handle_http("POST", "/failover", headers, valid)
    assert status == 429
    assert int(response_headers["Retry-After"]) >= 1


# --- disabled applications and expired tokens, behind the authorizer's cache ------------------------------------


def test_a_disabled_application_stops_at_once_even_with_a_cached_authorizer_answer(stack):
    access = build_access()
    application_id, secret = access.create_application("disabled-later", "its-secret")
    _, _, body = token_request(stack, basic(application_id, secret))
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert stack.aws.handle_http("GET", "/failover/tracking/x", headers, None)[0] == 404  # authorized, now cached
    access.disable_application(application_id)
    status, _, payload = stack.aws.handle_http("GET", "/failover/tracking/x", headers, None)
    assert status == 401 and json.loads(payload) == {"message": "Unauthorized"}


def test_an_expired_token_stops_at_its_exp_even_with_a_cached_authorizer_answer(stack):
    secret_id = Settings.from_env().token_signing_secret_id
    key = boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=secret_id)["SecretString"]
    now = int(time.time())
    claims = {"iss": auth.ISSUER, "aud": auth.AUDIENCE, "sub": "local-app", "iat": now, "exp": now + 2, "jti": "x"}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='HS256')}"}
    assert stack.aws.handle_http("GET", "/failover/tracking/x", headers, None)[0] == 404  # valid, and now cached
    wait_for(lambda: stack.aws.handle_http("GET", "/failover/tracking/x", headers, None)[0] == 401, timeout=6)
    assert time.time() >= now + 2  # refused only once exp had passed


# --- template.yaml ----------------------------------------------------------------------------------------------


def test_the_stage_and_the_token_endpoint_are_throttled_with_parameters():
    template = load_template()
    parameters = template["Parameters"]
    api = template["Resources"]["FailoverApi"]["Properties"]
    settings = {(m["ResourcePath"], m["HttpMethod"]): m for m in api["MethodSettings"]}
    stage, token = settings[("/*", "*")], settings[("/~1oauth~1token", "POST")]
    for setting in (stage, token):
        for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
            name = setting[key]["Ref"]
            assert parameters[name]["Type"] == "Number" and parameters[name]["Default"] >= 1
    rate = {name: parameters[setting["ThrottlingRateLimit"]["Ref"]]["Default"] for name, setting in
            (("stage", stage), ("token", token))}  # fmt: skip
    assert rate["token"] < rate["stage"]


def test_the_authorizer_cache_is_a_small_parameter_and_the_token_function_may_count_failures():
    template = load_template()
    identity = template["Resources"]["FailoverApi"]["Properties"]["Auth"]["Authorizers"]["BearerToken"]["Identity"]
    parameter = template["Parameters"][identity["ReauthorizeEvery"]["Ref"]]
    assert parameter["Default"] <= 60 and parameter["MaxValue"] <= 3600
    token_function = template["Resources"]["OAuthTokenFunction"]["Properties"]
    actions = {a for s in token_function["Policies"][0]["Statement"] for a in s["Action"]}
    assert "dynamodb:UpdateItem" in actions
    assert set(token_function["Environment"]["Variables"]) >= {
        "TOKEN_FAILURES_PER_APPLICATION",
        "TOKEN_FAILURES_PER_ADDRESS",
        "TOKEN_FAILURE_WINDOW_SECONDS",
    }


class _Applications:
    """In-memory ApplicationStore: one active application, every request counted."""

    def __init__(self, status: str = "active"):
        self.status = status
        self.counted = 0

    def get(self, application_id):
        return {"applicationId": application_id, "status": self.status}

    def count_request(self, application_id, window, limit, expires_at):
        self.counted += 1
        return True


@pytest.mark.parametrize(
    ("expires_at", "admitted"),
    [(1_800_000_001, True), ("1800000001", True), ("1800000000", False), (1_800_000_000, False), ("junk", False)],
)
def test_admission_reads_the_expiry_as_api_gateway_passes_it(expires_at, admitted):
    """API Gateway may hand the authorizer's context values to the integration as strings."""
    from failover.access import AccessService, NotAdmitted

    applications = _Applications()
    access = AccessService(applications, issuer=None, clock=lambda: 1_800_000_000.0)  # type: ignore[arg-type]
    if admitted:
        access.admit("bank-app", expires_at)
        assert applications.counted == 1
    else:
        with pytest.raises(NotAdmitted):
            access.admit("bank-app", expires_at)
        assert applications.counted == 0
