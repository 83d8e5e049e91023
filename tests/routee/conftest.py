"""The Routee adapter against the simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from failover import domain
from failover.domain import Channel
from failover.providers import OutboundMessage
from failover.providers.routee import RouteeProvider
from failover_local.polling import wait_for as wait_until  # noqa: F401 - the tests import it from here
from failover_local.simulator import Delays, Simulator
from tests.receiver import Receiver

TIME_SCALE = 0.02  # the simulator's 2 s between receipts become 40 ms


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def make_simulator(**overrides: Any) -> Simulator:
    options: dict[str, Any] = {"time_scale": TIME_SCALE, "delays": Delays(first=2.0, between=2.0)}
    return Simulator(port=0, **(options | overrides))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = make_simulator().start()
    yield simulator
    simulator.stop()
    assert simulator.errors == 0, "the simulator hit a bug"


def make_provider(simulator: Simulator | None = None, **overrides: Any) -> RouteeProvider:
    options: dict[str, Any] = {"backoff_factor": 0.01, "max_retry_after": 0.1}
    if simulator is not None:
        options |= {
            "application_id": simulator.application_id,
            "application_secret": simulator.application_secret,
            "auth_url": simulator.base_url,
            "api_url": simulator.base_url,
        }
    return RouteeProvider(**(options | overrides))


@pytest.fixture
def provider(sim: Simulator) -> RouteeProvider:
    return make_provider(sim)


# ---------------------------------------------------------------------------------------------------------
# Step definitions, built through the domain models so the adapter sees exactly what the service hands it
# ---------------------------------------------------------------------------------------------------------

SAY = {"type": "SAY", "message": {"text": "Your code is 1 2 3 4", "language": "en-US", "gender": "female"}}


def definition(channel: Channel, to: str, **fields: Any) -> dict[str, Any]:
    if channel is Channel.VIBER:
        step: dict[str, Any] = {
            "type": "Viber",
            "order": 1,
            "to": to,
            "senderInfoTrackingId": "sender-info-1",
            "ttl": 0.5,
            "message": {"text": "Hello from Viber"},
        }
    elif channel is Channel.SMS:
        step = {"type": "Sms", "order": 2, "to": to, "from": "Brand", "ttl": 1, "message": {"body": "Hello by SMS"}}
    else:
        step = {"type": "Voice", "order": 3, "to": {"phone": to}, "from": "302100000000", "dialPlan": {"verbs": [SAY]}}
    step |= fields
    model = {Channel.VIBER: domain.ViberStep, Channel.SMS: domain.SmsStep, Channel.VOICE: domain.VoiceStep}[channel]
    return domain.step_definition(model.model_validate(step))


def outbound(
    channel: Channel, definition_: dict[str, Any], receiver: Receiver, step_id: str = "step"
) -> OutboundMessage:
    return OutboundMessage(step_id, channel, definition_, f"{receiver.url}/{step_id}")


def number(channel: Channel, digit: int) -> str:
    """A recipient whose outcome for `channel` is `digit` and 0 for the other channels."""
    position = {Channel.VIBER: 2, Channel.SMS: 1, Channel.VOICE: 0}[channel]
    return f"+30690000{digit * 10**position:04d}"


def decoded(bodies: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(body) for body in bodies]
