"""The local runtime runs API invocations at once, in threads of one process: what Powertools keeps per
invocation must stay with its thread, as it stays with its sandbox in Lambda (failover_local.aws)."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import uuid

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import logger as powertools_logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from failover import observability, providers
from failover_local import iam_recorder
from failover_local.iam_recorder import acting_as
from failover_local.isolation import (
    _BATCH_STATE,
    condition_builders_per_thread,
    isolate_invocation_state,
    log_keys_per_thread,
    router_state_per_thread,
)


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
    """The install changes BaseRouter's metaclass, which a test cannot undo in-process; with it made a no-op
    (router_state_per_thread = lambda: None, in a fresh interpreter) this test fails: the barrier breaks and
    one resolver answers with the other's path."""
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
        thread.join(timeout=30)
    assert answers == {name: {"path": f"/{name}", "route": f"/{name}"} for name in apps}


@pytest.mark.parametrize("isolated", [True, False], ids=["isolated", "shared"])
def test_log_lines_name_the_function_that_wrote_them(isolated, monkeypatch):
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    for name in ("POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"):  # an earlier stack's level must not hide them
        monkeypatch.delenv(name, raising=False)
    log_keys_per_thread()
    if not isolated:
        monkeypatch.delattr(LambdaPowertoolsFormatter, "log_format")
    out = io.StringIO()
    service = f"failover-test-{uuid.uuid4().hex}"  # one Logger per service name: this one has its own handler
    logger = Logger(service=service, level="INFO", logger_handler=logging.StreamHandler(out))
    logger.append_keys(shared="kept")
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
        thread.join(timeout=10)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 60
    assert {(line["service"], line["shared"]) for line in lines} == {(service, "kept")}
    named_right = sum(line["function_name"] == line["message"] for line in lines)
    assert named_right == (60 if isolated else 30)  # shared: both lines of a round name the last to append


