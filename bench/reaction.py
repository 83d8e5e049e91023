"""Failover reaction time in the local stack, at a fixed concurrency (closed loop: C clients, each starting its
next flow when its previous one has ended).

- receipt: Viber UNDELIVERED → SMS. From the failover-triggering receipt entering status_ingest (the handler's
  first instruction) to the SMS send reaching the simulator (its send handler's first instruction).
- expiry: Viber says nothing → its ttl passes → SMS. From the execution history's TaskTimedOut event to the SMS
  send reaching the simulator; and from the nominal deadline (TaskScheduled + timeoutInSeconds) to that send.

Timestamps come from wrappers the benchmark puts around the two entry points on the running stack's objects;
no product code is changed.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
from collections import defaultdict
from typing import Any

from bench.flows import FINAL, Path, client_session, flow_request, history, recipient, start_stack

RECEIPT_PATH = Path("reaction_receipt", "Viber UNDELIVERED → SMS", ("Viber", "Sms"), "100", ("Succeeded", None))
EXPIRY_PATH = Path(
    "reaction_expiry",
    "Viber ttl expires → SMS",
    ("Viber", "Sms"),
    "200",
    ("Succeeded", None),
    ttl={"Viber": 0.5, "Sms": 5, "Voice": 5},
)


BATCH = 125  # flows per fresh stack


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def distribution_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms),
        "min": min(ms),
        "max": max(ms),
    }


class _Finished:
    """Flows whose item reached a final status (the stack's on_status hook), for closed-loop clients."""

    def __init__(self) -> None:
        self._done: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, item: dict[str, Any]) -> None:
        if item.get("sk") == "#FLOW" and item.get("status") in FINAL:
            with self._cond:
                self._done.add(item["pk"].removeprefix("FLOW#"))
                self._cond.notify_all()

    def wait(self, tracking_id: str, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: tracking_id in self._done, timeout)


def _batch(kind: str, path: Path, flows: int, concurrency: int) -> dict[str, Any]:
    """One stack, `flows` flows at `concurrency`; the raw samples (seconds)."""
    finished = _Finished()
    stack = start_stack(on_status=finished)
    assert stack.aws is not None and stack.simulator is not None
    sends: dict[tuple[str, str], tuple[float, float]] = {}  # (recipient, path) → (monotonic, wall) of the 1st
    ingests: dict[str, list[tuple[float, str]]] = defaultdict(list)  # "trackingId.index" → (monotonic, status)
    lock = threading.Lock()

    simulator_send = stack.simulator.send

    def timed_send(channel: str, route: str, body: Any) -> Any:
        moment = (time.monotonic(), time.time())
        to = body.get("to") if isinstance(body, dict) else None
        if isinstance(to, dict):
            to = to.get("phone")
        with lock:
            sends.setdefault((str(to), route), moment)
        return simulator_send(channel, route, body)

    stack.simulator.send = timed_send  # type: ignore[method-assign]

    ingest = stack.aws.functions["StatusIngestFunction"]
    ingest_handler = ingest.handler
    assert ingest_handler is not None

    def timed_ingest(event: dict[str, Any], context: Any) -> Any:
        moment = time.monotonic()
        try:
            step = (event.get("pathParameters") or {})["token"].rsplit(".", 1)[0]
            status = json.loads(event.get("body") or "{}").get("status", {}).get("name", "")
        except (KeyError, ValueError, AttributeError):
            step, status = "", ""
        with lock:
            ingests[step].append((moment, status))
        return ingest_handler(event, context)

    ingest.handler = timed_ingest

    started: list[tuple[str, str]] = []  # (trackingId, recipient)
    errors: list[str] = []
    counter = iter(range(flows))
    counter_lock = threading.Lock()

    def client() -> None:
        session = client_session(stack)
        try:
            while True:
                with counter_lock:
                    if next(counter, None) is None:
                        return
                to = recipient(path.digits)
                for _ in range(3):  # a refused POST is recorded, then retried with a fresh token
                    response = session.post(f"{stack.url}/failover", json=flow_request(path, to), timeout=60)
                    if response.status_code == 200:
                        break
                    errors.append(f"POST /failover answered {response.status_code}: {response.text[:200]}")
                    session.close()
                    session = client_session(stack)
                else:
                    continue
                tracking_id = response.json()["trackingId"]
                with lock:
                    started.append((tracking_id, to))
                if not finished.wait(tracking_id, timeout=60):
                    errors.append(f"{tracking_id} did not end within 60 s")
        finally:
            session.close()

    try:
        began = time.monotonic()
        threads = [threading.Thread(target=client, name=f"bench-client-{i}") for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        samples: list[float] = []
        nominal: list[float] = []
        missing = 0
        for tracking_id, to in started:
            sent = sends.get((to, "/sms"))
            if sent is None:
                missing += 1
                continue
            if kind == "receipt":
                finals = [t for t, status in ingests.get(f"{tracking_id}.0", []) if status == "UNDELIVERED"]
                if not finals:
                    missing += 1
                    continue
                samples.append(sent[0] - min(finals))
            else:
                events = history(stack, tracking_id)
                timed_out = [e for e in events if e["type"] == "TaskTimedOut"]
                scheduled = [e for e in events if e["type"] == "TaskScheduled"]
                if not timed_out or not scheduled:
                    missing += 1
                    continue
                samples.append(sent[1] - timed_out[0]["timestamp"].timestamp())
                deadline = (
                    scheduled[0]["timestamp"].timestamp()
                    + scheduled[0]["taskScheduledEventDetails"]["timeoutInSeconds"]
                )
                nominal.append(sent[1] - deadline)
    finally:
        stack.stop()
    return {
        "flows": len(started),
        "seconds": elapsed,
        "samples": samples,
        "nominal": nominal,
        "missing": missing,
        "errors": errors,
        "time_scale": stack.time_scale,
    }


def run(kind: str, flows: int = 500, concurrency: int = 4, batch: int = BATCH) -> dict[str, Any]:
    """`flows` flows in batches of `batch`, each batch on a fresh local stack (moto's Step Functions scans every
    execution it ever ran on each SendTaskSuccess, so a long-lived stack slows down as flows accumulate)."""
    path = RECEIPT_PATH if kind == "receipt" else EXPIRY_PATH
    batches = []
    left = flows
    while left > 0:
        batches.append(_batch(kind, path, min(batch, left), concurrency))
        left -= batch
    samples = [s for b in batches for s in b["samples"]]
    nominal = [s for b in batches for s in b["nominal"]]
    errors = [e for b in batches for e in b["errors"]]
    result: dict[str, Any] = {
        "kind": kind,
        "title": path.title,
        "flows": sum(b["flows"] for b in batches),
        "batches": len(batches),
        "batch_size": batch,
        "concurrency": concurrency,
        "time_scale": batches[0]["time_scale"],
        "seconds": sum(b["seconds"] for b in batches),
        "missing": sum(b["missing"] for b in batches),
        "errors": errors[:20],
        "error_count": len(errors),
        "reaction_ms": distribution_ms(samples) if samples else None,
    }
    if kind == "receipt":
        result["from"] = "the failover-triggering receipt entering status_ingest"
    else:
        result["from"] = "the TaskTimedOut event in the execution history"
        result["from_deadline_ms"] = distribution_ms(nominal) if nominal else None
    result["to"] = "the SMS send reaching the simulator"
    return result
