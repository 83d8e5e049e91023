"""How long a send may retry a provider outage: the step's ttl and the function's time left decide."""

from __future__ import annotations

from dataclasses import dataclass

from failover import providers
from failover.domain import FailoverRequest
from failover.providers import Accepted, OutboundMessage
from failover.service import SEND_FUNCTION_MARGIN_SECONDS, SEND_TTL_MARGIN_SECONDS, FailoverService
from failover.signing import CallbackSigner
from tests.fakes.memory import InMemoryFlowRepository, InMemoryWorkflow


class Capturing:
    name = "budget-test"
    sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> Accepted:
        self.sent.append(message)
        return Accepted(provider_message_id="m1")

    def parse_receipt(self, channel, body):  # pragma: no cover - no receipts here
        raise NotImplementedError


@dataclass
class Context:
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def sent_budget(ttl_minutes: float, context: Context | None) -> float:
    Capturing.sent = []
    providers.register(Capturing.name, Capturing)
    service = FailoverService(
        store=InMemoryFlowRepository(),
        workflow=InMemoryWorkflow(),
        signer=CallbackSigner(lambda: "s"),
        public_api_url="https://api.example",
        provider_name=Capturing.name,
    )
    if context is not None:
        service.bind_invocation(context)
    step = {
        "type": "Sms",
        "order": 1,
        "from": "Bank",
        "to": "+306900000001",
        "ttl": ttl_minutes,
        "message": {"body": "x"},
    }
    tracking_id = service.create_flow(FailoverRequest.model_validate({"flow": [step]}), "app")["trackingId"]
    service.send_step(tracking_id, 0, "token")
    return Capturing.sent[0].retry_for_seconds


def test_a_short_ttl_bounds_the_retries():
    assert sent_budget(1, None) == 60 - SEND_TTL_MARGIN_SECONDS


def test_the_function_s_time_left_bounds_the_retries():
    assert sent_budget(120, Context(remaining_ms=40_000)) == 40 - SEND_FUNCTION_MARGIN_SECONDS


def test_no_time_left_means_a_single_attempt():
    assert sent_budget(120, Context(remaining_ms=5_000)) == 0
