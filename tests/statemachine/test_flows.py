"""statemachine/failover.asl.json itself, executed by moto's Step Functions interpreter, with the real handlers
dispatched in-process and receipts POSTed through the status-ingest route by a scripted provider."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from failover.domain import Channel
from failover.providers import AuthenticationFailed, InsufficientBalance, Rejected, Unavailable, Unconfirmed
from tests.fakes.scripted_provider import Say
from tests.harness import wait_for

_numbers = itertools.count(1)


def number() -> str:
    """A fresh valid mobile number per test, so each test's script is its own."""
    return f"+30690{next(_numbers):07d}"


def viber(to: str, order: int = 1, **extra) -> dict:
    return {
        "type": "Viber",
        "order": order,
        "to": to,
        "senderInfoTrackingId": "bank",
        "message": {"text": "PIN"},
        **extra,
    }


def sms(to: str, order: int = 2, **extra) -> dict:
    return {"type": "Sms", "order": order, "from": "Bank", "to": to, "message": {"body": "PIN 1234"}, **extra}


def voice(to: str, order: int = 3, **extra) -> dict:
    return {
        "type": "Voice",
        "order": order,
        "from": "302101234567",
        "to": {"phone": to},
        "dialPlan": {
            "verbs": [{"type": "SAY", "message": {"text": "1 2 3 4", "language": "en-US", "gender": "female"}}]
        },
        **extra,
    }


def statuses(snapshot: dict) -> list[tuple[str, str]]:
    return [(m["type"], m["status"]["name"]) for m in snapshot["messages"]]


# --- each channel's success --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "channel", "delivered"),
    [(viber, Channel.VIBER, "DELIVERED"), (sms, Channel.SMS, "Delivered"), (voice, Channel.VOICE, "Completed")],
)
def test_each_channel_succeeds_on_its_success_status(stack, step, channel, delivered):
    to = number()
    stack.provider.script(channel, to, Say(delivered, price=0.02))
    snapshot = stack.finish({"flow": [step(to, order=1)]})
    assert snapshot["status"] == "Succeeded"
    assert snapshot["statusCode"] is None
    assert snapshot["terminationChannel"] == channel.value
    assert statuses(snapshot) == [(channel.value, delivered)]
    assert snapshot["totalPrice"] == 0.02
    assert stack.execution(snapshot["trackingId"])["status"] == "SUCCEEDED"


def test_viber_then_sms_fails_over_at_once_and_stops_at_the_first_delivery(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, Say("UNDELIVERED", detail="Not Viber User"))
    stack.provider.script(Channel.SMS, to, Say("Sent"), Say("Delivered", after=0.2))
    snapshot = stack.finish({"flow": [viber(to), sms(to), voice(to)]})
    assert snapshot["status"] == "Succeeded"
    assert snapshot["terminationChannel"] == "Sms"
    assert statuses(snapshot) == [("Viber", "UNDELIVERED"), ("Sms", "Delivered")]
    assert snapshot["messages"][0]["status"]["reason"]["detailedStatus"] == "Not Viber User"
    assert [m.channel for m in stack.provider.sends_to(to)] == [Channel.VIBER, Channel.SMS]  # no Voice


def test_steps_run_in_ascending_order_not_array_order(stack):
    to = number()
    stack.provider.script(Channel.VOICE, to, Say("Busy"))
    stack.provider.script(Channel.SMS, to, Say("Failed"))
    stack.provider.script(Channel.VIBER, to, Say("DELIVERED"))
    snapshot = stack.finish({"flow": [viber(to, order=9), sms(to, order=5), voice(to, order=2)]})
    assert [m.channel for m in stack.provider.sends_to(to)] == [Channel.VOICE, Channel.SMS, Channel.VIBER]
    assert [m["order"] for m in snapshot["messages"]] == [2, 5, 9]
    assert snapshot["terminationChannel"] == "Viber"


def test_failover_statuses_match_case_insensitively(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, Say("UNDELIVERED"))
    stack.provider.script(Channel.SMS, to, Say("Delivered"))
    snapshot = stack.finish({"flow": [viber(to, failoverOnStatuses=["undelivered"]), sms(to)]})
    assert snapshot["messages"][0]["failoverOnStatuses"] == ["UNDELIVERED"]
    assert snapshot["status"] == "Succeeded"


