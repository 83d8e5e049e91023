"""Receipt delivery: one scheduler thread and a few POSTing workers, so no request thread ever waits.

The receipts of one message form a chain, POSTed in order: the next is due at its own time, but never
before the previous one was delivered or given up on.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

RECEIPT_TIMEOUT = 2.0  # Routee's receivers must answer within 2 s
RECEIPT_ATTEMPTS = 4  # first try + 3 retries
RECEIPT_BACKOFF = 1.0  # seconds before scaling; doubles at each retry


@dataclass
class Chain:
    url: str
    items: list[tuple[float, dict[str, Any]]]  # (due, as time.monotonic(); receipt body)
    index: int = 0
    attempt: int = 0


@dataclass(frozen=True)
class Delivery:
    url: str
    body: dict[str, Any]
    attempt: int
    status: int | None  # the receiver's HTTP status; None when it could not be reached
    error: str | None = None


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    chain: Chain = field(compare=False)


class Dispatcher:
    def __init__(
        self,
        time_scale: float,
        attempts: int = RECEIPT_ATTEMPTS,
        backoff: float = RECEIPT_BACKOFF,
        on_delivery: Callable[[Delivery], None] | None = None,
        workers: int = 4,
    ):
        self._scale = time_scale
        self._attempts = attempts
        self._backoff = backoff
        self._on_delivery = on_delivery or (lambda delivery: None)
        self._workers = workers
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._in_flight = 0  # chains whose receipt is being POSTed
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="simulator-receipt")
        self._thread = threading.Thread(target=self._run, name="simulator-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Cancel pending receipts and wait for the scheduler and any POST in flight (≤ 2 s)."""
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify_all()
        if self._thread:
            self._thread.join()
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def pending(self) -> int:
        """Receipts waiting or being POSTed; 0 once every chain is delivered or given up."""
        with self._cond:
            return len(self._jobs) + self._in_flight

    def submit(self, chain: Chain) -> None:
        if chain.items:
            self._schedule(chain, chain.items[0][0])

    def _schedule(self, chain: Chain, due: float) -> None:
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._jobs, _Job(due, next(self._seq), chain))
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._jobs or self._jobs[0].due > time.monotonic()):
                    timeout = self._jobs[0].due - time.monotonic() if self._jobs else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                job = heapq.heappop(self._jobs)
                self._in_flight += 1
            assert self._pool is not None
            try:
                self._pool.submit(self._post, job.chain)
            except RuntimeError:  # the pool shut down meanwhile
                return

    def _post(self, chain: Chain) -> None:
        try:
            self._deliver(chain)
        finally:
            with self._cond:
                self._in_flight -= 1

    def _deliver(self, chain: Chain) -> None:
        body = chain.items[chain.index][1]
        status: int | None = None
        error: str | None = None
        try:
            status = requests.post(chain.url, json=body, timeout=RECEIPT_TIMEOUT).status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        self._on_delivery(Delivery(chain.url, body, chain.attempt + 1, status, error))
        if status is None or status // 100 != 2:
            chain.attempt += 1
            if chain.attempt < self._attempts:
                backoff = self._backoff * 2 ** (chain.attempt - 1) * self._scale
                self._schedule(chain, time.monotonic() + backoff)
                return
        # Delivered or given up: on to the next receipt of this message.
        chain.index += 1
        chain.attempt = 0
        if chain.index < len(chain.items):
            self._schedule(chain, max(chain.items[chain.index][0], time.monotonic()))
