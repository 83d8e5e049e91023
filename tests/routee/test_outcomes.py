"""Every row of the simulator's magic-number table, per channel, through the adapter and its receipt parser."""

from __future__ import annotations

import time

import pytest

from failover.domain import Channel
from failover.providers import AuthenticationFailed, InsufficientBalance
from failover.providers.routee import RouteeProvider
from failover_local.simulator import Simulator

from .conftest import TIME_SCALE, Receiver, definition, number, outbound, wait_until

DELIVERED_THEN_SEEN = ["DELIVERED", "SEEN"]
SENT_THEN_DELIVERED = ["Sent", "Delivered"]
RINGING_THEN_COMPLETED = ["Ringing", "Completed"]

EXPECTED: dict[Channel, dict[int, list[str]]] = {
    Channel.VIBER: {
        0: DELIVERED_THEN_SEEN,
        1: ["UNDELIVERED"],
        2: [],
        3: ["FAILED"],
        4: ["DELIVERED"],
        7: ["DELIVERED"],
        8: ["DELIVERED", "DELIVERED", "QUEUED"],
        9: DELIVERED_THEN_SEEN,
    },
    Channel.SMS: {
        0: SENT_THEN_DELIVERED,
        1: ["Sent", "Undelivered"],
        2: ["Sent"],
        3: ["Failed"],
        4: ["Undelivered"],
        7: SENT_THEN_DELIVERED,
        8: ["Sent", "Delivered", "Delivered", "Sent"],
        9: SENT_THEN_DELIVERED,
    },
    Channel.VOICE: {
        0: RINGING_THEN_COMPLETED,
        1: ["Ringing", "NoAnswer"],
        2: ["Ringing"],
        3: ["Failed"],
        4: ["Busy"],
        7: RINGING_THEN_COMPLETED,
        8: ["Ringing", "Completed", "Completed", "Ringing"],
        9: RINGING_THEN_COMPLETED,
    },
}

CASES = [(channel, digit) for channel, table in EXPECTED.items() for digit in table]


@pytest.mark.parametrize(("channel", "digit"), CASES, ids=[f"{c.value}-{d}" for c, d in CASES])
def test_outcome_digit_is_reported_by_receipts(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver, channel: Channel, digit: int
) -> None:
    sent_at = time.monotonic()
    accepted = provider.send(outbound(channel, definition(channel, number(channel, digit)), receiver))

    wait_until(lambda: sim.pending_receipts() == 0)  # every receipt delivered: nothing more will come
    receipts = [provider.parse_receipt(channel, body) for body in receiver.bodies("/step")]

    assert [r.status for r in receipts] == EXPECTED[channel][digit]
    assert {r.provider_message_id for r in receipts} <= {accepted.provider_message_id}
    assert len(sim.messages(channel=channel.value)) == 1
    if digit == 7:
        # Viber and SMS: delivered only after the ttl (30 s and 60 s); Voice: completed after 60 s.
        late = {Channel.VIBER: 30, Channel.SMS: 60, Channel.VOICE: 60}[channel] * TIME_SCALE
        assert receiver.arrivals("/step")[-1] - sent_at >= late
    if digit == 9:
        # The first send was refused with 503 and retried by the adapter: one message, never two.
        assert sim.count("POST", sim_path(channel), status=503) == 1
        assert sim.count("POST", sim_path(channel), status=200) == 1


def test_detailed_statuses(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    provider.send(outbound(Channel.VIBER, definition(Channel.VIBER, number(Channel.VIBER, 1)), receiver, "v"))
    provider.send(outbound(Channel.SMS, definition(Channel.SMS, number(Channel.SMS, 4)), receiver, "s"))
    wait_until(lambda: sim.pending_receipts() == 0)

    (viber,) = [provider.parse_receipt(Channel.VIBER, body) for body in receiver.bodies("/v")]
    (sms,) = [provider.parse_receipt(Channel.SMS, body) for body in receiver.bodies("/s")]
    assert (viber.status, viber.detailed_status) == ("UNDELIVERED", "Not Viber User")
    assert (sms.status, sms.detailed_status) == ("Undelivered", "Expired")


def test_each_channel_reads_its_own_digit(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    # The reference example: +306900000100 → Viber UNDELIVERED, SMS Delivered, Voice Completed.
    to = "+306900000100"
    for channel in Channel:
        provider.send(outbound(channel, definition(channel, to), receiver, channel.value))
    wait_until(lambda: sim.pending_receipts() == 0)

    finals = {
        channel: provider.parse_receipt(channel, receiver.bodies(f"/{channel.value}")[-1]).status for channel in Channel
    }
    assert finals == {Channel.VIBER: "UNDELIVERED", Channel.SMS: "Delivered", Channel.VOICE: "Completed"}


@pytest.mark.parametrize("channel", list(Channel))
def test_digit_5_refuses_for_balance(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver, channel: Channel
) -> None:
    balance = sim.balance
    with pytest.raises(InsufficientBalance, match="Insufficient Balance"):
        provider.send(outbound(channel, definition(channel, number(channel, 5)), receiver))
    assert sim.messages() == []
    assert sim.balance == balance


@pytest.mark.parametrize("channel", list(Channel))
def test_digit_6_refuses_authentication_after_exactly_one_refresh(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver, channel: Channel
) -> None:
    with pytest.raises(AuthenticationFailed):
        provider.send(outbound(channel, definition(channel, number(channel, 6)), receiver))
    assert sim.count("POST", "/oauth/token") == 2  # the first token, then one refresh
    assert sim.count("POST", sim_path(channel), status=401) == 2  # the call, then its single repeat
    assert sim.messages() == []


def sim_path(channel: Channel) -> str:
    return {Channel.VIBER: "/viber", Channel.SMS: "/sms", Channel.VOICE: "/voice/conversation"}[channel]
