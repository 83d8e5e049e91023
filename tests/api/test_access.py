"""Who may call the API: the token endpoint, the authorizer on every route, tenant isolation, limits, logs."""

from __future__ import annotations

import base64
import io
import json

import pytest

from failover.domain import Channel
from failover.observability import logger
from failover.wiring import build_access
from tests.fakes.scripted_provider import Say
from tests.harness import basic, wait_for

SMS = {"type": "Sms", "order": 1, "from": "Brand", "to": "+306912340001", "message": {"body": "PIN 1234"}}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def token_request(stack, authorization: str | None, body: bytes = b"grant_type=client_credentials", headers=None):
    headers = {**FORM, **({"Authorization": authorization} if authorization else {}), **(headers or {})}
    status, _, payload = stack.aws.handle_http("POST", "/oauth/token", headers, body)
    return status, json.loads(payload)


# --- POST /oauth/token ------------------------------------------------------------------------------------------


def test_client_credentials_give_a_routee_token(stack):
    status, body = token_request(stack, basic("local-app", "local-secret"))
    assert status == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert "scope" in body


@pytest.mark.parametrize(
    "authorization",
    [basic("local-app", "wrong"), basic("nobody", "local-secret"), None, "Bearer x"],
)
def test_bad_credentials_are_a_spring_style_401(stack, authorization):
    status, body = token_request(stack, authorization)
    assert status == 401
    assert body["status"] == 401 and body["error"] == "Unauthorized" and body["path"] == "/oauth/token"
    assert "access_token" not in body


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (b"grant_type=password", {}, "unsupported_grant_type"),
        (b"", {}, "unsupported_grant_type"),
        (b'{"grant_type": "client_credentials"}', {"Content-Type": "application/json"}, "invalid_request"),
    ],
)
def test_a_malformed_token_request_is_an_oauth_400(stack, body, headers, error):
    status, answer = token_request(stack, basic("local-app", "local-secret"), body, headers)
    assert (status, answer["error"]) == (400, error)


# --- the authorizer ---------------------------------------------------------------------------------------------


def protected_routes(stack):
    return [r for r in stack.aws.routes if r.authorizer is not None]


def test_only_the_token_endpoint_and_the_receipts_are_public(stack):
    public = {(r.method, r.path) for r in stack.aws.routes if r.authorizer is None}
    # and the API's OpenAPI document (its operations still need a token)
    assert public == {("POST", "/oauth/token"), ("POST", "/webhooks/{provider}/{token}"), ("GET", "/openapi.json")}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer not-a-jwt",
        "Basic " + base64.b64encode(b"local-app:local-secret").decode(),
        "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJsb2NhbC1hcHAifQ.c2lnbmF0dXJl",
    ],
)
def test_every_protected_route_without_a_valid_token_is_401_with_no_data(stack, authorization):
    routes = protected_routes(stack)
    assert routes
    for route in routes:
        path = route.path.replace("{trackingId}", "00000000-0000-4000-8000-000000000000")
        headers = {"Content-Type": "application/json", **({"Authorization": authorization} if authorization else {})}
        status, _, payload = stack.aws.handle_http(route.method, path, headers, json.dumps({"flow": [SMS]}).encode())
        assert status == 401, (route, authorization)
        assert json.loads(payload) == {"message": "Unauthorized"}


def test_a_disabled_application_gets_no_token_and_its_tokens_stop_working(stack):
    access = build_access()
    application_id, secret = access.create_application("soon-disabled", "its-secret")
    status, body = token_request(stack, basic(application_id, secret))
    assert status == 200
    token = body["access_token"]
    access.disable_application(application_id)
    assert token_request(stack, basic(application_id, secret))[0] == 401
    status, _, _ = stack.aws.handle_http(
        "GET", "/failover/tracking/x", {"Authorization": f"Bearer {token}"}, None
    )  # a token the authorizer has not seen yet, so no cached answer
    assert status == 401
    assert {"applicationId": application_id, "status": "disabled"}.items() <= {
        k: v for a in access.list_applications() if a["applicationId"] == application_id for k, v in a.items()
    }.items()