@pytest.mark.parametrize("isolated", [True, False], ids=["isolated", "shared"])
def test_concurrent_dynamodb_calls_number_their_own_placeholders(isolated, monkeypatch):
    """boto3 numbers a call's placeholders with its client's one builder, reset at each call: a call that starts
    between another's filter and key condition restarts that one's numbering, and its two #n0 collide."""
    import botocore.session
    from boto3.dynamodb.conditions import Attr, ConditionExpressionBuilder, Key
    from boto3.dynamodb.transform import TransformationInjector

    condition_builders_per_thread()
    if not isolated:
        monkeypatch.delattr(TransformationInjector, "_condition_builder")
    injector = TransformationInjector()  # one per client; functions share clients across threads
    query = botocore.session.get_session().get_service_model("dynamodb").operation_model("Query")
    first_filter_built, second_reset, first_done = threading.Event(), threading.Event(), threading.Event()
    build, reset = ConditionExpressionBuilder.build_expression, ConditionExpressionBuilder.reset

    def build_in_turn(builder, condition, is_key_condition=False):
        built = build(builder, condition, is_key_condition)
        if threading.current_thread().name == "first" and not is_key_condition:
            first_filter_built.set()  # the second call starts now, between the first's filter and key condition
            second_reset.wait(10)
        return built

    def reset_in_turn(builder) -> None:
        reset(builder)
        if threading.current_thread().name == "second":
            second_reset.set()
            first_done.wait(10)

    monkeypatch.setattr(ConditionExpressionBuilder, "build_expression", build_in_turn)
    monkeypatch.setattr(ConditionExpressionBuilder, "reset", reset_in_turn)
    calls = {
        name: {"TableName": "t", "KeyConditionExpression": Key("pk").eq(name), "FilterExpression": Attr("s").eq(1)}
        for name in ("first", "second")
    }

    def first() -> None:
        try:
            injector.inject_condition_expressions(calls["first"], query)
        finally:
            first_done.set()

    def second() -> None:
        first_filter_built.wait(10)
        injector.inject_condition_expressions(calls["second"], query)

    threads = [threading.Thread(target=first, name="first"), threading.Thread(target=second, name="second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    names = calls["first"]["ExpressionAttributeNames"]
    if isolated:
        assert sorted(names.values()) == ["pk", "s"]
    else:  # the key condition's #n0 overwrote the filter's: the query names one attribute for two
        assert sorted(names.values()) == ["pk"]


# --- what one function's module keeps per invocation (failover_local.isolation.isolate_invocation_state) ------
# Each test runs twice: with the install, and with it taken away, where it asserts that the mixing does happen
# under the same forced interleaving (so the check can fail).

_ISOLATED = pytest.mark.parametrize("isolated", [True, False], ids=["isolated", "shared"])


def _isolate_or_share(isolated: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities.batch.base import BasePartialProcessor
    from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig

    from failover.idempotency import IdempotentCalls
    from failover.service import FailoverService

    isolate_invocation_state()
    if not isolated:
        for cls, names in (
            (BasePartialProcessor, _BATCH_STATE),
            (FailoverService, ("_context",)),
            (IdempotentCalls, ("_context",)),
            (IdempotencyConfig, ("lambda_context",)),
        ):
            for name in names:
                monkeypatch.delattr(cls, name)
        monkeypatch.setattr(powertools_logger, "_is_cold_start", _is_cold_start_once_per_process())


def _is_cold_start_once_per_process():
    """Powertools' own behaviour: one flag for the process."""
    cold = [True]

    def is_cold_start() -> bool:
        was, cold[0] = cold[0], False
        return was

    return is_cold_start


def _run_at_once(*targets) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()


def _sqs_event(*bodies: str) -> dict:
    return {
        "Records": [
            {"messageId": body, "receiptHandle": body, "body": body, "attributes": {}, "messageAttributes": {}}
            for body in bodies
        ]
    }


@_ISOLATED
def test_one_functions_batch_processor_reports_each_invocations_own_failures(isolated, monkeypatch):
    """CallbackDeliver's module has one BatchProcessor, and its SQS mapping runs up to 4 invocations at once."""
    _isolate_or_share(isolated, monkeypatch)
    processor = BatchProcessor(event_type=EventType.SQS)
    first_failed, second_done = threading.Event(), threading.Event()

    def deliver(record) -> None:
        if record.body == "a1":
            raise ValueError("the receiver is down")
        if record.body == "a2":  # the first invocation has a failure to report: the second runs now, whole
            first_failed.set()
            second_done.wait(10)
        if record.body == "b1":
            first_failed.wait(10)

    answers: dict[str, dict] = {}

    def first() -> None:
        answers["first"] = process_partial_response(_sqs_event("a1", "a2"), deliver, processor, None)

    def second() -> None:
        try:
            answers["second"] = process_partial_response(_sqs_event("b1", "b2"), deliver, processor, None)
        finally:
            second_done.set()

    _run_at_once(first, second)
    assert answers["second"] == {"batchItemFailures": []}
    if isolated:
        assert answers["first"] == {"batchItemFailures": [{"itemIdentifier": "a1"}]}
    else:  # the second invocation's start cleared the first's failures: a1 would be deleted from the queue
        assert answers["first"] == {"batchItemFailures": []}


class _Context:
    def __init__(self, seconds_left: float):
        self.seconds_left = seconds_left

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds_left * 1000)


@_ISOLATED
def test_one_functions_service_keeps_each_invocations_own_lambda_context(isolated, monkeypatch):
    """SendStep's module has one FailoverService; the state machine invokes it for every flow at once. A send
    retries an outage only while its own invocation has time left, and Idempotency reads the same context."""
    from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig

    from failover.idempotency import IdempotentCalls
    from failover.service import FailoverService

    _isolate_or_share(isolated, monkeypatch)
    idempotency = IdempotentCalls("table")
    idempotency._config = IdempotencyConfig(event_key_jmespath="key")  # as its first keyed request builds it
    service = FailoverService(None, None, None, "", "routee", idempotency=idempotency)
    both_bound = threading.Barrier(2, timeout=10)
    seen: dict[float, tuple] = {}
    flow = {"timeouts": [900]}

    def invocation(seconds_left: float) -> None:
        service.bind_invocation(_Context(seconds_left))
        both_bound.wait()
        config_context = idempotency._config.lambda_context
        seen[seconds_left] = (service._send_retry_budget(flow, 0), config_context.seconds_left)

    _run_at_once(lambda: invocation(60), lambda: invocation(600))
    budgets = {left: budget for left, (budget, _) in seen.items()}
    if isolated:
        assert {left: config for left, (_, config) in seen.items()} == {60: 60, 600: 600}
        assert budgets[60] < budgets[600]
    else:  # both read the context bound last
        assert len({config for _, config in seen.values()}) == 1
        assert budgets[60] == budgets[600]


@_ISOLATED
def test_each_functions_first_invocation_is_a_cold_start(isolated, monkeypatch):
    """Each function has its own sandbox, so its own first invocation; Powertools keeps one flag per process."""
    isolate_invocation_state()  # a fresh start: every function cold again
    _isolate_or_share(isolated, monkeypatch)
    out = io.StringIO()
    for name in ("POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    service = f"failover-cold-{uuid.uuid4().hex}"  # a Logger per service name: a handler of its own
    logger = Logger(service=service, level="INFO", logger_handler=logging.StreamHandler(out))

    @logger.inject_lambda_context(clear_state=True)
    def handler(event, context) -> None:
        logger.info("handled")

    for name in ("SendStep", "StatusIngest", "SendStep", "StatusIngest"):
        with acting_as(name):
            handler({}, _LambdaContext(name))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    cold = [(line["function_name"], line["cold_start"]) for line in lines]
    expected_second_cold = isolated  # shared: StatusIngest's first invocation is not cold
    assert cold == [
        ("SendStep", True),
        ("StatusIngest", expected_second_cold),
        ("SendStep", False),
        ("StatusIngest", False),
    ]


class _LambdaContext:
    def __init__(self, name: str):
        self.function_name = name
        self.memory_limit_in_mb = 128
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
        self.aws_request_id = f"request-of-{name}"


# --- environment and caches per function (failover_local.iam_recorder) -------------------------------------------


@_ISOLATED
def test_a_function_does_not_see_anothers_variables_while_both_run(isolated, monkeypatch):
    monkeypatch.setenv("FAILOVER_TEST_SHARED", "both")
    monkeypatch.setenv("FAILOVER_TEST_ONLY_SEND", "send")
    monkeypatch.setenv("FAILOVER_TEST_ONLY_API", "api")
    hidden_before = os.environ.hidden if isinstance(os.environ, iam_recorder._SandboxedEnviron) else {}
    iam_recorder.isolate_environments(
        {
            "Send": {"FAILOVER_TEST_SHARED", "FAILOVER_TEST_ONLY_SEND"},
            "Api": {"FAILOVER_TEST_SHARED", "FAILOVER_TEST_ONLY_API"},
        }
    )
    sandboxed = os.environ
    monkeypatch.setattr(os, "environ", sandboxed, raising=True)  # restored, with its filter, after the test
    if not isolated:
        monkeypatch.setattr(os, "environ", os._Environ(sandboxed._data, *_codecs(sandboxed)))  # noqa: SLF001
    both_acting = threading.Barrier(2, timeout=10)
    seen: dict[str, set[str]] = {}

    def function(name: str) -> None:
        with acting_as(name):
            both_acting.wait()
            seen[name] = {key for key in os.environ if key.startswith("FAILOVER_TEST_")}
            assert os.getenv("FAILOVER_TEST_SHARED") == "both"

    try:
        _run_at_once(lambda: function("Send"), lambda: function("Api"))
    finally:
        sandboxed.hidden = hidden_before
    everything = {"FAILOVER_TEST_SHARED", "FAILOVER_TEST_ONLY_SEND", "FAILOVER_TEST_ONLY_API"}
    if isolated:
        assert seen == {
            "Send": {"FAILOVER_TEST_SHARED", "FAILOVER_TEST_ONLY_SEND"},
            "Api": {"FAILOVER_TEST_SHARED", "FAILOVER_TEST_ONLY_API"},
        }
    else:
        assert seen == {"Send": everything, "Api": everything}


def _codecs(environ) -> tuple:
    return environ.encodekey, environ.decodekey, environ.encodevalue, environ.decodevalue


@_ISOLATED
def test_each_function_builds_its_own_channel_provider_and_secrets_cache_while_both_run(isolated, monkeypatch):
    """A provider instance (its token, its pooled connections) and Powertools' secrets cache belong to one
    sandbox: shared, one function's secret would be served to another from cache, its call unrecorded."""
    from aws_lambda_powertools.utilities.parameters import base

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # a SecretsProvider makes its client when built
    iam_recorder.RECORDER.install()  # idempotent: installs the per-function caches
    if not isolated:
        monkeypatch.setattr(providers, "_instances", {})
        monkeypatch.setitem(base.DEFAULT_PROVIDERS, "secrets", base.DEFAULT_PROVIDERS["secrets"]._instance())
    monkeypatch.setitem(providers._registered, "isolation-test", object)
    both_acting = threading.Barrier(2, timeout=10)
    built: dict[str, tuple] = {}

    def function(name: str) -> None:
        with acting_as(name):
            both_acting.wait()
            secrets = base.DEFAULT_PROVIDERS["secrets"]
            built[name] = (providers.get("isolation-test"), getattr(secrets, "store", None))

    _run_at_once(lambda: function("Send"), lambda: function("Api"))
    same_provider = built["Send"][0] is built["Api"][0]
    same_cache = built["Send"][1] is built["Api"][1]
    assert (same_provider, same_cache) == ((False, False) if isolated else (True, True))


# --- metrics --------------------------------------------------------------------------------------------------


def _count_with_a_shared_metrics_object():
    """Powertools' Metrics, as a handler would use it: its metric set and dimensions are class-level state,
    shared by every Metrics of the namespace (the product does not use it: failover.observability.count)."""
    from aws_lambda_powertools import Metrics

    metrics = Metrics(namespace="FailoverTest", service="failover")
    both_added, first_flushed = threading.Barrier(2, timeout=10), threading.Event()

    def count(name: str, channel: str) -> None:
        metrics.add_dimension(name="channel", value=channel)
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        both_added.wait()
        if channel == "Sms":
            first_flushed.wait(10)
        metrics.flush_metrics()
        first_flushed.set()

    return count


@pytest.mark.filterwarnings("ignore::UserWarning")  # Powertools warns of the overwritten dimension, the empty flush
@pytest.mark.parametrize("emitter", ["product", "shared Metrics"])
def test_each_metric_line_carries_only_its_own_metric_and_dimensions(emitter, monkeypatch, capsys):
    """Two functions count at once, each with its channel: every EMF line names one metric and its own channel.
    The product emits each count on its own (single_metric): nothing is shared, nothing needs installing. With
    Powertools' Metrics the same interleaving mixes them, which shows the check can fail."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    if emitter == "product":
        both_counting = threading.Barrier(2, timeout=10)

        def count(name: str, channel: str) -> None:
            both_counting.wait()
            observability.count(name, channel)

    else:
        from aws_lambda_powertools import Metrics

        monkeypatch.setattr(Metrics, "_metrics", {})  # fresh class-level stores, the originals restored after
        monkeypatch.setattr(Metrics, "_dimensions", {})
        count = _count_with_a_shared_metrics_object()
    _run_at_once(lambda: count("Sent", "Viber"), lambda: count("Delivered", "Sms"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    flushed = sorted(
        (tuple(sorted(m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"])), line["channel"])
        for line in lines
        if "_aws" in line
    )
    if emitter == "product":
        assert flushed == [(("Delivered",), "Sms"), (("Sent",), "Viber")]
    else:  # one flush carries both metrics under one channel; the other finds nothing left to flush
        assert len(flushed) == 1 and flushed[0][0] == ("Delivered", "Sent")
