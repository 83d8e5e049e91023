"""Retry what AWS refused for a transient reason (ports.Contention), with capped exponential backoff and full
jitter, so that racing writers spread out instead of colliding again.

Safe because a Contention leaves nothing changed: a cancelled transaction applies none of its items, a plain
write refused with TransactionConflictException is not applied, and a throttled request is not processed.
See "Transaction conflict handling in DynamoDB"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling)
and "Retry behavior" (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from failover.observability import count, logger
from failover.ports import Contention

T = TypeVar("T")

# Attempts in all, first delay and the cap of one delay (seconds). Worst case ~ 0.05+0.1+...+1.6+1.6 ≈ 5 s of
# sleeping, well inside every function's timeout; a conflict on one item rarely outlives a transaction (ms).
CONTENTION_ATTEMPTS = 8
CONTENTION_BASE_DELAY = 0.05
CONTENTION_MAX_DELAY = 1.6


@dataclass(frozen=True)
class Backoff:
    attempts: int = CONTENTION_ATTEMPTS
    base: float = CONTENTION_BASE_DELAY
    cap: float = CONTENTION_MAX_DELAY
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float, float], float] = field(default=random.uniform)

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return self.jitter(0.0, min(self.cap, self.base * 2**attempt))

    def run(self, call: Callable[[], T], what: str = "call") -> T:
        for attempt in range(self.attempts):
            try:
                return call()
            except Contention as contention:
                if attempt + 1 == self.attempts:
                    raise
                count("ContentionRetries")
                logger.info("Transient refusal; retrying", extra={"call": what, "reason": str(contention)})
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")


class Retrying:
    """Wraps a port (repository, workflow): every method call is retried on Contention."""

    def __init__(self, inner: Any, backoff: Backoff | None = None):
        self._inner = inner
        self._backoff = backoff or Backoff()

    @property
    def inner(self) -> Any:
        return self._inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def retried(*args: Any, **kwargs: Any) -> Any:
            return self._backoff.run(lambda: attribute(*args, **kwargs), what=name)

        return retried


def retrying(port: Any, backoff: Backoff | None = None) -> Any:
    """`port` with retries, unless it already has them."""
    return port if isinstance(port, Retrying) else Retrying(port, backoff)
