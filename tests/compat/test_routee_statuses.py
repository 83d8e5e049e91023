"""Every status Routee documents per channel is known, with a kind and a default failover behaviour; a Routee
receipt with SMS "Network Error" or Voice "Unknown" is read, and moves the flow on (docs/routee-compatibility.md).
"""

from __future__ import annotations

import itertools
import json

import pytest

from failover.domain import DEFAULT_FAILOVER_ON, STATUSES, Channel, Kind, Outcome, canonical_status, judge
from failover.providers.routee import RouteeProvider
from tests.fakes.scripted_provider import Say

# From docs.routee.net: /docs/statuses-callbacks and /reference/send-single-sms (SMS), /docs/viber-... and the
# Failover statuses page (Viber), /docs/voice-messaging-statuses (Voice). Kind: pending or final.
DOCUMENTED = {
    Channel.SMS: {
        "Queued": "pending",
        "Sent": "pending",
        "Delivered": "final",
        "Undelivered": "final",
        "Failed": "final",
        "Unsent": "final",
        "Network Error": "final",
    },
    Channel.VIBER: {
        "QUEUED": "pending",
        "DELIVERED": "final",
        "SEEN": "final",
        "UNDELIVERED": "final",
        "EXPIRED": "final",
        "FAILED": "final",
        "UNSENT": "final",
    },
    Channel.VOICE: {
        "Queued": "pending",
        "Initiated": "pending",
        "Ringing": "pending",
        "InProgress": "pending",
        "Completed": "final",
        "Busy": "final",
        "NoAnswer": "final",
        "Failed": "final",
        "Unknown": "final",
        "Unsent": "final",
        "Terminated": "final",
    },
}
# With failoverOnStatuses left out, these move the flow to the next step.
FAILS_OVER_BY_DEFAULT = {
    Channel.SMS: {"Undelivered", "Failed", "Network Error"},
    Channel.VIBER: {"UNDELIVERED", "EXPIRED", "FAILED"},
    Channel.VOICE: {"Busy", "NoAnswer", "Unknown"},
}


@pytest.mark.parametrize("channel", list(Channel))
def test_every_documented_status_is_known_with_its_kind(channel):
    known = {status: ("pending" if kind is Kind.PENDING else "final") for status, kind in STATUSES[channel].items()}
    assert known == DOCUMENTED[channel]


@pytest.mark.parametrize(
    ("channel", "status"), [(c, s) for c in Channel for s, k in DOCUMENTED[c].items() if k == "final"]
)
def test_default_failover_behaviour(channel, status):
    verdict = judge(channel, status, DEFAULT_FAILOVER_ON[channel], (1, 60))
    assert (verdict.outcome is Outcome.NEXT) is (status in FAILS_OVER_BY_DEFAULT[channel])


@pytest.mark.parametrize(
    ("channel", "body", "status"),
    [
        (Channel.SMS, {"messageId": "m-1", "status": {"name": "Network Error"}}, "Network Error"),
        (Channel.SMS, {"messageId": "m-1", "status": {"name": "network error"}}, "Network Error"),
        (Channel.VOICE, {"conversationTrackingId": "c-1", "status": {"name": "Unknown"}}, "Unknown"),
    ],
)
def test_routee_receipts_with_the_newly_known_statuses_are_read(channel, body, status):
    receipt = RouteeProvider(application_id="a", application_secret="s").parse_receipt(
        channel, json.dumps(body).encode()
    )
    assert receipt.status == status == canonical_status(channel, status)


_numbers = itertools.count(1)


def test_network_error_and_unknown_move_the_flow_on(stack):
    """Through the state machine and the real handlers: SMS Network Error → Voice Unknown → Viber DELIVERED."""
    to = f"+30697{next(_numbers):07d}"
    stack.provider.script(Channel.SMS, to, Say("Network Error"))
    stack.provider.script(Channel.VOICE, to, Say("Unknown"))
    stack.provider.script(Channel.VIBER, to, Say("DELIVERED"))
    snapshot = stack.finish(
        {
            "flow": [
                {"type": "Sms", "order": 1, "from": "Bank", "to": to, "message": {"body": "PIN"}},
                {
                    "type": "Voice",
                    "order": 2,
                    "from": "Bank",
                    "to": to,
                    "dialPlan": {
                        "verbs": [{"type": "SAY", "message": {"text": "1 2", "language": "en-US", "gender": "male"}}]
                    },
                },
                {"type": "Viber", "order": 3, "to": to, "senderInfoTrackingId": "bank", "message": {"text": "PIN"}},
            ]
        }
    )
    assert [m["status"]["name"] for m in snapshot["messages"]] == ["Network Error", "Unknown", "DELIVERED"]
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Viber")
