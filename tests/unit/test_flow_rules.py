"""Flow rules (judge → Verdict, flow_status_of) and durations (ttls and waits, scaled)."""

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from failover.domain import (
    DEFAULT_FAILOVER_ON,
    EXPIRY_STATUS,
    FAILED_STATUS,
    FINAL_FLOW_STATUSES,
    NO_BALANCE_STATUS,
    STATUSES,
    Channel,
    FlowStatus,
    Kind,
    Outcome,
    SmsStep,
    StatusCode,
    Verdict,
    flow_status_of,
    judge,
    scaled_seconds,
    schedule_wait_seconds,
    step_timeout_seconds,
)

VIBER, SMS, VOICE = Channel.VIBER, Channel.SMS, Channel.VOICE
NEXT = (1, 600)


def _all(kind):
    return [(c, s) for c in Channel for s, k in STATUSES[c].items() if k is kind]


def test_status_codes_are_strings_on_the_wire():
    assert {c.name: c.value for c in StatusCode} == {
        "SERVER_ERROR": "0",
        "INSUFFICIENT_BALANCE": "1",
        "NO_NEXT_STEP": "2",
        "FAILOVER_NOT_TRIGGERED": "3",
        "CANCELLED": "4",  # our extension
    }
    assert [s.value for s in FlowStatus] == ["Queued", "InProgress", "Succeeded", "Failed"]
    assert {FlowStatus.SUCCEEDED, FlowStatus.FAILED} == FINAL_FLOW_STATUSES


# --- judge ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "status"), _all(Kind.SUCCESS))
@pytest.mark.parametrize("next_step", [NEXT, None])
def test_success_ends_the_flow_succeeded_on_that_channel(channel, status, next_step):
    verdict = judge(channel, status, DEFAULT_FAILOVER_ON[channel], next_step)
    assert verdict == Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=channel)
    assert verdict.statusCode is None
    assert verdict.index is None and verdict.timeoutSeconds is None


@pytest.mark.parametrize(("channel", "status"), _all(Kind.NO_BALANCE))
@pytest.mark.parametrize("next_step", [NEXT, None])
def test_no_balance_fails_the_flow_with_code_1_unless_voice_names_it(channel, status, next_step):
    # Sms and Viber cannot name a balance status (validation refuses it): balance ends the flow. Voice may name
    # Unsent and Terminated (Routee documents them as Voice failover statuses): then the flow moves on.
    verdict = judge(channel, status, [status, *DEFAULT_FAILOVER_ON[channel]], next_step)
    if channel is Channel.VOICE and next_step is not None:
        assert verdict == Verdict(outcome=Outcome.NEXT, index=NEXT[0], timeoutSeconds=NEXT[1])
    else:
        assert verdict == Verdict(
            outcome=Outcome.FAILED, statusCode=StatusCode.INSUFFICIENT_BALANCE, terminationChannel=channel
        )
    assert judge(channel, status, DEFAULT_FAILOVER_ON[channel], next_step).statusCode is (
        StatusCode.INSUFFICIENT_BALANCE
    )


@pytest.mark.parametrize("next_step", [NEXT, None])
def test_voice_may_fail_over_on_completed(next_step):
    verdict = judge(Channel.VOICE, "Completed", ["Completed", "Busy"], next_step)
    if next_step is None:  # nothing to move on to: a completed call is still a success
        assert verdict == Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=Channel.VOICE)
    else:
        assert verdict == Verdict(outcome=Outcome.NEXT, index=NEXT[0], timeoutSeconds=NEXT[1])


@pytest.mark.parametrize(("channel", "status"), _all(Kind.FAILURE))
def test_failover_status_with_a_next_step_goes_on(channel, status):
    verdict = judge(channel, status, [status], (2, 45))
    assert verdict == Verdict(outcome=Outcome.NEXT, index=2, timeoutSeconds=45)
    assert verdict.statusCode is None and verdict.terminationChannel is None


@pytest.mark.parametrize(("channel", "status"), _all(Kind.FAILURE))
def test_failover_status_on_the_last_step_fails_with_code_2(channel, status):
    verdict = judge(channel, status, [status], None)
    assert verdict == Verdict(outcome=Outcome.FAILED, statusCode=StatusCode.NO_NEXT_STEP, terminationChannel=channel)


@pytest.mark.parametrize(("channel", "status"), _all(Kind.FAILURE))
@pytest.mark.parametrize("next_step", [NEXT, None])
def test_final_status_outside_failover_statuses_fails_with_code_3(channel, status, next_step):
    others = [s for s in STATUSES[channel] if s != status]
    verdict = judge(channel, status, others, next_step)
    assert verdict == Verdict(
        outcome=Outcome.FAILED, statusCode=StatusCode.FAILOVER_NOT_TRIGGERED, terminationChannel=channel
    )
    assert judge(channel, status, [], next_step).statusCode is StatusCode.FAILOVER_NOT_TRIGGERED


