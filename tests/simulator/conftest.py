"""The simulator on its own, spoken to with plain requests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from failover_local.polling import wait_for as wait_until  # noqa: F401 - the tests import it from here
from failover_local.simulator import Delays, Simulator
from tests.receiver import Receiver

TIME_SCALE = 0.02


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(port=0, time_scale=TIME_SCALE, delays=Delays()).start()
    yield simulator
    simulator.stop()
    assert simulator.errors == 0


class Client:
    """A bare Routee client: a token, then JSON calls."""

    def __init__(self, simulator: Simulator):
        self.base = simulator.base_url
        self.credentials = (simulator.application_id, simulator.application_secret)
        self._token: str | None = None

    def token_response(self, **overrides: Any) -> requests.Response:
        data = {"grant_type": "client_credentials"} | overrides.pop("data", {})
        auth = overrides.pop("auth", self.credentials)
        return requests.post(f"{self.base}/oauth/token", data=data, auth=auth, timeout=5)

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.token_response().json()["access_token"]
        return self._token

    def post(self, path: str, body: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.post(f"{self.base}{path}", json=body, headers=headers, timeout=5)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=5)


@pytest.fixture
def client(sim: Simulator) -> Client:
    return Client(sim)


def sms_request(to: str, callback_url: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"from": "Brand", "to": to, "body": "Your code is 1234"}
    if callback_url:
        body["callback"] = {"url": callback_url, "strategy": "OnChange"}
    return body | fields


def viber_request(to: str, callback_url: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"senderInfoTrackingId": "sender-1", "to": to, "body": {"text": "Hello"}, "ttl": 3600}
    if callback_url:
        body["callbackUrl"] = callback_url
    return body | fields


def voice_request(to: str, callback_url: str | None = None, **fields: Any) -> dict[str, Any]:
    say = {"type": "SAY", "message": {"text": "Your code is 1 2 3 4", "language": "en-US", "gender": "female"}}
    body: dict[str, Any] = {"from": "+302100000000", "to": {"phone": to}, "dialPlan": {"verbs": [say]}}
    if callback_url:
        body["callback"] = {"url": callback_url, "strategy": "OnChange"}
    return body | fields