# --- statusCode 0 to 3 ----------------------------------------------------------------------------------------


def test_status_code_0_when_provider_authentication_fails(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, refuse=AuthenticationFailed("401 after a fresh token"))
    snapshot = stack.finish({"flow": [viber(to), sms(to)]})
    assert (snapshot["status"], snapshot["statusCode"], snapshot["terminationChannel"]) == ("Failed", "0", "Viber")
    assert statuses(snapshot) == [("Viber", "FAILED")]
    assert len(stack.provider.sends_to(to)) == 1  # no failover after an auth failure


def test_status_code_0_when_the_workflow_meets_an_unexpected_error(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, refuse=RuntimeError("bug in a provider"))  # not a SendError
    snapshot = stack.finish({"flow": [viber(to), sms(to)]})
    assert (snapshot["status"], snapshot["statusCode"]) == ("Failed", "0")
    assert stack.execution(snapshot["trackingId"])["status"] == "FAILED"


@pytest.mark.parametrize(
    ("channel", "step", "unsent"),
    [(Channel.VIBER, viber, "UNSENT"), (Channel.SMS, sms, "Unsent"), (Channel.VOICE, voice, "Unsent")],
)
def test_status_code_1_when_the_provider_refuses_for_balance(stack, channel, step, unsent):
    to = number()
    stack.provider.script(channel, to, refuse=InsufficientBalance("Insufficient Balance"))
    snapshot = stack.finish({"flow": [step(to, order=1), sms(number(), order=7)]})
    assert (snapshot["status"], snapshot["statusCode"]) == ("Failed", "1")
    assert statuses(snapshot) == [(channel.value, unsent)]


@pytest.mark.parametrize("status", ["Unsent", "Terminated"])
def test_status_code_1_when_a_voice_receipt_reports_no_balance(stack, status):
    to = number()
    stack.provider.script(Channel.VOICE, to, Say(status))
    snapshot = stack.finish({"flow": [voice(to, order=1), sms(to, order=2)]})
    assert (snapshot["status"], snapshot["statusCode"]) == ("Failed", "1")
    assert len(stack.provider.sends_to(to)) == 1


def test_status_code_2_when_the_last_step_fails_over(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, Say("FAILED"))
    stack.provider.script(Channel.SMS, to, Say("Undelivered"))
    stack.provider.script(Channel.VOICE, to, Say("NoAnswer"))
    snapshot = stack.finish({"flow": [viber(to), sms(to), voice(to)]})
    assert (snapshot["status"], snapshot["statusCode"], snapshot["terminationChannel"]) == ("Failed", "2", "Voice")
    assert statuses(snapshot) == [("Viber", "FAILED"), ("Sms", "Undelivered"), ("Voice", "NoAnswer")]


def test_status_code_3_when_the_final_status_is_not_a_failover_status(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, Say("UNDELIVERED"))
    snapshot = stack.finish({"flow": [viber(to, failoverOnStatuses=["EXPIRED"]), sms(to)]})
    assert (snapshot["status"], snapshot["statusCode"], snapshot["terminationChannel"]) == ("Failed", "3", "Viber")
    assert len(stack.provider.sends_to(to)) == 1


@pytest.mark.parametrize("refusal", [Rejected("Invalid sender"), Unavailable("503 after retries")])
def test_a_rejected_or_unreachable_send_is_failed_and_fails_over(stack, refusal):
    """Unreachable: after the in-function retries, with a ttl (1 min → 2 s here) too short for another round."""
    to = number()
    stack.provider.script(Channel.SMS, to, refuse=refusal)
    stack.provider.script(Channel.VOICE, to, Say("Completed"))
    snapshot = stack.finish({"flow": [sms(to, order=1, ttl=1, failoverOnStatuses=["Failed"]), voice(to, order=2)]})
    assert statuses(snapshot) == [("Sms", "Failed"), ("Voice", "Completed")]
    assert snapshot["messages"][0]["status"]["reason"]["description"] == refusal.reason
    assert snapshot["status"] == "Succeeded"


# --- ttl expiry ------------------------------------------------------------------------------------------------