# --- tenant isolation -------------------------------------------------------------------------------------------


def test_another_application_cannot_see_a_flow(stack):
    created = stack.create({"flow": [SMS]})
    status, body = stack.request("GET", f"/failover/tracking/{created['trackingId']}", application="other-app")
    assert status == 404
    assert created["trackingId"] in body["developerMessage"]  # the same answer as for an unknown id
    status, mine = stack.request("GET", f"/failover/tracking/{created['trackingId']}")
    assert status == 200 and mine["applicationId"] == "local-app"


def test_a_receipt_replayed_against_another_flows_step_changes_nothing(stack):
    first, second = "+306912340002", "+306912340003"
    stack.provider.script(Channel.SMS, first, Say("Delivered", after=0.05))
    stack.provider.script(Channel.SMS, second, Say("Sent", after=0.05))
    a = stack.create({"flow": [{**SMS, "to": first, "ttl": 5}]})
    b = stack.create({"flow": [{**SMS, "to": second, "ttl": 5}]})
    wait_for(lambda: stack.track(b["trackingId"])["messages"][:1] and stack.track(a["trackingId"])["messages"][:1])
    a_message = wait_for(lambda: stack.track(a["trackingId"])["messages"][0]["trackingId"])
    wait_for(lambda: stack.track(b["trackingId"])["messages"][0]["trackingId"])
    status, _ = stack.request(
        "POST", stack.signed_callback(b["trackingId"], 0), {"id": a_message, "status": "Delivered"}, application=None
    )
    assert status == 409
    snapshot = stack.track(b["trackingId"])
    assert snapshot["status"] == "InProgress"
    assert snapshot["messages"][0]["status"]["name"] in (None, "Sent")


# --- limits -----------------------------------------------------------------------------------------------------


def test_a_body_over_64_kib_is_413(stack):
    big = {"flow": [{**SMS, "message": {"body": "x" * (64 * 1024)}}]}
    status, body = stack.request("POST", "/failover", big)
    assert status == 413
    assert body["code"] == "413000000"


def test_a_request_over_the_applications_rate_limit_is_429_with_retry_after(stack):
    access = build_access()
    application_id, secret = access.create_application("rate-limited", "its-secret", rate_limit_per_minute=2)
    _, body = token_request(stack, basic(application_id, secret))
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    answers = [stack.aws.handle_http("GET", "/failover/tracking/x", headers, None) for _ in range(3)]
    assert [a[0] for a in answers[:2]] == [404, 404]
    status, response_headers, _ = answers[2]
    assert status == 429
    assert 1 <= int(response_headers["Retry-After"]) <= 60


# --- logs -------------------------------------------------------------------------------------------------------


@pytest.fixture
def log_output():
    """Everything the product's Logger writes, through its own formatter (which masks)."""
    buffer = io.StringIO()
    handlers = logger._logger.handlers
    streams = [handler.setStream(buffer) for handler in handlers]
    yield buffer
    for handler, stream in zip(handlers, streams, strict=True):
        handler.setStream(stream)


def test_logs_carry_no_secret_token_or_full_phone_number(stack, log_output):
    to = "+306912340009"
    stack.provider.script(Channel.SMS, to, Say("Delivered", after=0.05))
    _, body = token_request(stack, basic("local-app", "local-secret"))
    created = stack.create({"flow": [{**SMS, "to": to}]})
    stack.wait_final(created["trackingId"])
    stack.request("POST", stack.signed_callback(created["trackingId"], 0) + "x", {"status": "Delivered"})
    logs = log_output.getvalue()
    assert created["trackingId"] in logs  # the logs were captured
    for secret in (to, to.removeprefix("+"), "local-secret", body["access_token"], stack.token()):
        assert secret not in logs
