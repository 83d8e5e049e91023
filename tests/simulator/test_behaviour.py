"""The simulator's behaviour: validation, callback strategies, receipt retries, parts, prices, lifecycle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from failover_local.simulator import PRICES, Delays, Simulator, outcome_digit
from failover_local.simulator.scenarios import body_analysis, transcode

from .conftest import TIME_SCALE, Client, Receiver, sms_request, viber_request, voice_request, wait_until

# ---------------------------------------------------------------------------------------------------------
# Validation, as Routee does it: 400 / 400000000 with the offending fields in "properties"
# ---------------------------------------------------------------------------------------------------------

TO = "+306900000000"
SAY = {"type": "SAY", "message": {"text": "Hi", "language": "en-US", "gender": "female"}}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/sms", sms_request("306900000000"), "to"),
        ("/sms", sms_request(TO, ttl=0), "ttl"),
        ("/sms", sms_request(TO, ttl=4321), "ttl"),
        ("/sms", sms_request(TO, flash="yes"), "flash"),
        ("/sms", sms_request(TO, label="x" * 351), "label"),
        ("/sms", sms_request(TO, body=""), "body"),
        ("/sms", sms_request(TO, callback={"url": "http://x", "strategy": "Sometimes"}), "callback.strategy"),
        ("/viber", viber_request(TO, ttl=29), "ttl"),
        ("/viber", viber_request(TO, ttl=86401), "ttl"),
        ("/viber", viber_request(TO, senderInfoTrackingId=None), "senderInfoTrackingId"),
        ("/viber", viber_request(TO, body={"text": "Hi", "imageURL": "https://x/i.png"}), "body"),
        ("/viber", viber_request(TO, body={"imageURL": "http://x/i.png"}), "body.imageURL"),
        ("/viber", viber_request(TO, body={"text": "x" * 1001}), "body.text"),
        (
            "/viber",
            viber_request(TO, body={"text": "Hi", "action": {"caption": "x" * 31, "targetUrl": "https://x"}}),
            "body.action.caption",
        ),
        ("/voice/conversation", voice_request(TO, **{"from": "302100000000"}), "from"),
        ("/voice/conversation", {**voice_request(TO), "to": {"phone": "12"}}, "to.phone"),
        ("/voice/conversation", voice_request(TO, dialPlan={"verbs": [SAY] * 11}), "dialPlan.verbs"),
        ("/voice/conversation", voice_request(TO, dialPlan={"verbs": []}), "dialPlan.verbs"),
        ("/voice/conversation", {**voice_request(TO), "to": {"phone": "", "viber": "", "sip": ""}}, "to"),
        ("/voice/conversation", {**voice_request(TO), "to": {"sip": "alice"}}, "to.sip"),
        ("/voice/conversation", voice_request(TO, **{"from": "Twelve chars"}), "from"),
        (
            "/voice/conversation",
            voice_request(TO, dialPlan={"verbs": [{**SAY, "message": {**SAY["message"], "language": "xx-XX"}}]}),
            "dialPlan.verbs[0].message.language",
        ),
        (
            "/voice/conversation",
            voice_request(TO, dialPlan={"verbs": [{"type": "PLAY", "fileURL": "https://x/a.mp3"}]}),
            "dialPlan.verbs[0].fileURL",
        ),
        ("/voice/conversation", voice_request(TO, machineDetection={"strategy": "Wait"}), "machineDetection.strategy"),
        # An unhashable value where a choice belongs was a 500 before the pydantic models (issue 17).
        ("/sms", sms_request(TO, callback={"url": "http://x", "strategy": []}), "callback.strategy"),
        (
            "/voice/conversation",
            voice_request(TO, dialPlan={"verbs": [{**SAY, "message": {**SAY["message"], "gender": {}}}]}),
            "dialPlan.verbs[0].message.gender",
        ),
    ],
)
def test_validation(sim: Simulator, client: Client, path: str, body: dict, field: str) -> None:
    response = client.post(path, body)
    assert response.status_code == 400
    assert response.json()["code"] == "400000000"
    assert field in response.json()["properties"]
    assert sim.messages() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sms", sms_request(TO, ttl=4320, flash=True, transcode=True, label="otp", **{"from": "3069000"})),
        ("/viber", viber_request(TO, body={"imageURL": "https://x/i.png"}, ttl=30)),
        ("/viber", viber_request(TO, body={"text": "Hi", "action": {"caption": "Go", "targetUrl": "https://x"}})),
        (
            "/voice/conversation",
            voice_request(TO, dialPlan={"verbs": [{"type": "PLAY", "fileURL": "https://x/a.wav"}]}),
        ),
    ],
)
def test_valid_requests_are_accepted(sim: Simulator, client: Client, path: str, body: dict) -> None:
    response = client.post(path, body)
    assert response.status_code == 200, response.text
    assert len(sim.messages()) == 1


def test_unknown_endpoint(client: Client) -> None:
    response = client.post("/whatsapp", {})
    assert response.status_code == 404
    assert response.json()["code"] == "404000000"


# ---------------------------------------------------------------------------------------------------------
# Outcomes, callbacks and delivery
# ---------------------------------------------------------------------------------------------------------


def test_outcome_digits() -> None:
    assert [outcome_digit(channel, "+306900000123") for channel in ("Viber", "Sms", "Voice")] == [1, 2, 3]
    assert [outcome_digit(channel, "+306900000100") for channel in ("Viber", "Sms", "Voice")] == [1, 0, 0]
    assert outcome_digit("Sms", "sip:alice@example.com") == 0
    assert outcome_digit("Voice", "+3069000001x") == 0


def test_on_completion_reports_only_final_statuses(sim: Simulator, client: Client, receiver: Receiver) -> None:
    on_completion = {"url": f"{receiver.url}/cb", "strategy": "OnCompletion"}
    client.post("/sms", sms_request("+306900000000", callback=on_completion))
    client.post("/sms", sms_request("+306900000080", callback={**on_completion, "url": f"{receiver.url}/dup"}))
    wait_until(lambda: sim.pending_receipts() == 0)

    assert [b["status"]["name"] for b in receiver.json_bodies("/cb")] == ["Delivered"]
    assert [b["status"]["name"] for b in receiver.json_bodies("/dup")] == ["Delivered", "Delivered"]


def test_digit_9_refuses_the_first_send_per_channel_and_recipient(sim: Simulator, client: Client) -> None:
    to = "+306900000999"
    statuses = [
        client.post("/sms", sms_request(to)).status_code,
        client.post("/sms", sms_request(to)).status_code,
        client.post("/viber", viber_request(to)).status_code,
        client.post("/viber", viber_request(to)).status_code,
        client.post("/sms", sms_request("+306900000990")).status_code,
    ]
    assert statuses == [503, 200, 503, 200, 503]
    assert len(sim.messages()) == 2


def test_failed_receipts_are_retried_in_order() -> None:
    receiver = Receiver(fail_first=2)
    try:
        with Simulator(time_scale=TIME_SCALE) as sim:
            Client(sim).post("/sms", sms_request(TO, f"{receiver.url}/cb"))
            wait_until(lambda: sim.pending_receipts() == 0)
            attempts = [(d.body["status"]["name"], d.attempt, d.status) for d in sim.deliveries]
    finally:
        receiver.close()

    assert attempts == [("Sent", 1, 500), ("Sent", 2, 500), ("Sent", 3, 200), ("Delivered", 1, 200)]
    assert [b["status"]["name"] for b in receiver.json_bodies("/cb")] == ["Sent", "Delivered"]


def test_a_receiver_that_is_down_gets_bounded_attempts() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/cb"
    with Simulator(time_scale=TIME_SCALE, receipt_attempts=3) as sim:
        Client(sim).post("/sms", sms_request(TO, closed))
        wait_until(lambda: sim.pending_receipts() == 0)
        attempts = [(d.body["status"]["name"], d.attempt, d.status) for d in sim.deliveries]

    # Each receipt tried 3 times, then given up on; the next status still follows.
    assert attempts == [("Sent", n, None) for n in (1, 2, 3)] + [("Delivered", n, None) for n in (1, 2, 3)]


def test_stop_cancels_pending_receipts_and_leaves_no_thread(receiver: Receiver) -> None:
    before = set(threading.enumerate())
    sim = Simulator(time_scale=1, delays=Delays(first=600)).start()
    Client(sim).post("/viber", viber_request(TO, f"{receiver.url}/cb"))
    assert sim.pending_receipts() == 1

    started = time.monotonic()
    sim.stop()

    assert time.monotonic() - started < 2
    assert sim.pending_receipts() == 0
    assert receiver.json_bodies("/cb") == []
    leftovers = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftovers == []


def test_receipt_delays_follow_the_time_scale(receiver: Receiver) -> None:
    with Simulator(time_scale=0.05, delays=Delays(first=4, between=2)) as sim:
        started = time.monotonic()
        Client(sim).post("/voice/conversation", voice_request(TO, f"{receiver.url}/cb"))
        wait_until(lambda: len(receiver.json_bodies("/cb")) == 1)
        first = time.monotonic() - started
        wait_until(lambda: len(receiver.json_bodies("/cb")) == 2)
        second = time.monotonic() - started

    assert 0.2 <= first < 2  # 4 s × 0.05
    assert second >= 0.3  # (4 + 2) s × 0.05


def test_viber_ttl_of_digit_7_is_scaled(receiver: Receiver) -> None:
    with Simulator(time_scale=0.05, delays=Delays(first=0.1, between=0.1)) as sim:
        started = time.monotonic()
        Client(sim).post("/viber", viber_request("+306900000700", f"{receiver.url}/cb", ttl=30))
        wait_until(lambda: receiver.json_bodies("/cb"))
        elapsed = time.monotonic() - started

    assert elapsed >= 1.5  # a 30 s ttl at 0.05
    assert [b["status"]["name"] for b in receiver.json_bodies("/cb")] == ["DELIVERED"]


# ---------------------------------------------------------------------------------------------------------
# Parts, prices, balance
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "parts", "unicode", "characters"),
    [
        ("x" * 160, 1, False, 160),
        ("x" * 161, 2, False, 161),
        ("x" * 306, 2, False, 306),
        ("x" * 307, 3, False, 307),
        ("€" * 80, 1, False, 160),  # extension characters take two septets
        ("ж" * 70, 1, True, 70),
        ("ж" * 71, 2, True, 71),
        ("ж" * 135, 3, True, 135),
    ],
)
def test_body_analysis(body: str, parts: int, unicode: bool, characters: int) -> None:
    assert body_analysis(body) == {"parts": parts, "unicode": unicode, "characters": characters}


def test_transcode_fits_greek_into_gsm() -> None:
    assert transcode("Καλημέρα") == "KAΛHMEPA"
    assert body_analysis("Καλημέρα", transcode_body=True)["unicode"] is False
    assert body_analysis("Καλημέρα")["unicode"] is True


def test_balance_is_debited_per_accepted_send(sim: Simulator, client: Client) -> None:
    start = sim.balance
    client.post("/sms", sms_request(TO, body="x" * 200))  # two parts
    client.post("/viber", viber_request(TO))
    client.post("/voice/conversation", voice_request(TO))
    client.post("/sms", sms_request("+306900000050"))  # refused: not charged

    spent = 2 * PRICES["Sms"] + PRICES["Viber"] + PRICES["Voice"]
    assert sim.balance == pytest.approx(start - spent)
    assert client.get("/accounts/me/balance").json()["balance"] == pytest.approx(start - spent)


def test_token_lifetime_is_a_plain_setting() -> None:
    with Simulator(time_scale=0.01, token_lifetime=0.3) as sim:
        client = Client(sim)
        assert client.token_response().json()["expires_in"] == 0
        assert client.post("/sms", sms_request(TO)).status_code == 200
        expiry = time.monotonic() + 0.35
        wait_until(lambda: time.monotonic() > expiry)
        assert client.post("/sms", sms_request(TO)).json()["error"] == "invalid_token"


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILOVER_TIME_SCALE", "0.25")
    monkeypatch.setenv("SIMULATOR_APPLICATION_ID", "my-app")
    monkeypatch.setenv("SIMULATOR_APPLICATION_SECRET", "my-secret")
    sim = Simulator()
    assert (sim.time_scale, sim.application_id, sim.application_secret) == (0.25, "my-app", "my-secret")
    assert Simulator(time_scale=2).time_scale == 2


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FAILOVER_TIME_SCALE", "SIMULATOR_APPLICATION_ID", "SIMULATOR_APPLICATION_SECRET"):
        monkeypatch.delenv(name, raising=False)
    sim = Simulator()
    assert (sim.time_scale, sim.application_id, sim.application_secret) == (1.0, "simulator-app", "simulator-secret")


def test_runs_alone_from_the_command_line() -> None:
    env = {**os.environ, "SIMULATOR_APPLICATION_ID": "cli-app", "SIMULATOR_APPLICATION_SECRET": "cli-secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "failover_local.simulator", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(4)]  # the URL, the credentials, the env to set
        base_url = banner[0].split(" on ")[1].split()[0]
        token = requests.post(
            f"{base_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("cli-app", "cli-secret"),
            timeout=5,
        )
        assert token.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "applicationId:     cli-app" in banner[1]
    assert "applicationSecret: cli-secret" in banner[2]
    assert f"ROUTEE_API_URL={base_url}" in banner[3]
    assert "stopped" in output