@pytest.mark.parametrize(
    ("channel", "status", "next_step", "expected_outcome", "expected_code"),
    [
        (VIBER, "EXPIRED", NEXT, Outcome.NEXT, None),
        (VIBER, "UNDELIVERED", None, Outcome.FAILED, StatusCode.NO_NEXT_STEP),
        (SMS, "Undelivered", NEXT, Outcome.NEXT, None),
        (SMS, "Failed", None, Outcome.FAILED, StatusCode.NO_NEXT_STEP),
        (VOICE, "Busy", NEXT, Outcome.NEXT, None),
        (VOICE, "NoAnswer", None, Outcome.FAILED, StatusCode.NO_NEXT_STEP),
        # Voice "Failed" is a failover candidate but not a default one
        (VOICE, "Failed", NEXT, Outcome.FAILED, StatusCode.FAILOVER_NOT_TRIGGERED),
        (VOICE, "Failed", None, Outcome.FAILED, StatusCode.FAILOVER_NOT_TRIGGERED),
    ],
)
def test_judge_with_default_failover_statuses(channel, status, next_step, expected_outcome, expected_code):
    verdict = judge(channel, status, DEFAULT_FAILOVER_ON[channel], next_step)
    assert verdict.outcome is expected_outcome
    assert verdict.statusCode == expected_code


@pytest.mark.parametrize(
    ("channel", "expected"),
    [(VIBER, Outcome.NEXT), (SMS, Outcome.NEXT), (VOICE, Outcome.FAILED)],
)
def test_expiry_with_default_failover_statuses(channel, expected):
    status, _ = EXPIRY_STATUS[channel]
    assert judge(channel, status, DEFAULT_FAILOVER_ON[channel], NEXT).outcome is expected


def test_failover_list_is_matched_in_canonical_spelling_from_validation():
    step = SmsStep.model_validate(
        {
            "type": "Sms",
            "order": 1,
            "from": "Brand",
            "to": "+306912345678",
            "message": {"body": "hi"},
            "failoverOnStatuses": ["UNDELIVERED"],
        }
    )
    assert judge(SMS, "Undelivered", step.failoverOnStatuses, (1, 60)).outcome is Outcome.NEXT
    assert judge(SMS, "Failed", step.failoverOnStatuses, (1, 60)).statusCode is StatusCode.FAILOVER_NOT_TRIGGERED


@pytest.mark.parametrize(("channel", "status"), _all(Kind.FAILURE) + _all(Kind.NO_BALANCE) + _all(Kind.SUCCESS))
@pytest.mark.parametrize("code", list(StatusCode))
def test_forced_code_ends_the_flow_whatever_the_status(channel, status, code):
    verdict = judge(channel, status, [status], NEXT, forced_code=code)
    assert verdict == Verdict(outcome=Outcome.FAILED, statusCode=code, terminationChannel=channel)


@pytest.mark.parametrize("channel", list(Channel))
def test_authentication_failure_refusal_is_server_error(channel):
    # What the service records for a provider authentication failure.
    verdict = judge(channel, FAILED_STATUS[channel], DEFAULT_FAILOVER_ON[channel], NEXT, StatusCode.SERVER_ERROR)
    assert (verdict.outcome, verdict.statusCode) == (Outcome.FAILED, StatusCode.SERVER_ERROR)
    no_balance = judge(channel, NO_BALANCE_STATUS[channel], DEFAULT_FAILOVER_ON[channel], NEXT)
    assert no_balance.statusCode is StatusCode.INSUFFICIENT_BALANCE


@pytest.mark.parametrize(("channel", "status"), _all(Kind.PENDING))
@pytest.mark.parametrize("forced", [None, StatusCode.SERVER_ERROR])
def test_pending_status_cannot_be_judged(channel, status, forced):
    with pytest.raises(ValueError, match="not final"):
        judge(channel, status, [status], NEXT, forced_code=forced)


def test_judge_accepts_tuple_or_list_failover_statuses():
    assert judge(SMS, "Failed", ("Failed",), NEXT) == judge(SMS, "Failed", ["Failed"], NEXT)


# --- Verdict as the state machine's task output -----------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "wire"),
    [
        (
            Verdict(outcome=Outcome.NEXT, index=1, timeoutSeconds=600),
            {"outcome": "NEXT", "index": 1, "timeoutSeconds": 600},
        ),
        (
            Verdict(outcome=Outcome.FAILED, statusCode=StatusCode.NO_NEXT_STEP, terminationChannel=SMS),
            {"outcome": "FAILED", "statusCode": "2", "terminationChannel": "Sms"},
        ),
        (
            Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=VOICE),
            {"outcome": "SUCCEEDED", "terminationChannel": "Voice"},
        ),
    ],
)
def test_verdict_wire_form_round_trips(verdict, wire):
    assert verdict.model_dump(mode="json", exclude_none=True) == wire
    assert Verdict.model_validate(wire) == verdict


