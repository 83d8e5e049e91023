"""Sustained load on one long-lived local stack (issue 14): right answers, flat memory, throughput, reaction.

    python -m bench.sustained [flows] [clients]     # one JSON object on stdout (the stack runs in this process)

On one stack at FAILOVER_TIME_SCALE 0.1, in this order:
  - idle CPU of the started stack (the process's CPU time over a few quiet seconds);
  - 1 client, then `clients` clients posting `flows` flows in two halves, from a load generator in its own
    process (bench.load), the flows cycling through four paths with fixed outcomes (simulator magic numbers);
    after each half, when every flow and receipt has ended, the process's RSS: MB per 1,000 flows per half;
  - reaction at 4 flows in flight (closed loop, Viber UNDELIVERED → SMS): from the final Viber receipt
    entering status_ingest to the SMS send reaching the simulator;
  - idle CPU again, after all that.
Every accepted flow's final status (and statusCode) is compared with its path's expected outcome.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from bench.flows import FINAL, client_session, start_stack
from bench.load import body
from bench.reaction import distribution_ms, receipt_step_and_status

TIME_SCALE = 0.1
EXPECTED = {  # digits → (status, statusCode): bench.flows paths and the ttl expiry path
    "000": ("Succeeded", None),
    "100": ("Succeeded", None),
    "111": ("Failed", "2"),
    "200": ("Succeeded", None),
}
REACTION_DIGITS = "100"  # Viber UNDELIVERED → SMS Delivered
IDLE_SECONDS = 5.0


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def idle_cpu_percent(seconds: float = IDLE_SECONDS) -> float:
    """Percent of one core this process used while nothing was asked of it."""
    before, began = cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds() - before) / (time.monotonic() - began)


class Outcomes:
    """Each flow's final status as written (the stack's on_status hook), with the moment it was written."""

    def __init__(self) -> None:
        self.final: dict[str, tuple[str, str | None, float]] = {}
        self.changes_after_final: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, item: dict[str, Any]) -> None:
        if item.get("sk") != "#FLOW" or item.get("status") not in FINAL:
            return
        tracking_id = item["pk"].removeprefix("FLOW#")
        outcome = (item["status"], item.get("statusCode") or None, time.time())
        with self._lock:
            earlier = self.final.get(tracking_id)
            if earlier is None:
                self.final[tracking_id] = outcome
            elif earlier[:2] != outcome[:2]:
                self.changes_after_final.append(tracking_id)

    def wait(self, tracking_ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(t not in self.final for t in tracking_ids):
            time.sleep(0.1)


def _settle(stack: Any, timeout: float = 120.0) -> None:
    """Every receipt posted and every stream record and queue message processed (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (stack.simulator.pending_receipts() or not stack.aws.settled()):
        time.sleep(0.1)


def _load(stack: Any, clients: int, flows: int, tag: str) -> dict[str, Any]:
    application_id, secret = next(iter(stack.aws.applications.items()))
    command = [sys.executable, "-m", "bench.load", stack.url, str(clients), str(flows), application_id, secret]
    command += [",".join(EXPECTED), tag]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True)
    return json.loads(done.stdout)


def _run(stack: Any, outcomes: Outcomes, clients: int, flows: int, tag: str) -> dict[str, Any]:
    cpu_before = cpu_seconds()  # the stack's process only: the load generator runs in its own
    load = _load(stack, clients, flows, tag)
    accepted = load["accepted"]
    outcomes.wait([flow["trackingId"] for flow in accepted], timeout=180)
    cpu = cpu_seconds() - cpu_before
    ended = [outcomes.final[f["trackingId"]][2] for f in accepted if f["trackingId"] in outcomes.final]
    window = max(ended) - load["began"] if ended else float("nan")
    latencies = [s * 1000 for s in load["latencies"]]
    return {
        "clients": clients,
        "flows": flows,
        "accepted": len(accepted),
        "post_errors": len(load["errors"]),
        "post_error_examples": load["errors"][:5],
        "accepted_per_second": len(accepted) / (load["ended"] - load["began"]),
        "completed": len(ended),
        "completed_per_second": len(ended) / window if ended else 0.0,
        "post_latency_ms": distribution_ms([s / 1000 for s in latencies]) if latencies else None,
        # One interpreter runs it all, so 1 / this is the most flows a second one core can complete.
        "cpu_seconds_per_flow": cpu / len(ended) if ended else None,
        "_accepted": accepted,
    }