def test_viber_without_a_final_status_expires_after_its_ttl_and_fails_over(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, initial_status="QUEUED")
    stack.provider.script(Channel.SMS, to, Say("Delivered"))
    snapshot = stack.finish({"flow": [viber(to, ttl=0.5), sms(to)]})
    viber_message = snapshot["messages"][0]
    assert viber_message["status"]["name"] == "EXPIRED"
    assert viber_message["status"]["reason"]["detailedStatus"] == "TTL Expired"
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")


def test_sms_expiry_is_undelivered_with_detailed_status_expired(stack):
    to = number()
    stack.provider.script(Channel.SMS, to, Say("Sent"))
    snapshot = stack.finish({"flow": [sms(to, order=1, ttl=1)]})
    assert snapshot["messages"][0]["status"]["name"] == "Undelivered"
    assert snapshot["messages"][0]["status"]["reason"]["detailedStatus"] == "Expired"
    assert (snapshot["status"], snapshot["statusCode"]) == ("Failed", "2")


def test_voice_expiry_is_failed_timed_out_which_is_not_a_default_failover_status(stack):
    to = number()
    stack.provider.script(Channel.VOICE, to, Say("Ringing"))
    snapshot = stack.finish({"flow": [voice(to, order=1, ttl=1), sms(to, order=2)]})
    assert snapshot["messages"][0]["status"]["name"] == "Failed"
    assert snapshot["messages"][0]["status"]["reason"]["detailedStatus"] == "Timed out"
    assert (snapshot["status"], snapshot["statusCode"]) == ("Failed", "3")


def test_the_ttl_is_the_task_timeout_scaled_by_the_time_scale(stack):
    to = number()
    stack.provider.script(Channel.SMS, to, Say("Sent"))
    snapshot = stack.finish({"flow": [sms(to, order=1, ttl=1)]})
    scheduled = [e for e in stack.history(snapshot["trackingId"]) if e["type"] == "TaskScheduled"][0][
        "taskScheduledEventDetails"
    ]
    assert scheduled["timeoutInSeconds"] == 2  # 60 s x 0.02 = 1.2, rounded up


# --- scheduledDate ---------------------------------------------------------------------------------------------


def test_a_scheduled_flow_stays_queued_until_its_date(stack):
    to = number()
    stack.provider.script(Channel.SMS, to, Say("Delivered"))
    scheduled = datetime.now(UTC) + timedelta(seconds=100)  # 2 s at the test time scale
    created = stack.create({"flow": [sms(to, order=1)], "scheduledDate": scheduled.isoformat()})
    assert created["status"] == "Queued"
    assert stack.track(created["trackingId"])["status"] == "Queued"
    assert stack.provider.sends_to(to) == []
    snapshot = stack.wait_final(created["trackingId"])
    assert snapshot["status"] == "Succeeded"
    waits = [e for e in stack.history(created["trackingId"]) if e["type"] == "WaitStateEntered"]
    assert json.loads(waits[0]["stateEnteredEventDetails"]["input"])["waitSeconds"] == 2


# --- receipts as they really behave ----------------------------------------------------------------------------


def test_a_receipt_that_arrives_before_the_provider_id_is_stored_still_resumes_the_flow(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, Say("DELIVERED", sync=True))  # posted from inside send()
    snapshot = stack.finish({"flow": [viber(to), sms(to)]})
    assert snapshot["status"] == "Succeeded"
    assert snapshot["messages"][0]["trackingId"] is not None


def test_a_receipt_that_arrives_before_the_token_is_stored_is_not_lost(stack):
    to = number()
    scheduled = datetime.now(UTC) + timedelta(seconds=150)  # 3 s: the step's token is not stored yet
    created = stack.create({"flow": [sms(to, order=1), voice(to, order=2)], "scheduledDate": scheduled.isoformat()})
    status, body = stack.request(
        "POST", stack.signed_callback(created["trackingId"], 0), {"id": None, "status": "Delivered"}
    )
    assert status == 200, body
    snapshot = stack.wait_final(created["trackingId"])
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")
    assert stack.provider.sends_to(to) == []  # the step was already over: nothing is sent


