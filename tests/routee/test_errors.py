"""Error mapping: what the adapter raises for each kind of refusal, and that a POST never reaches Routee twice."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from failover.domain import Channel
from failover.providers import AuthenticationFailed, InsufficientBalance, Rejected, Unavailable, Unconfirmed
from failover.providers.routee import RouteeProvider
from failover_local.simulator import Simulator

from .conftest import Receiver, definition, make_provider, make_simulator, number, outbound

TOKEN = {"access_token": "scripted-token", "token_type": "bearer", "expires_in": 3599}
QUEUED = {"trackingId": "tracking-1", "status": "Queued", "bodyAnalysis": {"parts": 1}}


class Scripted:
    """A throwaway Routee (pytest-httpserver): /oauth/token always works; /sms answers from a script, then repeats
    the last. `calls` counts the requests per path as they arrive."""

    def __init__(self, script: list[tuple[int, Any, dict[str, str]]], hang: threading.Event | None = None):
        self.script = list(script)
        self.calls: dict[str, int] = {}
        self._hang = hang
        self._server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._server.expect_request(re.compile(".*")).respond_with_handler(self._answer)
        self._server.start()
        self.url = f"http://127.0.0.1:{self._server.port}"

    def _answer(self, request: Request) -> Response:
        self.calls[request.path] = self.calls.get(request.path, 0) + 1
        if request.path == "/oauth/token":
            return Response(json.dumps(TOKEN), 200)
        if self._hang is not None:
            self._hang.wait(5)  # longer than the adapter's read timeout
        status, body, headers = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return Response(body if isinstance(body, str) else json.dumps(body), status, headers=headers)

    def close(self) -> None:
        self._server.stop()


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[Scripted] = []

    def start(*script: tuple[int, Any, dict[str, str]], hang: threading.Event | None = None) -> Scripted:
        servers.append(Scripted(list(script), hang))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def scripted_provider(server: Scripted, **overrides: Any) -> RouteeProvider:
    options = {"application_id": "app", "application_secret": "secret", "auth_url": server.url}
    return make_provider(api_url=server.url, **(options | overrides))


def sms(receiver: Receiver, to: str = "+306900000000", retry_for_seconds: float = 0.0, **fields: Any) -> Any:
    message = outbound(Channel.SMS, definition(Channel.SMS, to, **fields), receiver)
    return dataclasses.replace(message, retry_for_seconds=retry_for_seconds)


# ---------------------------------------------------------------------------------------------------------
# Against the simulator
# ---------------------------------------------------------------------------------------------------------


def test_exhausted_balance_is_insufficient_balance(receiver: Receiver) -> None:
    with make_simulator(balance=0.05) as sim:  # enough for one Viber message (0.035), not two
        provider = make_provider(sim)
        viber = outbound(Channel.VIBER, definition(Channel.VIBER, "+306900000000"), receiver)
        provider.send(viber)
        assert sim.balance == pytest.approx(0.015)
        with pytest.raises(InsufficientBalance) as refused:
            provider.send(viber)
        assert refused.value.reason == "Insufficient Balance"
        assert len(sim.messages()) == 1


def test_503_then_accepted_creates_exactly_one_message(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver
) -> None:
    to = number(Channel.SMS, 9)
    accepted = provider.send(sms(receiver, to))

    assert [(r.path, r.status) for r in sim.requests if r.path == "/sms"] == [("/sms", 503), ("/sms", 200)]
    (message,) = sim.messages(to=to)
    assert message.tracking_id == accepted.provider_message_id


def test_rejected_carries_routee_developer_message(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver
) -> None:
    invalid_sender = {**definition(Channel.SMS, "+306900000000"), "from": "Far Too Long Sender"}
    with pytest.raises(Rejected) as refused:
        provider.send(outbound(Channel.SMS, invalid_sender, receiver))
    assert refused.value.reason.startswith("Invalid sender id")
    assert sim.count("POST", "/sms", status=400) == 1


def test_validation_error_lists_the_fields(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    # Text and image without a button: Routee refuses this combination.
    step = definition(Channel.VIBER, "+306900000000")
    step["message"] = {"text": "Hello", "imageUrl": "https://example.com/a.png"}
    with pytest.raises(Rejected) as refused:
        provider.send(outbound(Channel.VIBER, step, receiver))
    assert refused.value.reason.startswith("Validation Error")
    assert "body: allowed content" in refused.value.reason
    assert sim.messages() == []


def test_bad_credentials_are_authentication_failed(sim: Simulator, receiver: Receiver) -> None:
    provider = make_provider(sim, application_secret="wrong")
    with pytest.raises(AuthenticationFailed):
        provider.send(sms(receiver))
    assert sim.count("POST", "/oauth/token", status=401) == 1
    assert sim.count("POST", "/sms") == 0


def test_missing_credentials_are_authentication_failed(sim: Simulator, receiver: Receiver, monkeypatch: Any) -> None:
    for name in ("ROUTEE_APPLICATION_ID", "ROUTEE_APPLICATION_SECRET", "ROUTEE_CREDENTIALS_SECRET"):
        monkeypatch.delenv(name, raising=False)
    provider = RouteeProvider(auth_url=sim.base_url, api_url=sim.base_url)
    with pytest.raises(AuthenticationFailed, match="not configured"):
        provider.send(sms(receiver))
    assert sim.requests == []


def test_refused_connection_is_unavailable(sim: Simulator, receiver: Receiver) -> None:
    closed = closed_port_url()
    provider = make_provider(sim, api_url=closed)
    with pytest.raises(Unavailable, match="unreachable"):
        provider.send(sms(receiver))
    assert sim.count("POST", "/oauth/token") == 1  # the token came from the simulator; the send went nowhere

    with pytest.raises(Unavailable, match="authentication unreachable"):
        make_provider(sim, auth_url=closed).send(sms(receiver))


# ---------------------------------------------------------------------------------------------------------
# Against scripted servers: statuses the simulator does not produce
# ---------------------------------------------------------------------------------------------------------


def test_500_is_unavailable_without_a_repeat_when_the_step_allows_no_retry(scripted: Any, receiver: Receiver) -> None:
    server = scripted((500, {"code": "500000000", "developerMessage": "Boom"}, {}))
    with pytest.raises(Unavailable, match="HTTP 500"):
        scripted_provider(server).send(sms(receiver))
    assert server.calls["/sms"] == 1


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_is_unconfirmed_and_never_repeated(scripted: Any, receiver: Receiver, status: int) -> None:
    """A gateway that gave up may hide a message Routee took: the step waits for its receipt instead."""
    server = scripted((status, {"code": f"{status}000000", "developerMessage": "Boom"}, {}))
    with pytest.raises(Unconfirmed, match=f"HTTP {status}"):
        scripted_provider(server).send(sms(receiver, retry_for_seconds=30))
    assert server.calls["/sms"] == 1


def test_read_timeout_is_unconfirmed_and_never_repeated(scripted: Any, receiver: Receiver) -> None:
    hang = threading.Event()
    server = scripted((200, QUEUED, {}), hang=hang)
    try:
        with pytest.raises(Unconfirmed, match="ReadTimeout"):
            scripted_provider(server, timeout=(1.0, 0.3)).send(sms(receiver, retry_for_seconds=30))
    finally:
        hang.set()
    assert server.calls["/sms"] == 1


def test_503_retries_are_bounded_and_retry_after_is_capped(scripted: Any, receiver: Receiver) -> None:
    server = scripted((503, {"code": "503000000", "developerMessage": "Busy"}, {"Retry-After": "100"}))
    started = time.monotonic()
    with pytest.raises(Unavailable, match="HTTP 503"):
        scripted_provider(server, status_retries=2, max_retry_after=0.05).send(sms(receiver))
    assert server.calls["/sms"] == 3  # the send and two retries
    assert time.monotonic() - started < 5  # Retry-After: 100 was capped


def test_429_then_accepted(scripted: Any, receiver: Receiver) -> None:
    server = scripted(
        (429, {"code": "429000000", "developerMessage": "Slow down"}, {"Retry-After": "0"}), (200, QUEUED, {})
    )
    accepted = scripted_provider(server).send(sms(receiver))
    assert accepted.provider_message_id == "tracking-1"
    assert server.calls["/sms"] == 2


@pytest.mark.parametrize("status", [401, 403])
def test_401_or_403_refreshes_the_token_once(scripted: Any, receiver: Receiver, status: int) -> None:
    # The body is not in Routee's format: the adapter decides on the status alone.
    server = scripted((status, {"error": "access_denied"}, {}), (200, QUEUED, {}))
    accepted = scripted_provider(server).send(sms(receiver))
    assert accepted.provider_message_id == "tracking-1"
    assert server.calls == {"/oauth/token": 2, "/sms": 2}


def test_403_twice_is_authentication_failed(scripted: Any, receiver: Receiver) -> None:
    server = scripted((403, {"code": "403000000", "developerMessage": "Access denied"}, {}))
    with pytest.raises(AuthenticationFailed):
        scripted_provider(server).send(sms(receiver))
    assert server.calls == {"/oauth/token": 2, "/sms": 2}


def test_other_4xx_without_routee_body_is_rejected_with_the_text(scripted: Any, receiver: Receiver) -> None:
    server = scripted((422, "the body text", {"Content-Type": "text/plain"}))
    with pytest.raises(Rejected, match="^the body text$"):
        scripted_provider(server).send(sms(receiver))
    assert server.calls["/sms"] == 1


def test_balance_code_is_insufficient_balance_with_routee_message(scripted: Any, receiver: Receiver) -> None:
    server = scripted((400, {"code": "400001009", "developerMessage": "Not enough credit"}, {}))
    with pytest.raises(InsufficientBalance, match="^Not enough credit$"):
        scripted_provider(server).send(sms(receiver))


def test_accepted_without_tracking_id_is_unconfirmed_and_never_repeated(scripted: Any, receiver: Receiver) -> None:
    server = scripted((200, {"status": "Queued"}, {}))
    with pytest.raises(Unconfirmed, match="trackingId"):
        scripted_provider(server).send(sms(receiver, retry_for_seconds=30))
    assert server.calls["/sms"] == 1


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------------------------------------------------
# A provider outage within the step's ttl (issue 13): retried with backoff while the step allows
# ---------------------------------------------------------------------------------------------------------


class FakeTime:
    """The adapter's clock and sleep: an outage of many seconds passes at once, and is measured exactly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def outage_provider(server: Any, fake: FakeTime, **overrides: Any) -> RouteeProvider:
    return scripted_provider(server, status_retries=0, clock=fake.clock, sleep=fake.sleep, **overrides)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_send_during_an_outage_is_retried_until_accepted(scripted: Any, receiver: Receiver, status: int) -> None:
    """Before issue 13 about a second of retries, then FAILED: a 6-second outage burned the whole chain."""
    down = (status, {"code": f"{status}000000", "developerMessage": "Down"}, {})
    server = scripted(*[down] * 6, (200, QUEUED, {}))
    fake = FakeTime()
    accepted = outage_provider(server, fake).send(sms(receiver, retry_for_seconds=60))
    assert accepted.provider_message_id == "tracking-1"
    assert server.calls["/sms"] == 7  # one message taken: each refused attempt was surely not processed
    assert len(fake.sleeps) == 6 and fake.now < 60