def _reaction(stack: Any, outcomes: Outcomes, flows: int, in_flight: int) -> dict[str, Any]:
    """Closed loop: `in_flight` clients, each starting its next Viber → SMS flow when its last one ended."""
    sends: dict[str, float] = {}  # recipient → monotonic moment its SMS send reached the simulator
    finals: dict[str, float] = {}  # Viber step (trackingId.0) → moment its UNDELIVERED receipt entered
    lock = threading.Lock()
    simulator_send = stack.simulator.send

    def timed_send(channel: str, route: str, request: Any) -> Any:
        moment = time.monotonic()
        if route == "/sms" and isinstance(request, dict):
            with lock:
                sends.setdefault(str(request.get("to")), moment)
        return simulator_send(channel, route, request)

    ingest = stack.aws.functions["StatusIngestFunction"]
    ingest_handler = ingest.handler

    def timed_ingest(event: dict[str, Any], context: Any) -> Any:
        moment = time.monotonic()
        step, status = receipt_step_and_status(event)
        if status == "UNDELIVERED":
            with lock:
                finals.setdefault(step, moment)
        return ingest_handler(event, context)

    stack.simulator.send, ingest.handler = timed_send, timed_ingest
    started: list[tuple[str, str]] = []
    errors: list[str] = []
    counter = iter(range(flows))

    def client(index: int) -> None:
        session = client_session(stack)
        try:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                to = f"+30699{index}{n % 1000:03d}{REACTION_DIGITS}"
                response = session.post(f"{stack.url}/failover", json=body(REACTION_DIGITS, to), timeout=60)
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                tracking_id = response.json()["trackingId"]
                with lock:
                    started.append((tracking_id, to))
                outcomes.wait([tracking_id], timeout=60)
        finally:
            session.close()

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(in_flight)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stack.simulator.send, ingest.handler = simulator_send, ingest_handler
    samples = [sends[to] - finals[f"{t}.0"] for t, to in started if to in sends and f"{t}.0" in finals]
    wrong = [t for t, _ in started if outcomes.final.get(t, ("",))[:2] != EXPECTED[REACTION_DIGITS]]
    return {
        "in_flight": in_flight,
        "flows": len(started),
        "wrong_outcomes": len(wrong),
        "errors": errors[:5],
        "missing": len(started) - len(samples),
        "from": "the final Viber receipt (UNDELIVERED) entering status_ingest",
        "to": "the SMS send reaching the simulator",
        "reaction_ms": distribution_ms(samples) if samples else None,
    }


def measure(flows: int = 1000, clients: int = 8, single_flows: int = 60, reaction_flows: int = 100) -> dict[str, Any]:
    outcomes = Outcomes()
    stack = start_stack(on_status=outcomes, time_scale=TIME_SCALE, simulator_options={})
    try:
        time.sleep(1.0)  # the start's own work done
        idle_started = idle_cpu_percent()
        single = _run(stack, outcomes, 1, single_flows, "1")
        _settle(stack)
        halves = []
        for n, size in enumerate((flows // 2, flows - flows // 2)):
            gc.collect()
            rss_before = rss_mb()
            half = _run(stack, outcomes, clients, size, str(2 + n))
            _settle(stack)
            gc.collect()
            half["rss_before_mb"], half["rss_after_mb"] = rss_before, rss_mb()
            half["mb_per_1000_flows"] = (half["rss_after_mb"] - rss_before) * 1000 / size
            halves.append(half)
        reaction = _reaction(stack, outcomes, reaction_flows, in_flight=4)
        _settle(stack)
        time.sleep(1.0)
        idle_ended = idle_cpu_percent()
        accepted = [f for run in (single, *halves) for f in run.pop("_accepted")]
        wrong = []
        for flow in accepted:
            got = outcomes.final.get(flow["trackingId"])
            if got is None or got[:2] != EXPECTED[flow["digits"]]:
                wrong.append({**flow, "got": got[:2] if got else None, "expected": EXPECTED[flow["digits"]]})
        wrong_ids = {w["trackingId"] for w in wrong}
        by_path: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for flow in accepted:
            by_path[flow["digits"]][0] += flow["trackingId"] not in wrong_ids
            by_path[flow["digits"]][1] += 1
        eight = {
            "clients": clients,
            "flows": sum(h["flows"] for h in halves),
            "accepted": sum(h["accepted"] for h in halves),
            "post_errors": sum(h["post_errors"] for h in halves),
            "accepted_per_second": min(h["accepted_per_second"] for h in halves),
            "completed_per_second": min(h["completed_per_second"] for h in halves),
            "cpu_seconds_per_flow": max(h["cpu_seconds_per_flow"] or 0.0 for h in halves),
        }
        return {
            "time_scale": TIME_SCALE,
            "paths": {
                d: {"expected": list(e), "correct": by_path[d][0], "total": by_path[d][1]} for d, e in EXPECTED.items()
            },
            "correct": len(accepted) - len(wrong),
            "total": single_flows + flows,
            "accepted": len(accepted),
            "wrong_examples": wrong[:10],
            "changed_after_final": len(outcomes.changes_after_final),
            "single_client": single,
            "many_clients": eight,
            "halves": halves,
            "reaction": reaction,
            "idle_cpu_percent": {"after_start": idle_started, "after_load": idle_ended},
            "rss_after_start_mb": halves[0]["rss_before_mb"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads_at_end": threading.active_count(),
            "pid": os.getpid(),
        }
    finally:
        stack.stop()


def run(flows: int = 1000) -> dict[str, Any]:
    """In a fresh process, so that the memory measured is this part's alone."""
    command = [sys.executable, "-m", "bench.sustained", str(flows)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3000, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sustained load failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:]]
    print(json.dumps(measure(*arguments), default=str))
