"""The local runtime runs API invocations at once, in threads of one process: what Powertools keeps per
invocation must stay with its thread, as it stays with its sandbox in Lambda (failover_local.aws)."""

from __future__ import annotations

import io
import json
import logging
import threading

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from failover_local.isolation import log_keys_per_thread, router_state_per_thread


def _event(path: str) -> dict:
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"resourcePath": path, "httpMethod": "GET", "stage": "v1", "requestId": "r"},
        "body": None,
        "isBase64Encoded": False,
    }


def test_two_resolvers_at_once_each_see_their_own_event():
    router_state_per_thread()
    barrier = threading.Barrier(2, timeout=10)
    apps = {name: APIGatewayRestResolver() for name in ("first", "second")}
    for name, app in apps.items():

        @app.get(f"/{name}")
        def route(app=app) -> dict:
            barrier.wait()  # both invocations are inside their handler, their events set
            return {"path": app.current_event.path, "route": app.context.get("_path")}

    answers: dict[str, dict] = {}

    def call(name: str) -> None:
        for _ in range(20):
            answers[name] = json.loads(apps[name].resolve(_event(f"/{name}"), None)["body"])
            assert answers[name] == {"path": f"/{name}", "route": f"/{name}"}

    threads = [threading.Thread(target=call, args=(name,)) for name in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {name: {"path": f"/{name}", "route": f"/{name}"} for name in apps}


def test_log_lines_name_the_function_that_wrote_them(monkeypatch):
    for name in ("POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"):  # an earlier stack's level must not hide them
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    logger = Logger(service="failover-test", level="INFO", logger_handler=logging.StreamHandler(out))
    logger.append_keys(shared="kept")
    log_keys_per_thread()
    barrier = threading.Barrier(2, timeout=10)

    def invoke(function_name: str) -> None:
        for _ in range(30):
            logger.append_keys(function_name=function_name)  # as inject_lambda_context does per invocation
            barrier.wait()  # both have appended before either logs
            logger.warning(function_name)
            barrier.wait()

    threads = [threading.Thread(target=invoke, args=(name,)) for name in ("SendStep", "StatusIngest")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 60
    assert [line["function_name"] for line in lines] == [line["message"] for line in lines]
    assert {(line["service"], line["shared"]) for line in lines} == {("failover-test", "kept")}
