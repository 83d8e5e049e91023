"""The flows the benchmark drives through the local stack, and what one flow costs in counted units.

A flow's path is chosen by the recipient's last three digits (docs/simulator.md): hundreds → Viber, tens → SMS,
units → Voice. Every flow gets a fresh number, so the simulator's requests can be told apart per flow.
"""

from __future__ import annotations

import importlib
import itertools
import math
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
import requests

from bench.meter import METER
from failover_local.aws import REGION
from failover_local.polling import wait_for
from failover_local.simulator import Delays
from failover_local.stack import LocalStack

TIME_SCALE = 0.01  # a 5-minute ttl lasts 3 s; the minimum (Viber's 0.5 min) is rounded up to 1 s
DELAYS = Delays(first=2.0, between=2.0)  # receipts 20 ms apart at this scale
RECEIPT_ROUTE = ("POST", "/webhooks/{provider}/{token}")
FINAL = ("Succeeded", "Failed")

_serial = itertools.count(1)
_serial_lock = threading.Lock()


@dataclass(frozen=True)
class Path:
    key: str
    title: str
    channels: tuple[str, ...]
    digits: str  # the recipient's last three digits
    outcome: tuple[str, str | None]  # (flow status, statusCode)
    ttl: dict[str, float] = field(default_factory=lambda: {"Viber": 5, "Sms": 5, "Voice": 5})  # minutes

    @property
    def steps(self) -> int:
        return len(self.channels)


PATHS = (
    Path("viber", "Viber delivered", ("Viber",), "000", ("Succeeded", None)),
    Path("viber_sms", "Viber → SMS delivered", ("Viber", "Sms"), "100", ("Succeeded", None)),
    Path(
        "viber_sms_voice_failed", "Viber → SMS → Voice, all failing", ("Viber", "Sms", "Voice"), "111", ("Failed", "2")
    ),
    # A provider outage during the send (simulator digit 9: the first send answers 503): retried inside
    # SendStepFunction, so it costs the transitions of the plain Viber path, not a second SendStep.
    Path("viber_outage", "Viber through a provider outage (503, retried)", ("Viber",), "900", ("Succeeded", None)),
)
# Not a target path: what a ttl expiry adds (ExpireStep), for the cost table.
EXPIRY_PATH = Path(
    "viber_expired_sms",
    "Viber expires (ttl) → SMS delivered",
    ("Viber", "Sms"),
    "200",
    ("Succeeded", None),
    ttl={"Viber": 0.5, "Sms": 5, "Voice": 5},
)


def target_transitions(steps: int) -> int:
    """Issue target: a one-step delivered flow ≤ 6 transitions; each further step ≤ 4 more."""
    return 6 + 4 * (steps - 1)


def target_invocations(steps: int) -> int:
    """Issue target: ≤ 3 Lambda invocations for one step, not counting receipts; ≤ 2 more per further step."""
    return 3 + 2 * (steps - 1)


def recipient(digits: str) -> str:
    with _serial_lock:
        serial = next(_serial)
    return f"+3069{serial:05d}{digits}"


def step_request(channel: str, to: str, order: int, ttl: float) -> dict[str, Any]:
    if channel == "Viber":
        return {
            "type": "Viber",
            "order": order,
            "to": to,
            "senderInfoTrackingId": "MyBank",
            "ttl": ttl,
            "message": {"text": "Your PIN is 4821"},
        }
    if channel == "Sms":
        return {
            "type": "Sms",
            "order": order,
            "from": "MyBank",
            "to": to,
            "ttl": ttl,
            "message": {"body": "Your PIN is 4821"},
        }
    return {
        "type": "Voice",
        "order": order,
        "from": "302101234567",
        "to": {"phone": to},
        "ttl": ttl,
        "dialPlan": {
            "verbs": [{"type": "SAY", "message": {"text": "4 8 2 1", "language": "en-US", "gender": "female"}}]
        },
    }


def flow_request(path: Path, to: str) -> dict[str, Any]:
    return {"flow": [step_request(ch, to, order, path.ttl[ch]) for order, ch in enumerate(path.channels, start=1)]}


def execution_arn(stack: LocalStack, tracking_id: str) -> str:
    assert stack.aws is not None
    return stack.aws.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{tracking_id}"


_clients = threading.local()


def _sfn() -> Any:
    """One Step Functions client per thread and stack (creating a client costs more than a call)."""
    client = getattr(_clients, "sfn", None)
    session = boto3.DEFAULT_SESSION
    if client is None or getattr(_clients, "session", None) is not session:
        with METER.paused():
            client = boto3.client("stepfunctions", region_name=REGION)
        _clients.sfn, _clients.session = client, boto3.DEFAULT_SESSION
    return client


def history(stack: LocalStack, tracking_id: str) -> list[dict[str, Any]]:
    sfn = _sfn()
    with METER.paused():
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn(stack, tracking_id), "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


