"""The small interfaces the flow protocol depends on. Adapters (store.py, workflow.py, providers/) implement them
for AWS and Routee; tests/fakes/ implements them in memory, with DynamoDB's conditional-write semantics.

Records pass as typed models (domain.Flow, domain.StepMessage are dict-shaped today; Verdict is a model).
"""

from __future__ import annotations

from typing import Any, Protocol

from failover.domain import Verdict


class Contention(Exception):
    """A call refused for a transient reason that left nothing changed: a conflicting DynamoDB transaction, or
    throttling. Retrying the same call is safe; failover.retries does it with jittered backoff."""


class FlowRepository(Protocol):
    """The flow item and its step messages (store.FlowStore). Every racing write is conditional."""

    def get_flow(self, tracking_id: str) -> dict[str, Any] | None: ...

    def get_message(self, tracking_id: str, index: int) -> dict[str, Any] | None: ...

    def claim(self, tracking_id: str, index: int, task_token: str, now: str) -> dict[str, Any]:
        """Record the step's current task token; returns the message."""
        ...

    def claim_send(self, tracking_id: str, index: int) -> bool:
        """True for exactly one caller per step, and only while the flow is open: that caller may call the
        provider. (False also when the claim was taken but the flow had ended by then.)"""
        ...

    def release_send(self, tracking_id: str, index: int) -> None:
        """The claimed send surely did not reach the provider: a later attempt may claim and send it."""
        ...

    def mark_in_progress(self, tracking_id: str, now: str) -> bool: ...

    def fail_flow(self, tracking_id: str, status_code: str, channel: str | None, now: str) -> bool: ...

    def record_accepted(
        self, tracking_id: str, index: int, provider_message_id: str, price: float | None, parts: int | None
    ) -> None: ...

    def record_status(
        self,
        tracking_id: str,
        index: int,
        status: dict[str, Any],
        rank: int,
        now: str,
        extra: dict[str, Any] | None = None,
    ) -> bool: ...

    def record_part(
        self, tracking_id: str, index: int, part: int, status: str, rank: int, price: float | None
    ) -> dict[str, Any]: ...

    def resolve(self, tracking_id: str, index: int, verdict: Verdict, now: str) -> bool:
        """Fix the step's verdict once; a verdict that ends the flow ends it in the same transaction."""
        ...

    def mark_resumed(self, tracking_id: str, index: int, resumed: str) -> None:
        """Step Functions has confirmed that the task no longer waits; `resumed` is its token's digest."""
        ...


class Workflow(Protocol):
    """The Step Functions executions (workflow.StepFunctionsWorkflow)."""

    def start(self, name: str, payload: dict[str, Any]) -> bool: ...

    def stop(self, name: str, cause: str) -> bool: ...

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Hand the task its output. True: resumed now; False: the task no longer waits (closed, timed out).
        Raises Contention when throttled."""
        ...