def test_duplicate_receipts_resume_each_task_once_and_only_with_its_own_verdict(stack):
    """Four copies of Viber's final receipt at once: Viber's task resumed only with NEXT, SMS's only with its own
    SUCCEEDED, one send per step. The copies are handled at once, as concurrent Lambda invocations would be: a
    copy that reads the step before the resume is recorded calls SendTaskSuccess too, with the same verdict
    (Step Functions refuses it with TaskTimedOut, the task being closed, and so does the local stack: moto patch 16)."""
    to = number()
    stack.provider.script(Channel.VIBER, to, *[Say("UNDELIVERED", after=0.1) for _ in range(4)])
    stack.provider.script(Channel.SMS, to, Say("Delivered", after=0.3))
    calls: list[tuple[str, dict]] = []
    real = StepFunctionsParserBackend.send_task_success

    def counted(backend, task_token, outcome):
        calls.append((task_token, json.loads(outcome)))
        return real(backend, task_token, outcome)

    answered = len(stack.provider.answers)
    with mock.patch.object(StepFunctionsParserBackend, "send_task_success", counted):
        snapshot = stack.finish({"flow": [viber(to), sms(to)]})
        wait_for(lambda: len(stack.provider.answers) == answered + 5, what="all five receipts answered")
    assert stack.provider.answers[answered:] == [200] * 5
    tokens = list(dict.fromkeys(token for token, _ in calls))  # in order of first call
    assert len(tokens) == 2, calls
    verdicts = [{json.dumps(output, sort_keys=True) for t, output in calls if t == token} for token in tokens]
    assert [len(v) for v in verdicts] == [1, 1], calls  # every call for a task carries that task's one verdict
    first = {token: next(output for t, output in calls if t == token) for token in tokens}
    assert [first[t]["outcome"] for t in tokens] == ["NEXT", "SUCCEEDED"]
    assert first[tokens[1]]["terminationChannel"] == "Sms"
    assert sum(1 for t, _ in calls if t == tokens[1]) == 1  # SMS's single receipt: one call
    assert [m.channel for m in stack.provider.sends_to(to)] == [Channel.VIBER, Channel.SMS]
    assert snapshot["status"] == "Succeeded"


def test_a_non_final_status_after_a_final_one_does_not_overwrite_it(stack):
    to = number()
    stack.provider.script(Channel.SMS, to, Say("Delivered", after=0.05), Say("Sent", after=0.4))
    created = stack.create({"flow": [sms(to, order=1)]})
    answered = len(stack.provider.answers)
    wait_for(lambda: len(stack.provider.answers) >= answered + 2, what="both receipts")
    snapshot = stack.wait_final(created["trackingId"])
    assert statuses(snapshot) == [("Sms", "Delivered")]


def test_a_receipt_after_the_step_timed_out_is_recorded_but_does_not_change_the_path(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, Say("DELIVERED", after=2.0))  # ttl 0.5 min → 1 s
    stack.provider.script(Channel.SMS, to, Say("Delivered", after=0.05))
    snapshot = stack.finish({"flow": [viber(to, ttl=0.5), sms(to)]})
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")
    late = wait_for(
        lambda: (s := stack.track(snapshot["trackingId"]))["messages"][0]["status"]["name"] == "DELIVERED" and s,
        what="the late Viber receipt",
    )
    assert (late["status"], late["terminationChannel"]) == ("Succeeded", "Sms")
    assert all(status == 200 for status in stack.provider.answers)


def test_a_retried_send_step_invocation_never_sends_the_step_twice(stack):
    to = number()
    stack.provider.script(Channel.SMS, to, Say("Sent"))  # stays pending: the task keeps waiting
    created = stack.create({"flow": [sms(to, order=1, ttl=2)]})
    tracking_id = created["trackingId"]
    wait_for(lambda: len(stack.provider.sends_to(to)) == 1, what="the first send")
    # Lambda retries the invocation (for example after a timeout): same step, a new task token.
    stack.aws.invoke("SendStepFunction", {"trackingId": tracking_id, "index": 0, "taskToken": "retry-token"})
    assert len(stack.provider.sends_to(to)) == 1
    snapshot = stack.wait_final(tracking_id)
    assert len(stack.provider.sends_to(to)) == 1
    assert snapshot["status"] == "Failed"


