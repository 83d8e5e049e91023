"""Functions that run at once in the local stack's one process write log lines and metrics as each would in its
own sandbox: every log line names the function that wrote it and carries its own invocation's keys, and every
metric line carries one metric with its own dimensions (docs/local-isolation.md). API, task and mapping
invocations run at once here: flows are created from several threads while earlier flows' steps are sent
(SendStep, by the state machine), their receipts ingested (StatusIngest) and their callbacks captured
(CallbackCapture, from the table's stream) and delivered (CallbackDeliver, from SQS).

The interleavings are not forced here (tests/unit/test_local_isolation.py forces them, guard by guard). Checked
once that this test can fail: with failover_local.aws.log_keys_per_thread made a no-op, "Flow created" lines
named CallbackCaptureFunction."""

from __future__ import annotations

import io
import itertools
import json
import logging
import threading

import pytest

from failover import observability
from failover.domain import Channel
from tests.fakes.scripted_provider import Say
from tests.harness import wait_for
from tests.receiver import Receiver

FLOWS, CLIENTS = 4, 2
TTL = {"ttl": 15}  # minutes: 18 s at the harness's time scale, so that a receipt late on a loaded machine still wins
_numbers = itertools.count(1)

# The functions that log each message on these flows' paths (failover.service, failover.callbacks): a step is
# resolved by its receipt, or by the send that finds the receipt already recorded, or by its expiry.
WRITERS_OF_MESSAGE = {
    "Flow created": {"ApiFunction"},
    "Step sent": {"SendStepFunction"},
    "Step resolved": {"StatusIngestFunction", "SendStepFunction", "ExpireStepFunction"},
    "Callback delivered": {"CallbackDeliverFunction"},
}
CORRELATED_BY_TRACKING_ID = {"SendStepFunction"}  # inject_lambda_context(correlation_id_path="trackingId")


@pytest.fixture
def receiver():
    endpoint = Receiver().up()
    yield endpoint
    endpoint.down()


def test_log_and_metric_lines_name_their_own_function_while_functions_run_at_once(stack, receiver, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")  # one EMF line per metric, not indented
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(observability.logger.registered_formatter)
    observability.logger.addHandler(handler)
    level = observability.logger.log_level
    observability.logger.setLevel(logging.INFO)
    names = {logical_id: function.name for logical_id, function in stack.aws.functions.items()}
    recipients = [f"+30691{next(_numbers):07d}" for _ in range(FLOWS)]
    for to in recipients:
        stack.provider.script(Channel.VIBER, to, Say("UNDELIVERED", after=0.05))
        stack.provider.script(Channel.SMS, to, Say("Delivered", after=0.05))
    created: list[str] = []
    lock = threading.Lock()

    def client(mine: list[str]) -> None:
        for to in mine:
            flow = {
                "flow": [
                    {
                        "type": "Viber",
                        "order": 1,
                        "to": to,
                        "senderInfoTrackingId": "b",
                        **TTL,
                        "message": {"text": "1"},
                    },
                    {"type": "Sms", "order": 2, "from": "Bank", "to": to, **TTL, "message": {"body": "PIN"}},
                ],
                "callback": {"url": receiver.url, "strategy": "OnCompletion"},
            }
            tracking_id = stack.create(flow)["trackingId"]
            with lock:
                created.append(tracking_id)

    threads = [threading.Thread(target=client, args=(recipients[n::CLIENTS],)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(created) == FLOWS
        for tracking_id in created:
            assert stack.wait_final(tracking_id, timeout=30)["status"] == "Succeeded"
        wait_for(lambda: out.getvalue().count('"Callback delivered"') >= FLOWS, timeout=30)
    finally:
        observability.logger.removeHandler(handler)
        observability.logger.setLevel(level)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    mine = [line for line in lines if line.get("trackingId") in created]
    by_message = {message: [line for line in mine if line["message"] == message] for message in WRITERS_OF_MESSAGE}
    assert {message: len(found) >= FLOWS for message, found in by_message.items()} == dict.fromkeys(
        WRITERS_OF_MESSAGE, True
    )
    for message, found in by_message.items():
        assert {line["function_name"] for line in found} <= {names[w] for w in WRITERS_OF_MESSAGE[message]}, message
    functions_of_request: dict[str, set[str]] = {}
    for line in mine:
        functions_of_request.setdefault(line["function_request_id"], set()).add(line["function_name"])
        if line["function_name"] in {names[f] for f in CORRELATED_BY_TRACKING_ID}:  # its own flow, not another's
            assert line["correlation_id"] == line["trackingId"], line
    assert {request: len(functions) for request, functions in functions_of_request.items()} == dict.fromkeys(
        functions_of_request, 1
    )

    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    emitted: dict[tuple[str, str | None], int] = {}
    for line in metrics:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]  # one metric per line
        assert set(directive["Dimensions"][0]) <= {"service", "channel"}
        (value,) = line[metric["Name"]]  # one value: a count emitted on its own
        key = (metric["Name"], line.get("channel"))
        emitted[key] = emitted.get(key, 0) + value
    # Other tests' flows may still be finishing on this stack: at least ours, each under its own channel.
    assert emitted.get(("FlowsCreated", None), 0) >= FLOWS
    assert emitted.get(("MessagesSent", "Viber"), 0) >= FLOWS
    assert emitted.get(("FailedOver", "Viber"), 0) >= FLOWS
    assert emitted.get(("MessagesSent", "Sms"), 0) >= FLOWS
    assert emitted.get(("MessagesDelivered", "Sms"), 0) >= FLOWS
