"""What the in-process isolation costs (docs/local-isolation.md): `python -m failover_local.isolation_cost`.

Each operation that the installs of failover_local.isolation touch is timed in fresh interpreters, alternately
without and with the installs (ROUNDS of each, interleaved, so that a busy machine slows both alike); a round's
figure is the best of REPEATS timings. Printed: the median microseconds per operation, and their ratio.

Dev-only (never shipped in a Lambda artifact).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable

ROUNDS = 5
REPEATS = 3
OPERATIONS = {
    "resolve": "an API Gateway event through APIGatewayRestResolver.resolve (one route)",
    "log": "logger.info with the product's masking formatter and 8 keys",
    "batch": "process_partial_response over 10 SQS records",
    "condition": "boto3 condition injection for a Query (key condition and filter)",
    "environ": "os.getenv of a variable (Powertools reads some at every metric and log call)",
    "invocation": "inject_lambda_context + resolve + 2 log lines (one API invocation's share)",
}


def _operations() -> dict[str, Callable[[], object]]:
    import logging

    import botocore.session
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from boto3.dynamodb.conditions import Attr, Key
    from boto3.dynamodb.transform import TransformationInjector

    from failover.observability import MaskingFormatter

    app = APIGatewayRestResolver()

    @app.get("/failover/tracking/<tracking_id>")
    def track(tracking_id: str) -> dict:
        return {"trackingId": tracking_id, "path": app.current_event.path}

    event = {
        "resource": "/failover/tracking/{trackingId}",
        "path": "/failover/tracking/abc",
        "httpMethod": "GET",
        "headers": {"Authorization": "Bearer x"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": {"trackingId": "abc"},
        "requestContext": {"resourcePath": "/failover/tracking/{trackingId}", "httpMethod": "GET", "stage": "v1"},
        "body": None,
        "isBase64Encoded": False,
    }
    null = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    logger = Logger(
        service="isolation-cost",
        level="INFO",
        logger_formatter=MaskingFormatter(),
        logger_handler=logging.StreamHandler(null),
    )

    class Context:
        function_name = "failover-local-ApiFunction"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:failover-local-ApiFunction"
        aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    context = Context()

    @logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
    def handler(event: dict, context: object) -> dict:
        logger.info("Flow created", extra={"trackingId": "abc", "steps": 2})
        logger.info("Step resolved", extra={"trackingId": "abc", "index": 0, "to": "+306912345678"})
        return app.resolve(event, context)

    processor = BatchProcessor(event_type=EventType.SQS)
    records = {
        "Records": [
            {"messageId": str(n), "receiptHandle": str(n), "body": "{}", "attributes": {}, "messageAttributes": {}}
            for n in range(10)
        ]
    }
    injector = TransformationInjector()
    query = botocore.session.get_session().get_service_model("dynamodb").operation_model("Query")

    def condition() -> None:
        params = {"TableName": "t", "KeyConditionExpression": Key("pk").eq("x"), "FilterExpression": Attr("s").eq(1)}
        injector.inject_condition_expressions(params, query)

    return {
        "resolve": lambda: app.resolve(event, context),
        "log": lambda: logger.info("Step sent", extra={"trackingId": "abc", "index": 1, "channel": "Sms"}),
        "batch": lambda: process_partial_response(records, lambda record: None, processor, None),
        "condition": condition,
        "environ": lambda: os.getenv("POWERTOOLS_METRICS_DISABLED"),
        "invocation": lambda: handler(event, context),
    }


def _one_round(installed: bool) -> dict[str, float]:
    """Microseconds per operation in this interpreter (best of REPEATS)."""
    if installed:
        from failover_local.iam_recorder import ACTING, isolate_environments
        from failover_local.isolation import (
            condition_builders_per_thread,
            isolate_invocation_state,
            log_keys_per_thread,
            router_state_per_thread,
        )

        router_state_per_thread()
        log_keys_per_thread()
        condition_builders_per_thread()
        isolate_invocation_state()
        isolate_environments({"ApiFunction": {"TABLE_NAME"}, "SendStepFunction": {"TABLE_NAME", "ROUTEE_URL"}})
        ACTING.set("ApiFunction")  # as LocalAws.invoke sets it around each invocation
    result = {}
    for name, operation in _operations().items():
        timer = timeit.Timer(operation)
        number, _ = timer.autorange()
        result[name] = min(timer.repeat(REPEATS, number)) / number * 1e6
    return result


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--round":
        print(json.dumps(_one_round(sys.argv[2] == "installed")))
        return
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "installed": []}
    for _ in range(ROUNDS):
        for mode in runs:
            out = subprocess.run(
                [sys.executable, "-m", "failover_local.isolation_cost", "--round", mode],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "POWERTOOLS_METRICS_DISABLED": "true"},
            ).stdout
            runs[mode].append(json.loads(out.strip().splitlines()[-1]))
    print(f"| operation | without (µs) | with (µs) | ratio | added (µs) |  (median of {ROUNDS} interpreters each)")
    print("|---|---:|---:|---:|---:|")
    for name, description in OPERATIONS.items():
        plain = statistics.median(r[name] for r in runs["plain"])
        installed = statistics.median(r[name] for r in runs["installed"])
        print(f"| {description} | {plain:.1f} | {installed:.1f} | {installed / plain:.2f} | {installed - plain:+.1f} |")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
