"""End to end, as a client sees the product: HTTP only, against the local stack (`make run`) and its simulator.

Each simulator digit is checked on each channel, then mixed chains. The recipient's last three digits choose
the Viber, SMS and Voice outcomes (docs/simulator.md).
"""

from __future__ import annotations

import itertools
import time

import pytest
import requests

from failover_local.simulator import Delays
from failover_local.stack import LocalStack, bearer_session
from tests.harness import final_over_http, wait_for

TIME_SCALE = 0.01
VIBER_TTL = SMS_TTL = VOICE_TTL = 15  # minutes: 9 s each at this scale
# Receipts come 0.4 s after a send (or after the ttl, for digit 7). The ttl leaves them 20 times that: thirty
# flows start at once, and on a loaded 2-core machine a receipt was seen 3.9 s after its send, losing to a 3 s
# expiry. (A final receipt recorded before the expiry is, wins; see the README.)
SIMULATOR = {"delays": Delays(first=40.0, between=10.0)}

_serial = itertools.count(1)


def recipient(viber: int = 0, sms: int = 0, voice: int = 0) -> str:
    """A fresh valid number whose last three digits are the outcomes for Viber, SMS and Voice."""
    return f"+3069{next(_serial):05d}{viber}{sms}{voice}"


def step(channel: str, to: str, order: int) -> dict:
    if channel == "Viber":
        return {
            "type": "Viber",
            "order": order,
            "to": to,
            "senderInfoTrackingId": "bank",
            "ttl": VIBER_TTL,
            "message": {"text": "Your PIN is 1234"},
        }
    if channel == "Sms":
        return {
            "type": "Sms",
            "order": order,
            "from": "MyBank",
            "to": to,
            "ttl": SMS_TTL,
            "message": {"body": "PIN 1234"},
        }
    return {
        "type": "Voice",
        "order": order,
        "from": "302101234567",
        "to": {"phone": to},
        "ttl": VOICE_TTL,
        "dialPlan": {
            "verbs": [{"type": "SAY", "message": {"text": "1 2 3 4", "language": "en-US", "gender": "female"}}]
        },
    }


APPLICATIONS = {"local-app": "local-secret", "other-app": "other-secret"}  # as FAILOVER_LOCAL_APPS gives `make run`


@pytest.fixture(scope="module")
def api():
    stack = LocalStack(
        port=0, simulator_port=0, time_scale=TIME_SCALE, simulator_options=SIMULATOR, applications=APPLICATIONS
    ).start()
    session = bearer_session(stack.url, "local-app", "local-secret")
    try:
        assert session.get(f"{stack.url}/health", timeout=5).status_code == 200
        yield stack.url, session
    finally:
        session.close()
        stack.stop()