def test_verdict_is_frozen():
    verdict = Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=VIBER)
    with pytest.raises(FrozenInstanceError):
        verdict.outcome = Outcome.FAILED  # type: ignore[misc]


def test_a_stored_verdict_is_read_back_typed():
    """DynamoDB hands numbers back as Decimal; the verdict reads them as the integers it wrote."""
    stored = {"outcome": "NEXT", "index": Decimal(1), "timeoutSeconds": Decimal(600), "unknown": "ignored"}
    verdict = Verdict.model_validate(stored)
    assert verdict == Verdict(outcome=Outcome.NEXT, index=1, timeoutSeconds=600)
    assert type(verdict.index) is int and verdict.outcome is Outcome.NEXT


@pytest.mark.parametrize(
    "wire",
    [
        {"outcome": "MAYBE"},
        {"outcome": "FAILED", "statusCode": "9"},
        {"outcome": "NEXT", "index": 1.5},
        {"outcome": "NEXT", "index": True},
        {"index": 1},
    ],
)
def test_a_malformed_verdict_is_refused(wire):
    with pytest.raises((ValueError, TypeError)):
        Verdict.model_validate(wire)


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=VIBER), FlowStatus.SUCCEEDED),
        (Verdict(outcome=Outcome.FAILED, statusCode=StatusCode.SERVER_ERROR), FlowStatus.FAILED),
        (Verdict(outcome=Outcome.NEXT, index=1, timeoutSeconds=1), None),
    ],
)
def test_flow_status_of(verdict, expected):
    assert flow_status_of(verdict) == expected


@pytest.mark.parametrize(
    ("channel", "status", "next_step", "expected"),
    [
        (VIBER, "SEEN", None, FlowStatus.SUCCEEDED),
        (SMS, "Unsent", NEXT, FlowStatus.FAILED),
        (SMS, "Failed", NEXT, None),
        (VOICE, "Busy", None, FlowStatus.FAILED),
    ],
)
def test_flow_status_of_judged_verdicts(channel, status, next_step, expected):
    assert flow_status_of(judge(channel, status, DEFAULT_FAILOVER_ON[channel], next_step)) == expected


# --- durations --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "scale", "minimum", "expected"),
    [
        (600, 1.0, 0, 600),
        (600, 0.01, 0, 6),
        (600, 0.001, 0, 1),  # 0.6 s rounds up
        (1.2, 1.0, 0, 2),
        (0, 1.0, 0, 0),
        (0, 1.0, 1, 1),
        (-30, 1.0, 0, 0),  # never negative
        (0.4, 0.5, 1, 1),
        (30, 2.0, 0, 60),
        (86400, 1.0, 1, 86400),
    ],
)
def test_scaled_seconds(seconds, scale, minimum, expected):
    result = scaled_seconds(seconds, scale, minimum)
    assert result == expected
    assert isinstance(result, int)


@pytest.mark.parametrize(
    ("ttl_minutes", "scale", "expected"),
    [
        (10, 1.0, 600),  # Viber and Voice default
        (1200, 1.0, 72000),  # SMS default
        (0.5, 1.0, 30),  # Viber minimum
        (1440, 1.0, 86400),
        (2.5, 1.0, 150),
        (10, 0.01, 6),
        (0.5, 0.001, 1),  # Step Functions' minimum timeout
        (1, 0.0, 1),
    ],
)
def test_step_timeout_seconds(ttl_minutes, scale, expected):
    assert step_timeout_seconds(ttl_minutes, scale) == expected


@pytest.mark.parametrize(("ttl_minutes", "expected"), [(8.3, 498), (16.1, 966), (32.2, 1932)])
def test_step_timeout_is_not_inflated_by_float_noise(ttl_minutes, expected):
    assert step_timeout_seconds(ttl_minutes, 1.0) == expected


NOW = datetime(2024, 7, 10, 3, 32, 32, 916000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("scheduled", "scale", "expected"),
    [
        (None, 1.0, 0),
        (NOW, 1.0, 0),
        (NOW - timedelta(hours=1), 1.0, 0),  # in the past: start at once
        (NOW + timedelta(seconds=90), 1.0, 90),
        (NOW + timedelta(seconds=90), 0.1, 9),
        (NOW + timedelta(seconds=1, milliseconds=200), 1.0, 2),
        (NOW + timedelta(days=1), 1.0, 86400),
        # the same instant written in another offset
        ((NOW + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=3))), 1.0, 300),
    ],
)
def test_schedule_wait_seconds(scheduled, scale, expected):
    assert schedule_wait_seconds(scheduled, NOW, scale) == expected
