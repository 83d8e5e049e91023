"""Cost per flow: counted units (bench.flows) × on-demand prices (bench/prices.json), per 1,000 flows."""

from __future__ import annotations

import json
import statistics
from pathlib import Path as FilePath
from typing import Any

from bench.flows import EXPIRY_PATH, PATHS, Driver, FlowCounts, Path, start_stack, target_invocations
from bench.flows import target_transitions as target_transitions_of

PRICES_FILE = FilePath(__file__).with_name("prices.json")
COST_TARGET_PATH = "viber_sms"
COST_TARGET_USD_PER_1000 = 0.25
RECEIPT_FUNCTION = "StatusIngestFunction"
AMORTIZED_FUNCTIONS = ("AuthorizerFunction", "OAuthTokenFunction")  # cached per client token, not per flow
SENSITIVITY_MS = 200  # GB-seconds if every invocation lasted this long (AWS round trips are slower than moto's)


def load_prices() -> dict[str, Any]:
    return json.loads(PRICES_FILE.read_text())


def measure_paths(runs: int = 3, paths: tuple[Path, ...] = (*PATHS, EXPIRY_PATH)) -> dict[str, list[FlowCounts]]:
    """Each path once to warm up (tokens, secrets, caches), then `runs` times, one flow at a time."""
    stack = start_stack()
    try:
        driver = Driver(stack)
        try:
            for path in paths:
                driver.measure(path)
            return {path.key: [driver.measure(path) for _ in range(runs)] for path in paths}
        finally:
            driver.close()
    finally:
        stack.stop()


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def summarize(path: Path, runs: list[FlowCounts], prices: dict[str, Any]) -> dict[str, Any]:
    """Per-flow means over the runs, the US$ per 1,000 flows, and the targets."""
    p = {key: entry["usd"] for key, entry in prices["prices"].items()}
    functions = sorted({name for run in runs for name in run.invocations})
    invocations = {name: _mean([run.invocations.get(name, 0) for run in runs]) for name in functions}
    gb_seconds = _mean(
        [sum(sum(ms) / 1000 * run.memory_mb[name] / 1024 for name, ms in run.durations_ms.items()) for run in runs]
    )
    units = {
        unit: _mean([float(run.aws["units"].get(unit, 0)) for run in runs])
        for unit in ("rru", "wru", "rru_aws_tokens", "wru_aws_tokens", "wru_index")
    }
    calls: dict[str, float] = {}
    for name in sorted({c for run in runs for c in run.aws["calls"]}):
        calls[name] = _mean([run.aws["calls"].get(name, 0) for run in runs])
    secrets_calls = calls.get("secretsmanager:GetSecretValue", 0.0)
    total_invocations = sum(invocations.values())
    receipts = _mean([run.receipts for run in runs])
    api_requests = _mean([run.api_requests for run in runs])
    memory = runs[0].memory_mb

    def usd(dynamodb_rru: float, dynamodb_wru: float, gb_s: float) -> dict[str, float]:
        lines = {
            "step_functions": runs[0].transitions * p["stepfunctions_standard_state_transition"],
            "lambda_requests": total_invocations * p["lambda_arm64_request"],
            "lambda_duration": gb_s * p["lambda_arm64_gb_second"],
            "api_gateway": (api_requests + receipts) * p["apigateway_rest_request"],
            "dynamodb": dynamodb_rru * p["dynamodb_on_demand_rru"] + dynamodb_wru * p["dynamodb_on_demand_wru"],
            "secrets_manager": secrets_calls * p["secretsmanager_api_call"],
        }
        per_1000 = {k: v * 1000 for k, v in lines.items()}
        per_1000["total"] = sum(per_1000.values())
        return per_1000

    measured = usd(units["rru"], units["wru"], gb_seconds)
    with_tokens = usd(units["rru_aws_tokens"], units["wru_aws_tokens"], gb_seconds)
    slow_gb_s = sum(n * SENSITIVITY_MS / 1000 * memory.get(name, 256) / 1024 for name, n in invocations.items())
    slow = usd(units["rru_aws_tokens"], units["wru_aws_tokens"], slow_gb_s)
    receipt_share = (
        invocations.get(RECEIPT_FUNCTION, 0) * p["lambda_arm64_request"] + receipts * p["apigateway_rest_request"]
    ) * 1000
    transitions = {run.transitions for run in runs}
    flow_invocations = {run.flow_invocations for run in runs}
    steps = path.steps
    result = {
        "path": path.key,
        "title": path.title,
        "steps": steps,
        "runs": len(runs),
        "deterministic": len(transitions) == 1 and len(flow_invocations) == 1,
        "outcome": list(runs[0].outcome),
        "expected_outcome": list(path.outcome),
        "states": runs[0].states,
        "transitions": max(transitions),
        "flow_invocations": max(flow_invocations),
        "receipt_invocations": _mean([run.receipt_invocations for run in runs]),
        "invocations_by_function": invocations,
        "amortized_invocations": {k: v for k, v in invocations.items() if k in AMORTIZED_FUNCTIONS},
        "gb_seconds": gb_seconds,
        "billed_ms_by_function": {
            name: _mean([sum(run.durations_ms.get(name, [])) for run in runs]) for name in functions
        },
        "memory_mb": {name: memory[name] for name in functions},
        "api_requests": api_requests,
        "receipts": receipts,
        "dynamodb": units,
        "aws_calls": calls,
        "usd_per_1000_flows": measured,
        "usd_per_1000_flows_aws_tokens": with_tokens,
        "usd_per_1000_flows_aws_tokens_200ms": slow,
        "usd_per_1000_flows_receipts_share": receipt_share,
        "targets": {
            "transitions": target_transitions_of(steps),
            "flow_invocations": target_invocations(steps),
        },
        "meter_errors": sorted({e for run in runs for e in run.aws["errors"]}),
    }
    result["targets_met"] = {
        "transitions": result["transitions"] <= result["targets"]["transitions"],
        "flow_invocations": result["flow_invocations"] <= result["targets"]["flow_invocations"],
    }
    if path.key == COST_TARGET_PATH:
        result["targets"]["usd_per_1000_flows"] = COST_TARGET_USD_PER_1000
        worst = max(measured["total"], with_tokens["total"], slow["total"])
        result["targets_met"]["usd_per_1000_flows"] = worst <= COST_TARGET_USD_PER_1000
    return result


def run(runs: int = 3) -> dict[str, Any]:
    prices = load_prices()
    measured = measure_paths(runs)
    by_key = {path.key: path for path in (*PATHS, EXPIRY_PATH)}
    return {
        "prices": prices,
        "paths": [summarize(by_key[key], counts, prices) for key, counts in measured.items()],
        "target_paths": [path.key for path in PATHS],
    }