def create(api, request: dict) -> str:
    url, session = api
    response = session.post(f"{url}/failover", json=request, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["trackingId"]


def final(api, tracking_id: str, timeout: float = 30.0) -> dict:
    url, session = api
    return final_over_http(session, url, tracking_id, timeout)


def outcome(snapshot: dict) -> tuple:
    return snapshot["status"], snapshot.get("statusCode"), snapshot["terminationChannel"]


# (channel, digit) → (flow status, statusCode, the message's final status name(s)) for a one-step flow
# with the channel's default failoverOnStatuses.
SINGLE_STEP = {
    ("Viber", 0): ("Succeeded", None, {"DELIVERED", "SEEN"}),
    ("Viber", 1): ("Failed", "2", {"UNDELIVERED"}),
    ("Viber", 2): ("Failed", "2", {"EXPIRED"}),
    ("Viber", 3): ("Failed", "2", {"FAILED"}),
    ("Viber", 4): ("Succeeded", None, {"DELIVERED"}),
    ("Viber", 5): ("Failed", "1", {"UNSENT"}),
    ("Viber", 6): ("Failed", "0", {"FAILED"}),
    ("Viber", 7): ("Failed", "2", {"EXPIRED", "DELIVERED"}),  # the late DELIVERED is recorded afterwards
    ("Viber", 8): ("Succeeded", None, {"DELIVERED"}),
    ("Viber", 9): ("Succeeded", None, {"DELIVERED", "SEEN"}),
    ("Sms", 0): ("Succeeded", None, {"Delivered"}),
    ("Sms", 1): ("Failed", "2", {"Undelivered"}),
    ("Sms", 2): ("Failed", "2", {"Undelivered"}),
    ("Sms", 3): ("Failed", "2", {"Failed"}),
    ("Sms", 4): ("Failed", "2", {"Undelivered"}),
    ("Sms", 5): ("Failed", "1", {"Unsent"}),
    ("Sms", 6): ("Failed", "0", {"Failed"}),
    ("Sms", 7): ("Failed", "2", {"Undelivered", "Delivered"}),
    ("Sms", 8): ("Succeeded", None, {"Delivered"}),
    ("Sms", 9): ("Succeeded", None, {"Delivered"}),
    ("Voice", 0): ("Succeeded", None, {"Completed"}),
    ("Voice", 1): ("Failed", "2", {"NoAnswer"}),
    ("Voice", 2): ("Failed", "3", {"Failed"}),  # expiry is Failed (Timed out): not a default failover status
    ("Voice", 3): ("Failed", "3", {"Failed"}),
    ("Voice", 4): ("Failed", "2", {"Busy"}),
    ("Voice", 5): ("Failed", "1", {"Unsent"}),
    ("Voice", 6): ("Failed", "0", {"Failed"}),
    ("Voice", 7): ("Succeeded", None, {"Completed"}),  # completes 60 s (scaled) after the send, inside its ttl
    ("Voice", 8): ("Succeeded", None, {"Completed"}),
    ("Voice", 9): ("Succeeded", None, {"Completed"}),
}


def test_every_simulator_digit_on_every_channel(api):
    started = {}
    for (channel, digit), expected in SINGLE_STEP.items():
        digits = {"Viber": 0, "Sms": 0, "Voice": 0} | {channel: digit}
        to = recipient(digits["Viber"], digits["Sms"], digits["Voice"])
        started[(channel, digit)] = (create(api, {"flow": [step(channel, to, 1)]}), expected)
    for (channel, digit), (tracking_id, (status, code, names)) in started.items():
        snapshot = final(api, tracking_id)
        assert outcome(snapshot) == (status, code, channel), (channel, digit, snapshot)
        assert [m["type"] for m in snapshot["messages"]] == [channel]
        assert snapshot["messages"][0]["status"]["name"] in names, (channel, digit, snapshot)


@pytest.mark.parametrize(
    ("digits", "expected", "statuses"),
    [
        ((1, 0, 0), ("Succeeded", None, "Sms"), [("Viber", "UNDELIVERED"), ("Sms", "Delivered")]),
        (
            (1, 1, 0),
            ("Succeeded", None, "Voice"),
            [("Viber", "UNDELIVERED"), ("Sms", "Undelivered"), ("Voice", "Completed")],
        ),
        ((3, 3, 4), ("Failed", "2", "Voice"), [("Viber", "FAILED"), ("Sms", "Failed"), ("Voice", "Busy")]),
        ((2, 1, 3), ("Failed", "3", "Voice"), [("Viber", "EXPIRED"), ("Sms", "Undelivered"), ("Voice", "Failed")]),
        ((1, 5, 0), ("Failed", "1", "Sms"), [("Viber", "UNDELIVERED"), ("Sms", "Unsent")]),
        ((1, 6, 0), ("Failed", "0", "Sms"), [("Viber", "UNDELIVERED"), ("Sms", "Failed")]),
        ((0, 0, 0), ("Succeeded", None, "Viber"), [("Viber", {"DELIVERED", "SEEN"})]),
        ((9, 0, 0), ("Succeeded", None, "Viber"), [("Viber", {"DELIVERED", "SEEN"})]),
    ],
)
def test_mixed_chains_viber_sms_voice(api, digits, expected, statuses):
    to = recipient(*digits)
    snapshot = final(api, create(api, {"flow": [step("Viber", to, 1), step("Sms", to, 2), step("Voice", to, 3)]}))
    assert outcome(snapshot) == expected
    got = [(m["type"], m["status"]["name"]) for m in snapshot["messages"]]
    assert [t for t, _ in got] == [t for t, _ in statuses]
    for (_, name), (_, want) in zip(got, statuses, strict=True):
        assert name in (want if isinstance(want, set) else {want})
    assert snapshot["totalPrice"] == pytest.approx(sum(m["price"] for m in snapshot["messages"]))


def test_a_late_viber_delivery_is_recorded_after_the_flow_moved_on(api):
    url, session = api
    to = recipient(7, 0, 0)
    tracking_id = create(api, {"flow": [step("Viber", to, 1), step("Sms", to, 2)]})
    assert outcome(final(api, tracking_id)) == ("Succeeded", None, "Sms")
    late = wait_for(
        lambda: (
            (s := session.get(f"{url}/failover/tracking/{tracking_id}", timeout=10).json())["messages"][0]["status"][
                "name"
            ]
            == "DELIVERED"
            and s
        ),
        timeout=15,
        what="the late Viber receipt",
    )
    assert outcome(late) == ("Succeeded", None, "Sms")


def test_prices_come_from_the_provider(api):
    to = recipient(1, 0, 0)
    snapshot = final(api, create(api, {"flow": [step("Viber", to, 1), step("Sms", to, 2)]}))
    assert snapshot["totalPrice"] > 0
    assert snapshot["messages"][1]["price"] > 0


def test_bad_input_is_400_and_unknown_tracking_is_404_over_http(api):
    url, session = api
    response = session.post(f"{url}/failover", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["properties"] == {"body": "is not valid JSON"}
    response = session.post(f"{url}/failover", json={"flow": [step("Sms", "+3069", 1)]})
    assert response.status_code == 400
    assert set(response.json()["properties"]) == {"flow[0].to"}
    response = session.get(f"{url}/failover/tracking/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404


def test_health_and_unknown_routes(api):
    url, session = api
    assert session.get(f"{url}/health").json() == {"status": "ok"}
    assert session.get(f"{url}/nope").status_code == 403  # API Gateway's answer to an unknown route
    started = time.monotonic()
    assert session.get(f"{url}/health").status_code == 200
    assert time.monotonic() - started < 5


def test_two_applications_over_http_see_only_their_own_flows(api):
    url, session = api
    other = bearer_session(url, "other-app", "other-secret")
    mine = create(api, {"flow": [step("Sms", recipient(0, 0, 0), 1)]})
    theirs = other.post(f"{url}/failover", json={"flow": [step("Sms", recipient(0, 0, 0), 1)]}).json()["trackingId"]
    assert session.get(f"{url}/failover/tracking/{mine}").json()["applicationId"] == "local-app"
    assert other.get(f"{url}/failover/tracking/{theirs}").json()["applicationId"] == "other-app"
    assert other.get(f"{url}/failover/tracking/{mine}").status_code == 404
    assert session.get(f"{url}/failover/tracking/{theirs}").status_code == 404
    anonymous = requests.get(f"{url}/failover/tracking/{mine}")
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "Unauthorized"})
    wrong = requests.post(f"{url}/oauth/token", auth=("other-app", "nope"), data={"grant_type": "client_credentials"})
    assert wrong.status_code == 401 and wrong.json()["message"] == "Bad credentials"
