"""`make bench`: cost per flow, failover reaction time, cold start, throughput and sustained load; writes
bench/results.{json,md}.

python -m bench                     # everything (about 8 minutes on 2 cores, plus the load part's 6 to 10)
python -m bench --flows 100         # fewer reaction flows, for a quick look (results say so)
python -m bench --only coldstart    # one part; the other parts are carried over from the files as they were
python -m bench --only load         # the sustained-load part alone (issue 14: 1,000 flows on one stack)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import coldstart, cost, reaction, report, sustained, throughput

OUT = Path(__file__).parent
PARTS = ("cost", "reaction", "coldstart", "throughput", "load")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory_gb = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1) if memory_gb else None,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def _carry_over(results: dict[str, Any], previous_file: Path, parts: list[str]) -> None:
    """Parts not run this time keep their last results, marked with the run they come from."""
    try:
        previous = json.loads(previous_file.read_text())
    except (OSError, ValueError):
        return
    for part in PARTS:
        if part in parts or part not in previous:
            continue
        results[part] = previous[part]
        for key in ("seconds", "load_average"):
            if part in previous.get(key, {}):
                results.setdefault(key, {})[part] = previous[key][part]
        origin = previous.get("carried_over", {}).get(part, previous.get("generated"))
        results.setdefault("carried_over", {})[part] = origin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--flows", type=int, default=500, help="reaction-time flows (at least 500)")
    parser.add_argument("--concurrency", type=int, default=4, help="reaction-time flows in flight per stack")
    parser.add_argument("--workers", type=int, default=2, help="reaction-time batches side by side (one core each)")
    parser.add_argument("--runs", type=int, default=3, help="measured flows per cost path")
    parser.add_argument("--repeats", type=int, default=coldstart.REPEATS, help="fresh imports per function")
    parser.add_argument("--load-flows", type=int, default=1000, help="sustained-load flows (at least 1,000)")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    parts = args.only or list(PARTS)
    began = time.monotonic()
    results: dict[str, Any] = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "settings": {
            "reaction_flows": args.flows,
            "reaction_concurrency": args.concurrency,
            "reaction_workers": args.workers,
            "cost_runs_per_path": args.runs,
            "import_repeats": args.repeats,
            "load_flows": args.load_flows,
            "parts": parts,
        },
    }

    def step(name: str, action: Any) -> None:
        started = time.monotonic()
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        results[name] = action()
        results.setdefault("seconds", {})[name] = round(time.monotonic() - started, 1)
        # Other work on the machine skews every timing: the 1-minute load average when each part ended.
        results.setdefault("load_average", {})[name] = round(os.getloadavg()[0], 2)
        print(f"bench: {name} done in {results['seconds'][name]} s", file=sys.stderr, flush=True)

    if "cost" in parts:
        step("cost", lambda: cost.run(args.runs))
    if "reaction" in parts:
        step("reaction", lambda: reaction.run(args.flows, args.concurrency, workers=args.workers))
    if "coldstart" in parts:
        step("coldstart", lambda: coldstart.run(args.repeats))
    if "throughput" in parts:
        step("throughput", throughput.run)
    if "load" in parts:
        step("load", lambda: sustained.run(args.load_flows))
    results["total_seconds"] = round(time.monotonic() - began, 1)
    _carry_over(results, args.out / "results.json", parts)
    results["targets"] = report.targets(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    (args.out / "results.md").write_text(report.markdown(results))
    print(f"bench: wrote {args.out / 'results.md'} and results.json in {results['total_seconds']} s", file=sys.stderr)
    for row in results["targets"]:
        print(f"  {'met' if row['met'] else 'NOT MET'}: {row['target']} — {row['measured']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