def test_an_unknown_or_forged_callback_token_changes_nothing(stack):
    to = number()
    stack.provider.script(Channel.SMS, to, Say("Sent"))
    created = stack.create({"flow": [sms(to, order=1, ttl=2)]})
    wait_for(lambda: stack.track(created["trackingId"])["messages"], what="the step to be sent")
    good = stack.signed_callback(created["trackingId"], 0)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    status, _ = stack.request("POST", forged, {"id": None, "status": "Delivered"})
    assert status == 401
    status, _ = stack.request("POST", "/webhooks/scripted/", {"status": "Delivered"})
    assert status == 403  # no such route
    snapshot = stack.track(created["trackingId"])
    assert snapshot["status"] == "InProgress"
    assert snapshot["messages"][0]["status"]["name"] in (None, "Sent")


# --- a send whose answer was lost (issue 13) ---------------------------------------------------------------


def test_an_unconfirmed_send_is_not_repeated_and_its_receipt_still_ends_the_step(stack):
    """A read timeout may hide a message the provider took: no second send; the signed callback URL ties the
    receipt to the step although the provider's id was never stored."""
    to = number()
    stack.provider.script(Channel.SMS, to, refuse=Unconfirmed("Routee's answer was lost: ReadTimeout"))
    created = stack.create({"flow": [sms(to, order=1, ttl=30), voice(to, order=2)]})  # 36 s: never the ttl
    tracking_id = created["trackingId"]
    waiting = wait_for(
        lambda: (s := stack.track(tracking_id))["messages"] and s["messages"][0]["status"]["name"] == "Queued" and s,
        what="the unconfirmed step to wait",
    )
    assert waiting["status"] == "InProgress"
    assert waiting["messages"][0]["status"]["reason"]["detailedStatus"] == "Unconfirmed"
    status, body = stack.request("POST", stack.signed_callback(tracking_id, 0), {"id": None, "status": "Delivered"})
    assert status == 200, body
    snapshot = stack.wait_final(tracking_id)
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")
    assert [m.channel for m in stack.provider.sends_to(to)] == [Channel.SMS]  # sent once, never repeated


def test_an_unconfirmed_send_without_a_receipt_expires_at_its_ttl_and_fails_over(stack):
    to = number()
    stack.provider.script(Channel.VIBER, to, refuse=Unconfirmed("Routee answered HTTP 504"))
    stack.provider.script(Channel.SMS, to, Say("Delivered"))
    snapshot = stack.finish({"flow": [viber(to, ttl=0.5), sms(to)]})
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")
    assert statuses(snapshot) == [("Viber", "EXPIRED"), ("Sms", "Delivered")]
    assert [m.channel for m in stack.provider.sends_to(to)] == [Channel.VIBER, Channel.SMS]


def test_an_outage_longer_than_the_send_s_retries_sends_the_step_again_within_its_ttl(stack):
    """The provider stays unavailable through two sends (each after its in-function retries): the state machine
    waits and sends the same step again, as long as the ttl (30 min → 36 s here) leaves time."""
    to = number()
    stack.provider.script(Channel.SMS, to, Say("Delivered"), refuse=Unavailable("HTTP 503"), refusals=2)
    snapshot = stack.finish({"flow": [sms(to, order=1, ttl=30), voice(to, order=2)]})
    assert (snapshot["status"], snapshot["terminationChannel"]) == ("Succeeded", "Sms")
    assert [m.channel for m in stack.provider.sends_to(to)] == [Channel.SMS] * 3  # two refused, one taken
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(snapshot["trackingId"])
        if e["type"].endswith("StateEntered")
    ]
    assert entered == [
        "Schedule",
        "SendStep",
        "Route",
        "RetrySend",
        "SendStep",
        "Route",
        "RetrySend",
        "SendStep",
        "Route",
        "FlowEnded",
    ]
    timeouts = [
        json.loads(e["stateEnteredEventDetails"]["input"])["step"]["timeoutSeconds"]
        for e in stack.history(snapshot["trackingId"])
        if e["type"] == "TaskStateEntered"
    ]
    assert timeouts[0] == 36 and timeouts[0] > timeouts[1] > timeouts[2] >= 1  # the ttl left, not a fresh one