def execution_status(stack: LocalStack, tracking_id: str) -> str:
    sfn = _sfn()
    with METER.paused():
        return sfn.describe_execution(executionArn=execution_arn(stack, tracking_id))["status"]


def _fresh_providers() -> None:
    """The product builds each channel provider once per process, from the environment of that moment; a
    second local stack in the same process has a new simulator URL. Registering the built-in factory again
    (the public API) drops the old instance."""
    from failover import providers

    for name, target in getattr(providers, "BUILTIN", {}).items():
        module, attribute = target.split(":")
        providers.register(name, getattr(importlib.import_module(module), attribute))


def start_stack(**options: Any) -> LocalStack:
    METER.install()  # before the stack's sessions and clients exist
    _fresh_providers()
    options.setdefault("time_scale", TIME_SCALE)
    options.setdefault("simulator_options", {"delays": DELAYS})
    return LocalStack(port=0, simulator_port=0, **options).start()


@dataclass
class FlowCounts:
    """What one flow consumed, as counted in the local stack."""

    path: str
    tracking_id: str
    outcome: tuple[str, str | None]
    states: list[str]  # the states entered, in order
    transitions: int
    invocations: dict[str, int]  # function logical id → invocations (receipts included)
    receipt_invocations: int  # status_ingest invocations caused by provider receipts
    durations_ms: dict[str, list[float]]  # function → billed ms per invocation (rounded up to 1 ms)
    memory_mb: dict[str, int]
    api_requests: int  # POST /failover (and any other client request)
    receipts: int  # provider receipts received through API Gateway
    aws: dict[str, Any]  # the meter's snapshot: AWS calls and DynamoDB units

    @property
    def flow_invocations(self) -> int:
        """Lambda invocations not counting receipts (the issue's measure)."""
        return sum(self.invocations.values()) - self.receipt_invocations

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flow_invocations": self.flow_invocations}


def client_session(stack: LocalStack) -> requests.Session:
    """A session that calls the API as a client: with a Bearer token when the stack has applications."""
    applications = getattr(stack.aws, "applications", None)
    try:
        from failover_local.stack import bearer_session
    except ImportError:  # a stack without authentication
        return requests.Session()
    if not applications:
        return requests.Session()
    application_id, secret = next(iter(applications.items()))
    return bearer_session(stack.url, application_id, secret)


class Driver:
    """Drives flows one at a time over HTTP and counts each one's consumption."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.session = client_session(stack)

    def create(self, request: dict[str, Any]) -> str:
        response = self.session.post(f"{self.stack.url}/failover", json=request, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"POST /failover answered {response.status_code}: {response.text}")
        return response.json()["trackingId"]

    def track(self, tracking_id: str) -> dict[str, Any]:
        return self.session.get(f"{self.stack.url}/failover/tracking/{tracking_id}", timeout=30).json()

    def measure(self, path: Path, timeout: float = 30.0) -> FlowCounts:
        """Run one flow of `path` alone, wait for it and every receipt to end, and count what it consumed."""
        aws, simulator = self.stack.aws, self.stack.simulator
        assert aws is not None and simulator is not None
        wait_for(lambda: simulator.pending_receipts() == 0, timeout, what="earlier receipts")
        invocations = {k: f.invocations for k, f in aws.functions.items()}
        durations = {k: len(f.durations) for k, f in aws.functions.items()}
        http = Counter(aws.http_requests)
        METER.reset()
        METER.enabled = True
        try:
            tracking_id = self.create(flow_request(path, recipient(path.digits)))
            wait_for(lambda: execution_status(self.stack, tracking_id) != "RUNNING", timeout, 0.05, "the execution")
            wait_for(lambda: simulator.pending_receipts() == 0, timeout, what="the flow's receipts")
        finally:
            METER.enabled = False
        aws_counts = METER.snapshot()
        used = {k: f.invocations - invocations[k] for k, f in aws.functions.items()}
        requests_made = Counter(aws.http_requests) - http
        billed_ms = {
            k: [math.ceil(d * 1000) for d in f.durations[durations[k] : durations[k] + used[k]]]
            for k, f in aws.functions.items()
            if used[k]
        }
        events = history(self.stack, tracking_id)
        entered = [e for e in events if e["type"].endswith("StateEntered")]
        snapshot = self.track(tracking_id)  # after counting: the GET is not part of the flow
        receipts = requests_made.get(RECEIPT_ROUTE, 0)
        return FlowCounts(
            path=path.key,
            tracking_id=tracking_id,
            outcome=(snapshot["status"], snapshot.get("statusCode")),
            states=[e["stateEnteredEventDetails"]["name"] for e in entered],
            transitions=len(entered),
            invocations={k: n for k, n in used.items() if n},
            receipt_invocations=receipts,
            durations_ms=billed_ms,
            memory_mb={k: f.memory_mb for k, f in aws.functions.items()},
            api_requests=sum(requests_made.values()) - receipts,
            receipts=receipts,
            aws=aws_counts,
        )

    def close(self) -> None:
        self.session.close()