def test_an_outage_longer_than_the_step_allows_ends_unavailable(scripted: Any, receiver: Receiver) -> None:
    server = scripted((503, {"code": "503000000", "developerMessage": "Down"}, {}))
    fake = FakeTime()
    with pytest.raises(Unavailable, match="HTTP 503"):
        outage_provider(server, fake).send(sms(receiver, retry_for_seconds=20))
    assert fake.now <= 20  # never sleeps past the budget
    assert server.calls["/sms"] == len(fake.sleeps) + 1 > 3


def test_the_retry_window_caps_a_long_ttl(scripted: Any, receiver: Receiver) -> None:
    from failover.providers.routee import SEND_RETRY_WINDOW_SECONDS

    server = scripted((503, {"code": "503000000", "developerMessage": "Down"}, {}))
    fake = FakeTime()
    with pytest.raises(Unavailable):
        outage_provider(server, fake).send(sms(receiver, retry_for_seconds=20 * 3600))  # SMS's 20 h ttl
    assert fake.now <= SEND_RETRY_WINDOW_SECONDS


def test_refused_connections_are_retried_within_the_budget(sim: Simulator, receiver: Receiver) -> None:
    fake = FakeTime()
    provider = make_provider(sim, api_url=closed_port_url(), connect_retries=0, clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(Unavailable, match="unreachable"):
        provider.send(sms(receiver, retry_for_seconds=10))
    assert len(fake.sleeps) > 1 and fake.now <= 10


def test_the_send_step_timeout_covers_the_retry_window_and_one_attempt() -> None:
    from failover.providers import routee

    assert routee.send_step_timeout_seconds() >= routee.SEND_RETRY_WINDOW_SECONDS + routee.WORST_ATTEMPT_SECONDS
