"""`make capacity`: docs/capacity.md, a capacity model computed from measured per-flow figures.

Inputs, all in the repository, so the document follows the code:
  bench/results.json   what `make bench` measured per flow (transitions, invocations, DynamoDB units, requests)
  bench/quotas.json    the AWS quotas that apply, each citing its AWS documentation page
  bench/prices.json    on-demand prices
  template.yaml        the stack's own limits (stage throttle, per-application rate, index shards)

python -m bench.capacity            # writes docs/capacity.md
python -m bench.capacity --check    # fails when docs/capacity.md is not what the inputs give (make test runs it)

Pure arithmetic and a seeded simulation: no AWS, no clock, the same inputs always give the same text.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.meter import TOKEN_LENGTH, write_units

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "capacity.md"
RATES = (100, 1_000, 10_000)  # flows a second
REFERENCE_PATH = "viber_sms"  # Viber UNDELIVERED -> SMS delivered: the common failover
SECONDS_PER_MONTH = 30 * 86_400
AWS_INVOCATION_SECONDS = 0.2  # an invocation in AWS (real HTTP to Routee), when the local one measured less

# Figures the benchmark does not measure, derived from the code; each says where it comes from.
DERIVED = {
    "flow_item_kb": (1, "write units per flow-item write: a flow with three PIN-sized steps is under 1 KB"),
    "callbacks_per_flow": (
        5,
        "callbacks of an OnChange application per Viber -> SMS flow (one per receipt, and the flow's two status "
        "changes); each is one SQS message and one more flow-item write (the callback sequence). The cost run "
        "sets no callback URL, so this is not in results.json",
    ),
    "secrets_per_container": (2, "secrets a warm container reads (token signing, callback signing), each cached 300 s"),
}


@dataclass(frozen=True)
class Inputs:
    results: dict[str, Any]
    quotas: dict[str, Any]
    prices: dict[str, Any]
    template: dict[str, int]


def _parameter_default(template: str, name: str) -> int:
    match = re.search(rf"^  {name}:\n(?:    .*\n)*?    Default: \"?(\d+)\"?$", template, re.MULTILINE)
    if not match:
        raise ValueError(f"template.yaml: no Default for parameter {name}")
    return int(match.group(1))


def load(root: Path = ROOT) -> Inputs:
    template = (root / "template.yaml").read_text()
    return Inputs(
        results=json.loads((root / "bench" / "results.json").read_text()),
        quotas=json.loads((root / "bench" / "quotas.json").read_text())["quotas"],
        prices=json.loads((root / "bench" / "prices.json").read_text()),
        template={
            name: _parameter_default(template, name)
            for name in ("ApiThrottlingRateLimit", "ApiThrottlingBurstLimit", "RateLimitPerMinute", "SearchShards")
        },
    )


# --- per flow --------------------------------------------------------------------------------------------------


def per_flow(inputs: Inputs, path_key: str = REFERENCE_PATH) -> dict[str, float]:
    """One flow's demand on each service, from the benchmark's measurement of the path (AWS-sized task tokens)."""
    path = next(p for p in inputs.results["cost"]["paths"] if p["path"] == path_key)
    calls = path["aws_calls"]
    invocations = path["invocations_by_function"]
    lambda_seconds = sum(
        max(path["billed_ms_by_function"].get(fn, 0) / 1000, count * AWS_INVOCATION_SECONDS)
        for fn, count in invocations.items()
    )
    callbacks = DERIVED["callbacks_per_flow"][0]
    measured_index = path["dynamodb"]["wru_index"]  # the meter's writes of ByApplication entries (flow items)
    index_writes = measured_index + callbacks * DERIVED["flow_item_kb"][0]
    return {
        "transitions": path["transitions"],
        "start_executions": calls.get("stepfunctions:StartExecution", 0),
        "send_task_calls": calls.get("stepfunctions:SendTaskSuccess", 0)
        + calls.get("stepfunctions:SendTaskFailure", 0),
        "invocations": sum(invocations.values()),
        "lambda_seconds": lambda_seconds,
        "api_requests": path["api_requests"] + path["receipts"],
        "client_requests": path["api_requests"],
        "rru": path["dynamodb"]["rru_aws_tokens"],
        "wru_table": path["dynamodb"]["wru_aws_tokens"] - measured_index + callbacks * DERIVED["flow_item_kb"][0],
        "wru_index": index_writes,
        "sqs_messages": callbacks,
        "usd_measured": path["usd_per_1000_flows_aws_tokens"]["total"] / 1000,
    }


def usd_per_flow(inputs: Inputs, flow: dict[str, float]) -> dict[str, float]:
    """Dollars per flow by service, with the callbacks the benchmark leaves out."""
    price = {k: v["usd"] for k, v in inputs.prices["prices"].items()}
    cost = {
        "step_functions": flow["transitions"] * price["stepfunctions_standard_state_transition"],
        "lambda_requests": flow["invocations"] * price["lambda_arm64_request"],
        "lambda_duration": flow["lambda_seconds"] * 0.25 * price["lambda_arm64_gb_second"],  # 256 MB
        "api_gateway": flow["api_requests"] * price["apigateway_rest_request"],
        "dynamodb": (flow["wru_table"] + flow["wru_index"]) * price["dynamodb_on_demand_wru"]
        + flow["rru"] * price["dynamodb_on_demand_rru"],
        "sqs": flow["sqs_messages"] * 3 * 0.0000004,  # send, receive, delete at $0.40 per million requests
    }
    cost["total"] = sum(cost.values())
    return cost


# --- limits ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    key: str
    name: str
    capacity: float  # units a second
    demand_per_flow: float  # units a second per flow a second
    unit: str
    raise_it: str
    source: str

    @property
    def max_flows(self) -> float:
        return math.inf if self.demand_per_flow == 0 else self.capacity / self.demand_per_flow


def limits(inputs: Inputs, flow: dict[str, float], shards: int | None = None) -> list[Limit]:
    """Every limit a flow rate runs into, with the flows a second it allows. One application sends every flow
    (the worst case for per-key limits)."""
    q = inputs.quotas
    t = inputs.template
    shards = shards or t["SearchShards"]
    concurrency = flow["lambda_seconds"]  # concurrent executions per flow a second (Little's law)
    apigw = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html"
    rows = [
        Limit(
            "sfn_start_execution",
            "Step Functions StartExecution",
            q["sfn_start_execution"]["refill_per_second"],
            flow["start_executions"],
            "calls/s",
            q["sfn_start_execution"]["raise"],
            q["sfn_start_execution"]["source"],
        ),
        Limit(
            "sfn_state_transition",
            "Step Functions state transitions",
            q["sfn_state_transition"]["refill_per_second"],
            flow["transitions"],
            "transitions/s",
            q["sfn_state_transition"]["raise"],
            q["sfn_state_transition"]["source"],
        ),
        Limit(
            "sfn_send_task_success",
            "Step Functions SendTaskSuccess",
            q["sfn_send_task_success"]["refill_per_second"],
            flow["send_task_calls"],
            "calls/s",
            q["sfn_send_task_success"]["raise"],
            q["sfn_send_task_success"]["source"],
        ),
        Limit(
            "lambda_concurrency",
            "Lambda concurrent executions",
            q["lambda_concurrency"]["limit"],
            concurrency,
            "concurrent",
            q["lambda_concurrency"]["raise"],
            q["lambda_concurrency"]["source"],
        ),
        Limit(
            "apigw_account_rps",
            "API Gateway, account",
            q["apigw_account_rps"]["refill_per_second"],
            flow["api_requests"],
            "requests/s",
            q["apigw_account_rps"]["raise"],
            q["apigw_account_rps"]["source"],
        ),
        Limit(
            "apigw_stage",
            "API Gateway, this stage's throttle (ApiThrottlingRateLimit)",
            t["ApiThrottlingRateLimit"],
            flow["api_requests"],
            "requests/s",
            "the template parameter ApiThrottlingRateLimit (and its burst)",
            apigw,
        ),
        Limit(
            "app_rate",
            "Per-application rate limit (RateLimitPerMinute)",
            t["RateLimitPerMinute"] / 60,
            flow["client_requests"],
            "requests/s",
            "the template parameter RateLimitPerMinute, or rateLimitPerMinute on the application's item",
            "template.yaml",
        ),
        Limit(
            "rate_counter_key",
            "DynamoDB partition: the application's rate-limit counter (RATE#<app>)",
            q["dynamodb_partition_wcu"]["limit"],
            flow["client_requests"],
            "WRU/s",
            "not sharded yet: one counter item per application and minute takes 1 WRU per request",
            q["dynamodb_partition_wcu"]["source"],
        ),
        Limit(
            "index_shard",
            f"DynamoDB partition: one ByApplication shard ({shards} shards)",
            q["dynamodb_partition_wcu"]["limit"],
            flow["wru_index"] / shards,
            "WRU/s",
            "the template parameter SearchShards (more shards: a search queries each)",
            q["dynamodb_partition_wcu"]["source"],
        ),
        Limit(
            "table_wru",
            "DynamoDB table writes (on-demand)",
            q["dynamodb_table_wru"]["limit"],
            flow["wru_table"],
            "WRU/s",
            q["dynamodb_table_wru"]["raise"],
            q["dynamodb_table_wru"]["source"],
        ),
        Limit(
            "index_wru",
            "DynamoDB ByApplication index writes (on-demand)",
            q["dynamodb_table_wru"]["limit"],
            flow["wru_index"],
            "WRU/s",
            q["dynamodb_table_wru"]["raise"],
            q["dynamodb_table_wru"]["source"],
        ),
        Limit(
            "table_rru",
            "DynamoDB table reads (on-demand)",
            q["dynamodb_table_rru"]["limit"],
            flow["rru"],
            "RRU/s",
            q["dynamodb_table_rru"]["raise"],
            q["dynamodb_table_rru"]["source"],
        ),
        Limit(
            "sqs_in_flight",
            "SQS callbacks in flight (2 s receiver timeout)",
            q["sqs_standard_in_flight"]["limit"],
            flow["sqs_messages"] * 2.0,
            "messages",
            q["sqs_standard_in_flight"]["raise"],
            q["sqs_standard_in_flight"]["source"],
        ),
        Limit(
            "secrets",
            "Secrets Manager GetSecretValue",
            q["secrets_get_secret_value"]["refill_per_second"],
            concurrency * DERIVED["secrets_per_container"][0] / 300,
            "calls/s",
            q["secrets_get_secret_value"]["raise"],
            q["secrets_get_secret_value"]["source"],
        ),
    ]
    return sorted(rows, key=lambda row: (row.max_flows, row.key))


# --- a day of traffic ------------------------------------------------------------------------------------------


def arrivals_per_second(peak: float, seed: int = 18) -> list[int]:
    """A day, second by second: a diurnal curve (low at 04:00, high at 14:00) with a one-hour campaign at 18:00
    that reaches `peak` flows a second; Poisson arrivals, seeded."""
    rng = random.Random(seed)
    base_peak = peak / 3
    out = []
    for second in range(86_400):
        hour = second / 3600
        diurnal = base_peak * (0.55 + 0.45 * math.cos((hour - 14) / 24 * 2 * math.pi))
        campaign = peak - base_peak if 18 <= hour < 19 else 0.0
        rate = diurnal + campaign * math.sin((hour - 18) * math.pi) ** 2 if campaign else diurnal
        out.append(_poisson(rng, rate))
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:  # normal approximation, plenty at these rates
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def simulate(inputs: Inputs, flow: dict[str, float], peak: float, raised: dict[str, float] | None = None) -> dict:
    """One-second steps over a day. Flows wait in the clients' retry queue until every token bucket they need
    has room (StartExecution, state transitions, API Gateway, Lambda concurrency, the table's write rate, the
    busiest index shard); the wait is the latency the quotas add. Returns where and when it first grows."""
    raised = raised or {}
    rows = {row.key: row for row in limits(inputs, flow)}
    q = inputs.quotas
    buckets = {  # key: [refill per second, size]
        "sfn_start_execution": [q["sfn_start_execution"]["refill_per_second"], q["sfn_start_execution"]["bucket"]],
        "sfn_state_transition": [q["sfn_state_transition"]["refill_per_second"], q["sfn_state_transition"]["bucket"]],
        "sfn_send_task_success": [
            q["sfn_send_task_success"]["refill_per_second"],
            q["sfn_send_task_success"]["bucket"],
        ],
        "apigw_account_rps": [q["apigw_account_rps"]["refill_per_second"], q["apigw_account_rps"]["bucket"]],
        "lambda_concurrency": [rows["lambda_concurrency"].capacity] * 2,
        "table_wru": [rows["table_wru"].capacity] * 2,
        "index_shard": [rows["index_shard"].capacity] * 2,
    }
    for key, value in raised.items():
        buckets[key] = [value, max(value, buckets[key][1])]
    per_flow_units = {key: rows[key].demand_per_flow for key in buckets}
    tokens = {key: size for key, (_, size) in buckets.items()}
    queue: deque[tuple[int, int]] = deque()  # (second of arrival, flows), oldest first
    waiting = 0
    waits: list[tuple[int, int]] = []  # (wait in seconds, flows)
    throttled = dict.fromkeys(buckets, 0)
    first_growth: tuple[int, str] | None = None
    peak_queue = 0
    arrivals = arrivals_per_second(peak)
    recent: deque[dict[str, float]] = deque(maxlen=FINE_BEFORE + 1)  # the buckets at the start of each second
    for second, arrived in enumerate(arrivals):
        if first_growth is None:
            recent.append(dict(tokens))
        for key, (refill, size) in buckets.items():
            tokens[key] = min(size, tokens[key] + refill)
        if arrived:
            queue.append((second, arrived))
            waiting += arrived
        allowed = math.inf
        binding = ""
        for key, units in per_flow_units.items():
            room = tokens[key] / units if units else math.inf
            if room < allowed:
                allowed, binding = room, key
        allowed_flows = int(allowed)
        if waiting > allowed_flows:
            throttled[binding] += waiting - allowed_flows
            if first_growth is None:
                first_growth = (second, binding)
        served = 0
        while queue and served < allowed_flows:
            born, count = queue[0]
            take = min(count, allowed_flows - served)
            waits.append((second - born, take))
            served += take
            if take == count:
                queue.popleft()
            else:
                queue[0] = (born, count - take)
        waiting -= served
        for key, units in per_flow_units.items():
            tokens[key] -= served * units
        peak_queue = max(peak_queue, waiting)
    total = sum(arrivals)
    waits.sort()
    fine = None
    if first_growth is not None:  # the queue is empty until then: the buckets alone are the state
        start = first_growth[0] - len(recent) + 1
        fine = _fine(arrivals, start, recent[0], buckets, per_flow_units)
    return {
        "flows": total,
        "peak_arrivals": max(arrivals),
        "mean_rate": total / 86_400,
        "unserved_at_midnight": waiting,
        "peak_queue": peak_queue,
        "first_growth": first_growth,
        "throttled": {k: v for k, v in throttled.items() if v},
        "wait_p50": _quantile(waits, 0.5),
        "wait_p99": _quantile(waits, 0.99),
        "wait_max": waits[-1][0] if waits else 0,
        "fine": fine,
    }


FINE_STEP = 0.1  # seconds a step, around the first growth
FINE_BEFORE, FINE_AFTER = 60, 600  # seconds of the window before and after the second the first wait began in


def _fine(
    arrivals: list[int],
    start: int,
    tokens: dict[str, float],
    buckets: dict[str, list[float]],
    per_flow_units: dict[str, float],
) -> dict:
    """The window around the first growth again, in FINE_STEP steps: each second's arrivals spread over it at
    random (seeded), buckets refilled continuously. When, to the step, flows first wait and what for; and the
    waits of the flows that arrive in the window, to the step, which whole seconds round up."""
    rng = random.Random(start)
    steps_per_second = round(1 / FINE_STEP)
    tokens = dict(tokens)
    queue: deque[tuple[float, int]] = deque()
    waiting = 0
    waits: list[tuple[float, int]] = []
    first: tuple[float, str] | None = None
    end = min(len(arrivals), start + FINE_BEFORE + FINE_AFTER)
    for second in range(start, end):
        spread = [0] * steps_per_second
        for slot in rng.choices(range(steps_per_second), k=arrivals[second]):
            spread[slot] += 1
        for slot, arrived in enumerate(spread):
            now = second + slot * FINE_STEP
            for key, (refill, size) in buckets.items():
                tokens[key] = min(size, tokens[key] + refill * FINE_STEP)
            if arrived:
                queue.append((now, arrived))
                waiting += arrived
            allowed, binding = math.inf, ""
            for key, units in per_flow_units.items():
                room = tokens[key] / units if units else math.inf
                if room < allowed:
                    allowed, binding = room, key
            allowed_flows = int(allowed)
            if waiting > allowed_flows and first is None:
                first = (now, binding)
            served = 0
            while queue and served < allowed_flows:
                born, count = queue[0]
                take = min(count, allowed_flows - served)
                waits.append((round(now - born, 1), take))
                served += take
                if take == count:
                    queue.popleft()
                else:
                    queue[0] = (born, count - take)
            waiting -= served
            for key, units in per_flow_units.items():
                tokens[key] -= served * units
    waits.sort()
    return {
        "start": start,
        "end": end,
        "first_growth": first,
        "wait_p50": _quantile(waits, 0.5),
        "wait_p99": _quantile(waits, 0.99),
        "wait_max": waits[-1][0] if waits else 0,
        "left_waiting": waiting,
    }


def _quantile(weighted: list[tuple[int, int]], q: float) -> int:
    total = sum(n for _, n in weighted)
    if not total:
        return 0
    mark, seen = q * total, 0
    for value, n in weighted:
        seen += n
        if seen >= mark:
            return value
    return weighted[-1][0]


# --- the document ----------------------------------------------------------------------------------------------


def _n(value: float, digits: int = 0) -> str:
    if math.isinf(value):
        return "no limit"
    return f"{value:,.{digits}f}"


def _clock(second: int) -> str:
    return f"{second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}"


STACK_LIMITS = ("app_rate", "apigw_stage")  # the template's own throttles
LABELS = {
    "sfn_start_execution": "StartExecution",
    "sfn_state_transition": "state transitions",
    "sfn_send_task_success": "SendTaskSuccess",
    "apigw_account_rps": "API Gateway",
    "lambda_concurrency": "Lambda concurrency",
    "table_wru": "table writes",
    "index_shard": "busiest index shard",
}


def markdown(inputs: Inputs) -> str:
    flow = per_flow(inputs)
    cost = usd_per_flow(inputs, flow)
    rows = limits(inputs, flow)
    unsharded = next(r for r in limits(inputs, flow, shards=1) if r.key == "index_shard")
    shards = inputs.template["SearchShards"]
    search_cap = _search_limits()
    generated = inputs.results.get("generated", "?")
    lines = [
        "# Capacity",
        "",
        "Generated by `make capacity` (bench/capacity.py) from `bench/results.json` (`make bench`, "
        f"{generated}), `bench/quotas.json` (AWS default quotas, eu-west-1, each with its documentation page), "
        "`bench/prices.json` and template.yaml's defaults. Do not edit by hand: `make test` checks that this file "
        "is what those inputs give.",
        "",
        "The flow is the common failover, Viber UNDELIVERED → SMS delivered, with AWS-sized "
        f"({TOKEN_LENGTH:,}-byte, the largest) task tokens, "
        "every flow from one application (the worst case for per-key limits).",
        "",
        "## Per flow",
        "",
        "| demand | per flow | from |",
        "|---|---|---|",
        f"| Step Functions state transitions | {_n(flow['transitions'])} | measured |",
        f"| StartExecution / SendTask* calls | {_n(flow['start_executions'])} / {_n(flow['send_task_calls'])} "
        "| measured |",
        f"| Lambda invocations | {_n(flow['invocations'])} | measured (receipts included) |",
        f"| Lambda seconds (concurrency per flow/s) | {flow['lambda_seconds']:.2f} | measured billed ms, at least "
        f"{AWS_INVOCATION_SECONDS * 1000:.0f} ms an invocation |",
        f"| API Gateway requests (client + receipts) | {_n(flow['api_requests'])} | measured |",
        f"| DynamoDB table RRU / WRU | {flow['rru']:g} / {flow['wru_table']:g} | measured, plus one callback-sequence "
        "write per callback (derived) |",
        f"| DynamoDB ByApplication index WRU | {flow['wru_index']:g} | measured, plus one per callback (derived) |",
        f"| SQS messages (callbacks) | {_n(flow['sqs_messages'])} | derived (below) |",
        f"| **US$ per 1,000 flows** | **${cost['total'] * 1000:.4f}** | ${flow['usd_measured'] * 1000:.4f} as "
        "`make bench` prices it (index writes included), plus the callbacks it leaves out |",
        "",
        "Derived, not measured (the benchmark's flows set no callback URL):",
        "",
    ]
    lines += [f"- `{key}` = {value}: {why}." for key, (value, why) in DERIVED.items()]
    lines += [
        "",
        "## Limits, lowest first",
        "",
        "Flows a second each limit allows on its own = limit ÷ demand per flow. " + _checked(inputs.quotas),
        "",
        "| limit | limit | demand per flow/s | flows/s it allows | to raise it | source |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        source = row.source if row.source.startswith("template") else f"[AWS]({row.source})"
        lines.append(
            f"| {row.name} | {_n(row.capacity)} {row.unit} | {row.demand_per_flow:.4g} | {_n(row.max_flows)} | "
            f"{row.raise_it} | {source} |"
        )
    lines += ["", "## At 100, 1,000 and 10,000 flows a second", ""]
    lines += [
        "The stack's own throttles come first at every rate: they are template parameters, set for the traffic "
        "you expect. Past them, the AWS quotas:",
        "",
        "| flows/s | stack parameters to raise | AWS quota that binds first "
        "| every AWS quota exceeded (demand ÷ limit) | US$ a month (30 days) |",
        "|---|---|---|---|---|",
    ]
    for rate in RATES:
        own = [r for r in rows if r.max_flows < rate and r.key in STACK_LIMITS]
        over = [r for r in rows if r.max_flows < rate and r.key not in STACK_LIMITS]
        first = over[0].name if over else "none"
        listed = "; ".join(f"{r.name} {rate / r.max_flows:.1f}×" for r in over) or "none"
        stack = "; ".join(f"{r.name} {rate / r.max_flows:.0f}×" for r in own) or "none"
        monthly = cost["total"] * rate * SECONDS_PER_MONTH
        lines.append(f"| {rate:,} | {stack} | {first} | {listed} | ${monthly:,.0f} |")
    lines += [
        "",
        "What raising them takes, in the order they bind:",
        "",
        "- **The stack's own throttles** (stage rate, per-application rate) are parameters: set them for the "
        "traffic you expect; they exist to stop a runaway client, not to cap the product.",
        "- **StartExecution** and **state transitions** are per account and Region, shared by every state machine: "
        "more state machines do not help. Ask for a quota increase; past what AWS grants, split traffic across "
        "accounts or Regions (a stack per Region, clients pinned to one).",
        "- **Lambda concurrency**: a quota increase; the per-function scaling rate (1,000 environments every 10 s) "
        "means a cold jump to the peak takes tens of seconds, so ramp or keep provisioned concurrency.",
        "- **The application's rate-limit counter** is one DynamoDB item per application and minute: at 1,000 "
        "requests a second from one application it reaches the partition's 1,000 WRU. Not sharded in this "
        "change; the fix is the index's: spread the counter over N items and allow limit/N on each.",
        "- **DynamoDB table and index throughput**: a quota increase (on-demand, per table and per index); a new "
        "table starts at 4,000 WRU/s and doubles at most every 30 minutes, so pre-warm it (warm throughput) "
        "before a launch.",
        "",
        "## No hot key in the index",
        "",
        f"`ByApplication` is write-sharded: `gsi1pk = APP#<applicationId>#<shard>`, the shard a stable hash of the "
        f"trackingId modulo `SearchShards` (template parameter, default {shards}). At 1,000 flows a second from "
        f"one application, the busiest index partition takes {1000 * rows_by(rows, 'index_shard').demand_per_flow:,.0f}"
        f" WRU/s of its 1,000 (unsharded it would take {1000 * unsharded.demand_per_flow:,.0f}: throttled, and an "
        "index's throttling throttles the table writes behind it). One application can send up to "
        f"{_n(rows_by(rows, 'index_shard').max_flows)} flows a second before a shard is full; more shards raise it.",
        "",
        "## The cost floor",
        "",
        *_floor(inputs, flow),
        "",
        "## What a search costs",
        "",
        "`POST /failover/tracking` merges the shards newest first (store.FlowStore.search). Each shard is read by "
        "Queries of its share of the page, and read again only when the merge has taken all it had; the sort "
        "key `<createdAt>#<trackingId>` is unique, so pages neither repeat nor skip a flow, flows of the same "
        "millisecond included.",
        "",
        f"- **`nextPageToken`** (our extension; pass it back as `pageToken`): a page reads about the larger of its "
        f"size and {search_cap['read']} (below), plus a few items per shard ({shards} Queries and a few refills), "
        "whatever the range holds: "
        "tests/unit/test_search_paging.py checks at most 1.5 × size + 2 items per shard a page, 1.4 × in all.",
        f"- **Routee's `page`/`size`**: page n reads the n pages before it as well; page × size is capped at "
        f"{search_cap['offset']:,} (a 400 names nextPageToken), so a page reads at most about that many items.",
        f"- **`totalElements`/`totalPages`**: every search reads at least {search_cap['read']} items (spread over "
        "the shards); a range read to its end this way (or a last page) has an exact total. Otherwise "
        "`totalElements` is a lower bound (the flows so far and one more), and the page says so with "
        "`totalElementsExact: false`: clients that page until `last` work unchanged.",
        "- Read units: a Query is charged per 4 KB of the items it returns (eventually consistent: half), with a "
        f"minimum of 0.5 RRU, so a page costs about {shards} × 0.5 RRU more than its items; the messages of the "
        "page's flows are one BatchGetItem per 100.",
        "",
        "## A day of traffic, simulated",
        "",
        "One-second steps over 24 hours (bench/capacity.py `simulate`, seeded): a diurnal curve (low at 04:00, "
        "high at 14:00) and a one-hour campaign from 18:00 that reaches the peak; Poisson arrivals. Each flow "
        "needs room in every token bucket (StartExecution, transitions, SendTaskSuccess, API Gateway, Lambda "
        "concurrency, table writes, the busiest index shard) when it starts; without room it waits in the "
        "clients' retry queue, and that wait is the latency the quotas add. Simplification: a flow's whole demand "
        f"is charged when it starts. Where flows first wait, the window from {FINE_BEFORE} s before to "
        f"{FINE_AFTER} s after is run again in {FINE_STEP:g} s steps (each second's arrivals spread over it at "
        "random, seeded; buckets refilled continuously): the rows below the table.",
        "",
        "| scenario | flows in the day | peak flows/s | first wait (time, limit) | wait p50 / p99 / max | "
        "peak queue | left at midnight | throttled by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    raised = {
        "sfn_start_execution": 1_500,
        "sfn_state_transition": 10_000,
        "sfn_send_task_success": 3_000,
        "lambda_concurrency": 3_000,
    }
    outcomes = []
    scenarios = (
        ("default quotas, 250 flows/s peak", 250, None),
        ("default quotas, 1,000 flows/s peak", 1_000, None),
        (
            "raised quotas (StartExecution 1,500/s, transitions 10,000/s, SendTaskSuccess 3,000/s, Lambda 3,000), "
            "1,000 flows/s peak",
            1_000,
            raised,
        ),
    )
    for label, peak, lift in scenarios:
        sim = simulate(inputs, flow, peak, lift)
        outcomes.append(sim)
        first = (
            f"{_clock(sim['first_growth'][0])}, {LABELS[sim['first_growth'][1]]}" if sim["first_growth"] else "never"
        )
        throttled = ", ".join(f"{LABELS[k]} {v:,}" for k, v in sim["throttled"].items()) or "nothing"
        lines.append(
            f"| {label} | {sim['flows']:,} | {sim['peak_arrivals']:,} | {first} | {sim['wait_p50']} s / "
            f"{sim['wait_p99']} s / {sim['wait_max']} s | {sim['peak_queue']:,} | {sim['unserved_at_midnight']:,} | "
            f"{throttled} |"
        )
    growth = [LABELS[o["first_growth"][1]] if o["first_growth"] else "nothing" for o in outcomes]
    lines.append("")
    for (label, *_), sim in zip(scenarios, outcomes, strict=True):
        fine = sim["fine"]
        if fine is None or fine["first_growth"] is None:
            continue
        at, key = fine["first_growth"]
        tenths = round(at * 10)
        lines.append(
            f"- {label}, in {FINE_STEP:g} s steps from {_clock(fine['start'])} to {_clock(fine['end'])}: flows first "
            f"wait at {_clock(tenths // 10)}.{tenths % 10}, for {LABELS[key]}; the flows that arrive in that "
            f"window wait {fine['wait_p50']:g} s / {fine['wait_p99']:g} s / {fine['wait_max']:g} s (p50 / p99 / "
            f"max), and {fine['left_waiting']:,} still wait at its end."
        )
    lines += [
        "",
        "Throttled counts are flow-seconds spent waiting for that bucket. Where latency first grows: "
        f"{growth[1]} with default quotas at a 1,000 flows/s peak; {growth[2]} once StartExecution, transitions, "
        "SendTaskSuccess and Lambda concurrency are raised. The month's cost at a constant rate uses first-tier "
        "prices; API Gateway's and Lambda's volume tiers lower it at these volumes.",
        "",
    ]
    return "\n".join(lines)


TOKEN_ITEM_OVERHEAD = 64  # the task item's keys and attribute names, in bytes


def _floor(inputs: Inputs, flow: dict[str, float]) -> list[str]:
    """Issue 18's target, $0.173 per 1,000 Viber -> SMS flows (1.15 x the Step Functions floor), against the
    services that are not Step Functions: what it leaves DynamoDB, and the writes no design can avoid."""
    price = {k: v["usd"] for k, v in inputs.prices["prices"].items()}
    path = next(p for p in inputs.results["cost"]["paths"] if p["path"] == REFERENCE_PATH)
    measured = path["usd_per_1000_flows_aws_tokens"]
    floor = measured["step_functions"]
    target = 1.15 * floor
    fixed = measured["api_gateway"] + measured["lambda_requests"]
    budget = target - floor - fixed
    wru_budget = max(0.0, budget) / 1000 / price["dynamodb_on_demand_wru"]
    token_units = write_units(TOKEN_LENGTH + TOKEN_ITEM_OVERHEAD)
    steps, receipts = int(path["steps"]), round(path["receipts"])
    unavoidable = steps * token_units + 2 + 1 + receipts
    unavoidable_usd = unavoidable * price["dynamodb_on_demand_wru"] * 1000
    verdict = (
        "more than that budget: with tokens this size stored in DynamoDB on demand, the target cannot be met"
        if unavoidable_usd > budget
        else "within that budget"
    )
    return [
        f"Step Functions' {flow['transitions']:.0f} transitions cost ${floor:.4f} per 1,000 Viber → SMS flows; "
        f"1.15 × that is ${target:.4f}. API Gateway's {flow['api_requests']:.0f} requests and the Lambda requests "
        f"take ${fixed:.4f} of the ${target - floor:.4f} above the floor, which leaves ${budget:.4f} for DynamoDB "
        f"and Lambda duration together: about {wru_budget:.0f} write units per flow with no reads and no duration. "
        f"Measured (`make bench`, {TOKEN_LENGTH:,}-byte tokens, index writes included): "
        f"{path['dynamodb']['wru_aws_tokens']:g} WRU and {path['dynamodb']['rru_aws_tokens']:g} RRU "
        f"(${measured['dynamodb']:.4f}), Lambda duration ${measured['lambda_duration']:.4f}; with 36-byte tokens "
        f"{path['dynamodb']['wru']:g} WRU.",
        "",
        f"A lower bound: keeping this product's features (the task token in DynamoDB as AWS hands it, search by "
        f"application, a rate limit per application, every status kept), a design that made no send claim, wrote "
        f"no verdict and read nothing would still write each step's task token once ({steps} × {token_units} WRU "
        f"at {TOKEN_LENGTH:,} bytes), the flow and its index entry (2), the rate-limit counter (1) and each of the "
        f"{receipts} receipts (1 each): "
        f"{unavoidable} WRU, ${unavoidable_usd:.4f} per 1,000 flows, {verdict}. Since issue 18 the token has an "
        "item of its own, written once per attempt (the message's updates no longer carry it), `resumedToken` "
        "keeps a 32-character digest, the send claim is one conditional write followed by a read of the flow "
        "(not a 4-unit transaction), a verdict that does not end the flow is one conditional write, and the "
        "provider's answer is written with its status in one write.",
    ]


def _checked(quotas: dict[str, Any]) -> str:
    """Which quotas were seen on their page (quotas.json `checked`), and where, when not on the live page."""
    unchecked = [key for key, quota in quotas.items() if not quota.get("checked")]
    archived = [key for key, quota in quotas.items() if quota.get("checked_against")]
    said = (
        "Not yet seen on their pages: " + ", ".join(f"`{k}`" for k in unchecked) + "."
        if unchecked
        else "Every AWS quota here was seen on its documentation page"
        + (
            ", or, for " + ", ".join(f"`{k}`" for k in archived) + ", in AWS's own archived copy of it "
            "(`checked_against` in quotas.json: the live page's table was not readable); AWS may have raised "
            "them since."
            if archived
            else "."
        )
    )
    return said + " Your account's applied values are in the Service Quotas console."


def _search_limits() -> dict[str, int]:
    from failover.domain import MAX_SEARCH_OFFSET
    from failover.service import SEARCH_READ_AT_LEAST

    return {"offset": MAX_SEARCH_OFFSET, "read": SEARCH_READ_AT_LEAST}


def rows_by(rows: list[Limit], key: str) -> Limit:
    return next(r for r in rows if r.key == key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity")
    parser.add_argument("--check", action="store_true", help="fail if docs/capacity.md is not what the inputs give")
    args = parser.parse_args(argv)
    text = markdown(load())
    if args.check:
        if not DOC.exists() or DOC.read_text() != text:
            print("docs/capacity.md is out of date: run `make capacity`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
