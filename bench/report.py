"""bench/results.md from the results dictionary (the same data as bench/results.json)."""

from __future__ import annotations

from typing import Any

from bench.meter import TOKEN_LENGTH


def _usd(value: float) -> str:
    return f"${value:.4f}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _mb(size: int | None) -> str:
    return "–" if size is None else f"{size / 2**20:.1f} MB"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in (results.get("cost") or {}).get("paths", []):
        if path["path"] not in results["cost"]["target_paths"]:
            continue
        rows.append(
            {
                "target": f"{path['title']}: ≤ {path['targets']['transitions']} state transitions",
                "measured": str(path["transitions"]),
                "met": path["targets_met"]["transitions"],
            }
        )
        rows.append(
            {
                "target": f"{path['title']}: ≤ {path['targets']['flow_invocations']} Lambda invocations (no receipts)",
                "measured": str(path["flow_invocations"]),
                "met": path["targets_met"]["flow_invocations"],
            }
        )
        if "usd_per_1000_flows" in path["targets"]:
            measured = path["usd_per_1000_flows"]["total"]
            worst = max(measured, path["usd_per_1000_flows_aws_tokens"]["total"])
            worst = max(worst, path["usd_per_1000_flows_aws_tokens_200ms"]["total"])
            rows.append(
                {
                    "target": f"{path['title']}: ≤ ${path['targets']['usd_per_1000_flows']:.2f} per 1,000 flows",
                    "measured": f"{_usd(measured)} as measured; {_usd(worst)} at worst (AWS-sized tokens, 200 ms)",
                    "met": path["targets_met"]["usd_per_1000_flows"],
                }
            )
        if path["path"] == "viber_sms":  # issue 18: 1.15x the Step Functions floor, with AWS-sized tokens
            aws = path["usd_per_1000_flows_aws_tokens"]["total"]
            target = round(1.15 * path["usd_per_1000_flows"]["step_functions"], 3)
            rows.append(
                {
                    "target": f"{path['title']}: ≤ ${target:.3f} per 1,000 flows with AWS-sized task tokens",
                    "measured": _usd(aws),
                    "met": aws <= target,
                }
            )
    imports = (results.get("coldstart") or {}).get("imports")
    if imports:
        baseline_ms = imports["baseline"]["median_ms"]
        for name, row in imports["functions"].items():
            rows.append(
                {
                    "target": f"{name}: cold import ≤ {imports['target_ratio']}× baseline",
                    "measured": f"{row['ratio']:.2f}× ({row['median_ms']:.0f} ms vs {baseline_ms:.0f} ms)",
                    "met": row["target_met"],
                }
            )
    rows += _load_targets(results.get("load"))
    return rows


LOAD_TARGETS = {  # issue 14, on a 2-core machine
    "mb_growth": 150.0,  # MB over the 1,000 flows
    "completed_per_second": 8.0,  # with 8 clients
    "reaction_p99_ms": 300.0,  # at 4 flows in flight
    "idle_cpu_percent": 2.0,  # of one core
}


