"""Failover reaction time in the local stack, at a fixed concurrency (closed loop: C clients per stack, each
starting its next flow when its previous one has ended).

Every flow is Viber → SMS → Voice to a number ending in 125: Viber answers UNDELIVERED, so the flow fails over
to SMS on a receipt; SMS reports Sent and nothing more, so its ttl passes and the flow fails over to Voice; the
Voice send is refused (digit 5), which ends the flow at once. So each flow gives one sample of each measure:

- receipt: from the Viber UNDELIVERED receipt entering status_ingest (the handler's first instruction) to the SMS
  send reaching the simulator (its send handler's first instruction);
- expiry: from the execution history's TaskTimedOut event of the SMS step to the Voice send reaching the
  simulator; and from the nominal deadline (that TaskScheduled + timeoutInSeconds) to that send.

Timestamps come from wrappers the benchmark puts around the two entry points on the running stack's objects;
no product code is changed.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from bench.flows import FINAL, Path, client_session, flow_request, history, recipient, start_stack

REACTION_PATH = Path(
    "reaction",
    "Viber UNDELIVERED → SMS; SMS ttl passes → Voice (refused, the flow ends)",
    ("Viber", "Sms", "Voice"),
    "125",
    ("Failed", "1"),
    ttl={"Viber": 5, "Sms": 1, "Voice": 5},  # the SMS ttl, 1 minute, lasts 1 s at the time scale
)
BATCH = 25  # flows per fresh stack (and process), so that every batch starts alike


def receipt_step_and_status(event: dict[str, Any]) -> tuple[str, str]:
    """The step (its webhook token without the signature) and status name of a receipt's API event; "" if malformed."""
    try:
        step = (event.get("pathParameters") or {})["token"].rsplit(".", 1)[0]
        status = json.loads(event.get("body") or "{}").get("status", {}).get("name", "")
    except (KeyError, ValueError, AttributeError):
        return "", ""
    return step, status


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


def _batch(flows: int, concurrency: int) -> dict[str, Any]:
    path = REACTION_PATH
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
        step, status = receipt_step_and_status(event)
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
        receipt: list[float] = []
        expiry: list[float] = []
        deadline: list[float] = []
        missing = 0
        for tracking_id, to in started:
            sms, voice = sends.get((to, "/sms")), sends.get((to, "/voice/conversation"))
            finals = [t for t, status in ingests.get(f"{tracking_id}.0", []) if status == "UNDELIVERED"]
            events = history(stack, tracking_id)
            timed_out = [e for e in events if e["type"] == "TaskTimedOut"]
            if sms is None or voice is None or not finals or not timed_out:
                missing += 1
                continue
            receipt.append(sms[0] - min(finals))
            expired = timed_out[0]["timestamp"].timestamp()
            expiry.append(voice[1] - expired)
            scheduled = [e for e in events if e["type"] == "TaskScheduled" and e["timestamp"].timestamp() <= expired]
            details = scheduled[-1]["taskScheduledEventDetails"]
            deadline.append(voice[1] - scheduled[-1]["timestamp"].timestamp() - details["timeoutInSeconds"])
    finally:
        stack.stop()
    return {
        "flows": len(started),
        "seconds": elapsed,
        "receipt": receipt,
        "expiry": expiry,
        "deadline": deadline,
        "missing": missing,
        "errors": errors,
        "time_scale": stack.time_scale,
    }


def _batch_in_process(flows: int, concurrency: int) -> dict[str, Any]:
    """One batch in a fresh interpreter: a fresh stack, and the product's modules as they are on disk now."""
    command = [sys.executable, "-m", "bench.reaction", str(flows), str(concurrency)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"reaction batch failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(flows: int = 500, concurrency: int = 4, workers: int = 2, batch: int = BATCH) -> dict[str, Any]:
    """`flows` flows in batches of `batch`, each batch on a fresh local stack in a fresh process (so that every
    batch starts alike; bench.sustained measures one long-lived stack); `workers` batches side by side, one
    process (so one core) each."""
    sizes = [min(batch, flows - start) for start in range(0, flows, batch)]
    batches: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not sizes or failures:
                    return
                size = sizes.pop()
            try:
                result = _batch_in_process(size, concurrency)
            except BaseException as error:  # noqa: BLE001 - re-raised below, in the caller's thread
                with lock:
                    failures.append(error)
                return
            with lock:
                batches.append(result)

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    errors = [e for b in batches for e in b["errors"]]
    common = {
        "flows": sum(b["flows"] for b in batches),
        "batches": len(batches),
        "batch_size": batch,
        "concurrency": concurrency,
        "workers": workers,
        "time_scale": batches[0]["time_scale"],
        "seconds": time.monotonic() - began,
        "missing": sum(b["missing"] for b in batches),
        "errors": errors[:20],
        "error_count": len(errors),
        "path": REACTION_PATH.title,
        "to_path": REACTION_PATH.key,
    }

    def samples(name: str) -> list[float]:
        return [s for b in batches for s in b[name]]

    return {
        **common,
        "receipt": {
            "title": "Viber UNDELIVERED → SMS",
            "from": "the Viber UNDELIVERED receipt entering status_ingest",
            "to": "the SMS send reaching the simulator",
            "reaction_ms": distribution_ms(samples("receipt")) if samples("receipt") else None,
        },
        "expiry": {
            "title": "SMS ttl passes → Voice",
            "from": "the SMS step's TaskTimedOut event in the execution history",
            "to": "the Voice send reaching the simulator",
            "reaction_ms": distribution_ms(samples("expiry")) if samples("expiry") else None,
            "from_deadline_ms": distribution_ms(samples("deadline")) if samples("deadline") else None,
        },
    }


if __name__ == "__main__":  # one batch: python -m bench.reaction <flows> <concurrency>
    print(json.dumps(_batch(int(sys.argv[1]), int(sys.argv[2]))))
