"""Throughput of the local stack: flows accepted per second by POST /failover with 1 and with 8 concurrent clients
(a load generator in its own process), flows completed per second, and the peak memory of the stack's process.

Run in a process of its own (`python -m bench.throughput <out.json>`), so that its peak RSS is the stack's alone.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

from bench.flows import FINAL, start_stack
from bench.reaction import percentile

CLIENTS = (1, 8)
FLOWS = {1: 16, 8: 32}
DIGITS = "100"  # Viber UNDELIVERED → SMS Delivered


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def measure(flows: dict[int, int] = FLOWS) -> dict[str, Any]:
    completed: dict[str, float] = {}

    def on_status(item: dict[str, Any]) -> None:
        if item.get("sk") == "#FLOW" and item.get("status") in FINAL:
            completed.setdefault(item["pk"].removeprefix("FLOW#"), time.time())

    stack = start_stack(on_status=on_status)
    assert stack.aws is not None and stack.simulator is not None
    runs = []
    try:
        rss_started = _rss_mb()
        application_id, secret = next(iter((getattr(stack.aws, "applications", None) or {"": ""}).items()))
        for clients in CLIENTS:
            command = [sys.executable, "-m", "bench.load", stack.url, str(clients), str(flows[clients])]
            command += [application_id, secret, DIGITS]
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
            load = json.loads(done.stdout)
            accepted = [flow["trackingId"] for flow in load["accepted"]]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not all(t in completed for t in accepted):
                time.sleep(0.05)
            ended = [completed[t] for t in accepted if t in completed]
            window = (max(ended) - load["began"]) if ended else float("nan")
            latencies = [s * 1000 for s in load["latencies"]]
            runs.append(
                {
                    "clients": clients,
                    "flows": flows[clients],
                    "accepted": len(accepted),
                    "errors": load["errors"][:10],
                    "error_count": len(load["errors"]),
                    "accepted_per_second": len(accepted) / (load["ended"] - load["began"]),
                    "post_latency_ms": {
                        "p50": percentile(latencies, 50),
                        "p95": percentile(latencies, 95),
                        "p99": percentile(latencies, 99),
                    }
                    if latencies
                    else None,
                    "completed": len(ended),
                    "completed_per_second": len(ended) / window if ended else 0.0,
                    "seconds_to_complete_all": window,
                }
            )
            deadline = time.monotonic() + 60  # let the last receipts land before the next run
            while time.monotonic() < deadline and stack.simulator.pending_receipts():
                time.sleep(0.05)
        rss_ended = _rss_mb()
    finally:
        stack.stop()
    return {
        "runs": runs,
        "flow": "Viber UNDELIVERED → SMS Delivered",
        "time_scale": stack.time_scale,
        "rss_after_start_mb": rss_started,
        "rss_at_end_mb": rss_ended,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run() -> dict[str, Any]:
    """In a fresh process, so that the peak memory is this phase's alone."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.throughput"], capture_output=True, text=True, timeout=540, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"throughput run failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure()))