def _load_targets(load: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not load:
        return []
    halves = load["halves"]
    growth = sum(h["rss_after_mb"] - h["rss_before_mb"] for h in halves)
    first, second = (h["mb_per_1000_flows"] for h in halves)
    many = load["many_clients"]
    reaction = (load["reaction"]["reaction_ms"] or {}).get("p99")
    idle = max(load["idle_cpu_percent"].values())
    flows = many["flows"]
    return [
        {
            "target": f"Sustained load: {flows:,} flows from {many['clients']} clients at time scale"
            f" {load['time_scale']}, every flow ends as expected, no request fails",
            "measured": f"{load['correct']} of {load['total']} correct, {many['post_errors']} failed POSTs",
            "met": load["correct"] == load["total"] and load["accepted"] == load["total"] and not many["post_errors"],
        },
        {
            "target": f"Memory: ≤ {LOAD_TARGETS['mb_growth']:.0f} MB growth over the {flows:,} flows,"
            " the second half costing no more than the first",
            "measured": f"{growth:+.0f} MB; {first:.0f} then {second:.0f} MB per 1,000 flows",
            "met": growth <= LOAD_TARGETS["mb_growth"] and second <= first,
        },
        {
            "target": f"≥ {LOAD_TARGETS['completed_per_second']:.0f} flows a second completed with"
            f" {many['clients']} clients",
            "measured": f"{many['completed_per_second']:.1f} (slower half; accepted {many['accepted_per_second']:.1f})",
            "met": many["completed_per_second"] >= LOAD_TARGETS["completed_per_second"],
        },
        {
            "target": f"Failover reaction p99 ≤ {LOAD_TARGETS['reaction_p99_ms']:.0f} ms at 4 flows in flight",
            "measured": _ms(reaction),
            "met": reaction is not None and reaction <= LOAD_TARGETS["reaction_p99_ms"],
        },
        {
            "target": f"Idle stack < {LOAD_TARGETS['idle_cpu_percent']:.0f} % of a core",
            "measured": f"{idle:.2f} % (worst of after start and after the load)",
            "met": idle < LOAD_TARGETS["idle_cpu_percent"],
        },
    ]


def _summary(results: dict[str, Any]) -> list[str]:
    lines = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for row in results["targets"]:
        lines.append(f"| {row['target']} | {row['measured']} | {'yes' if row['met'] else '**no**'} |")
    return [*lines, ""]


def _cost(cost: dict[str, Any]) -> list[str]:
    prices = cost["prices"]
    paths = cost["paths"]
    lines = [
        "## 1. Cost per flow",
        "",
        "Real executions in the local stack, one flow at a time: each path once to warm up (OAuth token, secrets,"
        f" authorizer cache), then {paths[0]['runs']} measured flows, averaged. Prices: `bench/prices.json`"
        f" ({prices['region']}, on-demand, as of {prices['prices_as_of']}; {prices['note']})",
        "",
        "| | " + " | ".join(p["title"] for p in paths) + " |",
        "|---|" + "---|" * len(paths),
    ]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row("outcome", [f"{p['outcome'][0]}" + (f" ({p['outcome'][1]})" if p["outcome"][1] else "") for p in paths])
    row("states entered", [" → ".join(p["states"]) for p in paths])
    row(
        "state transitions (target)",
        [
            f"{p['transitions']} (≤ {p['targets']['transitions']})"
            if p["path"] in cost["target_paths"]
            else str(p["transitions"])
            for p in paths
        ],
    )
    row(
        "Lambda invocations, no receipts (target)",
        [
            f"{p['flow_invocations']} (≤ {p['targets']['flow_invocations']})"
            if p["path"] in cost["target_paths"]
            else str(p["flow_invocations"])
            for p in paths
        ],
    )
    row("Lambda invocations by receipts", [f"{p['receipt_invocations']:g}" for p in paths])
    row(
        "invocations by function",
        [
            ", ".join(f"{k.removesuffix('Function')} {v:g}" for k, v in p["invocations_by_function"].items())
            for p in paths
        ],
    )
    row("Lambda GB-seconds (256 MB, billed ms)", [f"{p['gb_seconds']:.4f}" for p in paths])
    row("API Gateway requests: client / receipts", [f"{p['api_requests']:g} / {p['receipts']:g}" for p in paths])
    row("DynamoDB RRU / WRU", [f"{p['dynamodb']['rru']:g} / {p['dynamodb']['wru']:g}" for p in paths])
    row(
        f"DynamoDB RRU / WRU, {TOKEN_LENGTH}-byte task tokens",
        [f"{p['dynamodb']['rru_aws_tokens']:g} / {p['dynamodb']['wru_aws_tokens']:g}" for p in paths],
    )
    row(
        "DynamoDB calls",
        [
            ", ".join(f"{k.split(':')[1]} {v:g}" for k, v in p["aws_calls"].items() if k.startswith("dynamodb:"))
            for p in paths
        ],
    )
    row("Secrets Manager calls", [f"{p['aws_calls'].get('secretsmanager:GetSecretValue', 0):g}" for p in paths])
    row("**US$ per 1,000 flows, as measured**", [f"**{_usd(p['usd_per_1000_flows']['total'])}**" for p in paths])
    row(
        "US$ per 1,000 flows, AWS-sized task tokens", [_usd(p["usd_per_1000_flows_aws_tokens"]["total"]) for p in paths]
    )
    row(
        "US$ per 1,000 flows, AWS tokens and 200 ms per invocation",
        [_usd(p["usd_per_1000_flows_aws_tokens_200ms"]["total"]) for p in paths],
    )
    row(
        "of which receipts (API Gateway + Lambda requests)",
        [_usd(p["usd_per_1000_flows_receipts_share"]) for p in paths],
    )
    lines.append("")
    lines.append("US$ per 1,000 flows by service (as measured):")
    lines.append("")
    services = list(paths[0]["usd_per_1000_flows"])
    lines.append("| service | " + " | ".join(p["title"] for p in paths) + " |")
    lines.append("|---|" + "---|" * len(paths))
    for service in services:
        values = [p["usd_per_1000_flows"][service] for p in paths]
        shares = [v / p["usd_per_1000_flows"]["total"] * 100 for v, p in zip(values, paths, strict=True)]
        label = f"**{service}**" if service == "total" else service
        lines.append(
            f"| {label} | "
            + " | ".join(
                f"{_usd(v)} ({s:.0f} %)" if service != "total" else f"**{_usd(v)}**"
                for v, s in zip(values, shares, strict=True)
            )
            + " |"
        )
    viber_sms = next((p for p in paths if p["path"] == "viber_sms"), None)
    lines += ["", "How it is counted:", ""]
    lines += [
        "- **State transitions**: the `*StateEntered` events of the execution's history (Step Functions Standard"
        " bills one transition per state entered, retries included).",
        "- **Lambda**: invocations per function as the local runtime dispatches them; GB-seconds = billed duration"
        " (each invocation rounded up to 1 ms) × the template's MemorySize. Durations are in-process (moto, loopback),"
        ' so shorter than in AWS; the "200 ms per invocation" line shows the cost if every invocation took 200 ms.',
        "- **API Gateway**: requests per route as the local API Gateway serves them; provider receipts (POST"
        " /webhooks/…) are shown apart but are part of every total. The benchmark's own GETs are not counted.",
        "- **DynamoDB**: request units computed at the boto3 level from item sizes (bench/meter.py): writes 1 WRU per"
        " started KB of the larger of the item before and after, transactions 2×, strongly consistent reads 1 RRU"
        " per started 4 KB (eventually consistent: half), Query per started 4 KB of all returned items; conditional"
        " writes that fail are charged as if applied. Moto's task tokens are 36 characters; AWS's are opaque strings"
        f' of about 1 KB (up to 2,048): the "{TOKEN_LENGTH}-byte task tokens" rows recount the same operations with'
        " `taskToken` at that size (`resumedToken` keeps a 32-character digest of the token, not the token).",
        "- **Amortized, not per flow**: the Lambda authorizer (API Gateway caches each token's answer for"
        " `ReauthorizeEvery`, 300 s), the OAuth token endpoint (a client keeps its token for its lifetime), and"
        " Secrets Manager (Powertools caches each secret 5 minutes per warm Lambda container; $0.05 per 10,000"
        " calls is about $0.0001 per container-hour per secret). The warm-up flow absorbs them.",
        "- **Not included**: X-Ray traces (Tracing: Active; $5 per million traces recorded, sampled at 1 request a"
        " second plus 5 %), CloudWatch Logs ingestion ($0.57 per GB; INFO logs are on in the template), CloudWatch"
        " metrics, DynamoDB storage and point-in-time recovery, the secrets' $0.40 a month each, data transfer,"
        " and the Routee messages themselves.",
    ]
    if viber_sms:
        share = viber_sms["usd_per_1000_flows"]["step_functions"] / viber_sms["usd_per_1000_flows"]["total"] * 100
        lines += [
            "",
            f"Step Functions transitions are {share:.0f} % of a Viber → SMS flow's cost. The machine already has no"
            " Pass states and routes with one Choice per step; the only lower-cost shape would be Express workflows,"
            " which cannot wait for a callback (`.waitForTaskToken`) and last at most 5 minutes, so they cannot hold"
            " a ttl of up to 1,440 minutes.",
        ]
    failed = [p for p in paths if p["path"] in cost["target_paths"] and not all(p["targets_met"].values())]
    for p in failed:
        lines += ["", f"**Target not met for {p['title']}**: {p['targets_met']}."]
    errors = sorted({e for p in paths for e in p["meter_errors"]})
    if errors:
        lines += ["", "Meter errors: " + "; ".join(errors)]
    return [*lines, ""]


def _distribution_row(label: str, d: dict[str, Any] | None) -> str:
    if not d:
        return f"| {label} | – | – | – | – | – | – |"
    return (
        f"| {label} | {d['n']} | {d['p50']:.0f} ms | {d['p95']:.0f} ms | {d['p99']:.0f} ms | {d['mean']:.0f} ms |"
        f" {d['max']:.0f} ms |"
    )


def _reaction(run: dict[str, Any]) -> list[str]:
    receipt, expiry = run["receipt"], run["expiry"]
    lines = [
        "## 2. Failover reaction time",
        "",
        f"{run['flows']} flows in the local stack ({run['path']}; recipient ending in 125), time scale"
        f" {run['time_scale']}. Closed loop at a fixed concurrency of {run['concurrency']} flows in flight per"
        " stack (each client starts its next flow when its flow has ended), in batches of"
        f" {run['batch_size']} flows, each on a fresh stack in a fresh process (so that every batch starts"
        f" alike; section 5 runs one long-lived stack), {run['workers']} batches side by side, one process (one core)"
        " each. Each flow gives one sample of each measure: Viber fails over on its UNDELIVERED receipt, SMS"
        " reports only Sent and fails over when its ttl passes, and the simulator refuses the Voice send (digit 5)"
        " once it has reached it, which ends the flow.",
        "",
        "| from → to | flows | p50 | p95 | p99 | mean | max |",
        "|---|---|---|---|---|---|---|",
        _distribution_row(
            "Viber UNDELIVERED receipt enters status_ingest → SMS send reaches the simulator", receipt["reaction_ms"]
        ),
        _distribution_row("SMS ttl: TaskTimedOut event → Voice send reaches the simulator", expiry["reaction_ms"]),
        _distribution_row(
            "SMS ttl: deadline (TaskScheduled + timeout) → Voice send reaches the simulator",
            expiry.get("from_deadline_ms"),
        ),
        "",
        f"{run['flows']} flows in {run['seconds']:.0f} s, {run['missing']} without a sample"
        + (f"; {run['error_count']} refused POSTs, retried: {run['errors'][0]}" if run["error_count"] else "")
        + ".",
        "",
        "The receipt's time is taken when status_ingest's handler is entered, the send's when the simulator's send"
        " handler is entered (wrappers the benchmark puts on the running stack's objects; no product code changes)."
        " The ttl's time is the history's `TaskTimedOut` event; the deadline row adds the interpreter's timer slack."
        " Between them: SendTaskSuccess (or the timeout and ExpireStep), Route, SendStep, and the send_step"
        " invocation (its DynamoDB calls and the POST to the provider).",
        "",
        "In the local stack every function shares one Python process and its GIL with moto, the simulator and the"
        " clients, so these figures grow with concurrency (in AWS each invocation has its own sandbox) and are"
        " upper bounds for the product's own work. Step Functions in AWS adds its own latency per state"
        " transition.",
        "",
    ]
    return lines


def _cpu(row: dict[str, Any]) -> str:
    """The ratio in CPU time too (the import's own process), which other work on the machine sways less."""
    return f" (CPU {row['cpu_ratio']:.2f}×)" if "cpu_ratio" in row else ""


def _coldstart(cold: dict[str, Any]) -> list[str]:
    imports, sizes = cold["imports"], cold["sizes"]
    baseline = imports["baseline"]
    layer = sizes["layer"]
    lines = [
        "## 3. Cold start",
        "",
        f"Import of each handler module in a fresh interpreter (Python {imports['python']};"
        f" {imports.get('environment', 'this venv')}), median of {imports['repeats']}, interleaved with the baseline"
        f" `{baseline['what']}` measured in the same run (median {baseline['median_ms']:.0f} ms). Target: ≤"
        f" {imports['target_ratio']}× the baseline. The boto3 clients are created at their first call"
        ' (failover.wiring), so the first invocation adds their creation: the "first call" column.',
        "",
        "| function | import (median) | × baseline | met | first call: clients | package |"
        " package + layer (unzipped / zipped) | where the time goes (one `-X importtime` run, ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in imports["functions"].items():
        size = sizes["functions"].get(name, {})
        where = ", ".join(f"{k} {v:.0f}" for k, v in row["breakdown_ms"] if v >= 1)
        first = row.get("first_invocation_clients_ms")
        lines.append(
            f"| {name} | {row['median_ms']:.0f} ms | {row['ratio']:.2f}×{_cpu(row)} |"
            f" {'yes' if row['target_met'] else '**no**'} |"
            f" {_ms(first)} | {size.get('package_unzipped', 0) / 1024:.1f} KB |"
            f" {_mb(size.get('with_layer_unzipped'))} / {_mb(size.get('with_layer_zipped'))} | {where} |"
        )
    base_where = ", ".join(f"{k} {v:.0f}" for k, v in baseline["breakdown_ms"] if v >= 1)
    lines.append(
        f"| *baseline* | {baseline['median_ms']:.0f} ms | 1.00× | | | |"
        f" {_mb(sizes['baseline']['unzipped'])} / {_mb(sizes['baseline']['zipped'])} | {base_where} |"
    )
    deps = layer["dependencies"]
    lines += [
        "",
        f"The layer: {_mb(layer['unzipped'])} unzipped, {_mb(layer['zipped'])} zipped (Lambda allows"
        f" {sizes['lambda_unzipped_limit_mb']} MB unzipped for a function and its layers); measured by"
        f" {deps['method']}, without `__pycache__`. Largest: "
        + ", ".join(f"{name} {_mb(size)}" for name, size in deps["largest"])
        + f"; the failover package itself {layer['failover_package']['unzipped'] / 1024:.0f} KB. The baseline's"
        f" size is {sizes['baseline']['what']}.",
        "",
    ]
    missed = {name: row for name, row in imports["functions"].items() if not row["target_met"]}
    if missed:
        budget = baseline["median_ms"] * imports["target_ratio"]
        base = dict(baseline["breakdown_ms"])
        lines += [
            f"**Over the target** ({len(missed)} of {len(imports['functions'])} functions; budget {budget:.0f} ms)."
            " What each loads beyond the baseline's imports (importtime self times, ms; our package and"
            " Powertools by sub-package, median of the account's runs):",
            "",
        ]
        for name, row in missed.items():
            extra = [(k, v - base.get(k, 0.0)) for k, v in row["breakdown_ms"]]
            extra = [(k, v) for k, v in sorted(extra, key=lambda kv: -kv[1]) if v >= 2]
            if "beyond_baseline_ms" in row:  # modules the baseline does not load, median of several runs
                extra = [(k, v) for k, v in row["beyond_baseline_ms"] if v >= 1]
            within = imports.get("fallback_ratio")
            verdict = f" (within {within:g}×)" if within and row["ratio"] <= within else ""
            beyond = row["median_ms"] - baseline["median_ms"]
            if "beyond_baseline_total_ms" in row:  # the importtime runs' own totals, so the account adds up
                accounted = (
                    f" In `-X importtime` runs (which add their own overhead) it takes"
                    f" {row['importtime_total_ms'] - baseline['importtime_total_ms']:.0f} ms more than the baseline,"
                    f" {row['beyond_baseline_total_ms']:.0f} ms of it in the modules it adds: "
                )
            else:
                accounted = f" The modules it adds (their sum {sum(v for _, v in extra):.0f} ms): "
            lines.append(
                f"- {name}: {row['median_ms']:.0f} ms, {row['median_ms'] - budget:.0f} ms over{verdict};"
                f" {beyond:.0f} ms beyond the baseline.{accounted}" + ", ".join(f"{k} +{v:.0f}" for k, v in extra)
            )
        lines.append("")
    return lines


def _throughput(tp: dict[str, Any]) -> list[str]:
    lines = [
        "## 4. Throughput of the local stack",
        "",
        f"Flow: {tp['flow']}, time scale {tp['time_scale']}. Clients in a separate process POST back to back, each"
        " with its own Bearer token; completion is the flow item reaching a final status.",
        "",
        "| clients | flows | accepted per second | POST p50 / p95 / p99 | completed per second | errors |",
        "|---|---|---|---|---|---|",
    ]
    for run in tp["runs"]:
        latency = run["post_latency_ms"] or {}
        lines.append(
            f"| {run['clients']} | {run['accepted']} of {run['flows']} | {run['accepted_per_second']:.1f} |"
            f" {_ms(latency.get('p50'))} / {_ms(latency.get('p95'))} / {_ms(latency.get('p99'))} |"
            f" {run['completed_per_second']:.1f} | {run['error_count']}"
            + (f" ({run['errors'][0]})" if run["errors"] else "")
            + " |"
        )
    lines += [
        "",
        f"Memory of the stack's process: {tp['rss_after_start_mb']:.0f} MB after start, {tp['rss_at_end_mb']:.0f} MB"
        f" at the end, peak {tp['peak_rss_mb']:.0f} MB.",
        "",
        "The local stack runs every function, moto and the simulator in one Python process, so it is bound by one"
        " core: accepting a flow competes with running the flows already accepted. This measures the development"
        " stack (how many flows a test or a demo can push through it), not AWS, where each part scales on its own.",
        "",
    ]
    return lines


def _load(load: dict[str, Any]) -> list[str]:
    single, many = load["single_client"], load["many_clients"]
    reaction = load["reaction"]
    r = reaction["reaction_ms"] or {}
    lines = [
        "## 5. Sustained load on one local stack",
        "",
        f"One stack at time scale {load['time_scale']} (`python -m bench --only load`). Flows cycle through four"
        " paths whose outcomes the simulator's numbers fix; a load generator in its own process POSTs back to back,"
        " one Bearer token per client. Completion is the flow item reaching a final status; correctness compares"
        " it (and statusCode) with the path's expected outcome.",
        "",
        "| path (digits) | expected | correct |",
        "|---|---|---|",
    ]
    for digits, row in load["paths"].items():
        expected = row["expected"][0] + (f" ({row['expected'][1]})" if row["expected"][1] else "")
        lines.append(f"| {digits} | {expected} | {row['correct']} of {row['total']} |")
    lines += [
        "",
        f"All: {load['correct']} of {load['total']} correct; {load['changed_after_final']} flows changed status after"
        " a final one.",
        "",
        "| run | flows | accepted per second | completed per second | POST p50 / p99 | failed POSTs |"
        " RSS before → after | MB per 1,000 flows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runs = [("1 client", single, None), *((f"{many['clients']} clients, half {n}", h, h) for n, h in
                                           enumerate(load["halves"], start=1))]  # fmt: skip
    for label, run, half in runs:
        latency = run["post_latency_ms"] or {}
        memory = (
            f"{half['rss_before_mb']:.0f} → {half['rss_after_mb']:.0f} MB | {half['mb_per_1000_flows']:.0f}"
            if half
            else "– | –"
        )
        lines.append(
            f"| {label} | {run['accepted']} of {run['flows']} | {run['accepted_per_second']:.1f} |"
            f" {run['completed_per_second']:.1f} | {_ms(latency.get('p50'))} / {_ms(latency.get('p99'))} |"
            f" {run['post_errors']} | {memory} |"
        )
    lines += [
        "",
        f"Reaction at {reaction['in_flight']} flows in flight ({reaction['flows']} Viber → SMS flows, closed loop),"
        f" from {reaction['from']} to {reaction['to']}: p50 {_ms(r.get('p50'))}, p95 {_ms(r.get('p95'))},"
        f" p99 {_ms(r.get('p99'))} ({reaction['wrong_outcomes']} wrong outcomes).",
        "",
        f"Idle CPU of the stack's process: {load['idle_cpu_percent']['after_start']:.2f} % of a core after start,"
        f" {load['idle_cpu_percent']['after_load']:.2f} % after the load. Peak RSS {load['peak_rss_mb']:.0f} MB.",
        "",
    ]
    missed = [row for row in _load_targets(load) if not row["met"]]
    if missed:
        lines += [
            "Why targets are missed: the local stack runs every function, moto's services and interpreter, the"
            " simulator and the API's HTTP server in one Python process, so all of it shares one core (the GIL)."
            " Accepting flows competes with running those already accepted, and a receipt's handling waits its"
            " turn for the interpreter among every other thread."
            + (
                f" With {many['clients']} clients the stack's process spent"
                f" {many['cpu_seconds_per_flow'] * 1000:.0f} ms of CPU per completed flow (the slower half),"
                " so one core completes at most"
                f" {1 / many['cpu_seconds_per_flow']:.1f} flows a second however the work is scheduled."
                if many.get("cpu_seconds_per_flow")
                else ""
            )
            + " Profiled (py-spy, `--gil`), moto's own code takes the larger part of that CPU, the product's handlers"
            " and botocore's client side the smaller: a process per function (docs/local-isolation.md) would move"
            " only the smaller part to other cores. See docs/local-isolation.md, *Throughput*.",
            "",
        ]
    return lines


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` on {results['generated']}, in {results['total_seconds']:.0f} s, on {m['cpu']},"
        f" {m['cores']} cores, {m['memory_gb']} GB, {m['os']}, Python {m['python']}. Data: `results.json`.",
        "",
    ]
    carried = results.get("carried_over") or {}
    if carried:
        lines += [
            "This run measured only: "
            + ", ".join(results["settings"]["parts"])
            + ". Carried over from earlier runs: "
            + ", ".join(f"{part} ({when})" for part, when in carried.items())
            + ".",
            "",
        ]
    if results["settings"]["reaction_flows"] < 500 and "reaction" in results and "reaction" not in carried:
        lines += ["**A quick run: fewer than 500 flows per reaction-time run.**", ""]
    lines += _summary(results)
    if "cost" in results:
        lines += _cost(results["cost"])
    if "reaction" in results:
        lines += _reaction(results["reaction"])
    if "coldstart" in results:
        lines += _coldstart(results["coldstart"])
    if "throughput" in results:
        lines += _throughput(results["throughput"])
    if "load" in results:
        lines += _load(results["load"])
    seconds = results.get("seconds", {})
    lines += ["Time per part: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()) + "."]
    load = results.get("load_average", {})
    if load:
        lines += [
            "",
            "1-minute load average as each part ended (other work on the machine inflates every timing above): "
            + ", ".join(f"{k} {v:.2f}" for k, v in load.items())
            + f" on {m['cores']} cores.",
        ]
    lines.append("")
    return "\n".join(lines)
