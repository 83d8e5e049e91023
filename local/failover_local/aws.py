"""moto, in-process, as the AWS backend: the resources of template.yaml, and Lambda dispatched to the real handlers.

The table, the secrets, the functions' environment and the state machine (DefinitionUri with its
DefinitionSubstitutions) all come from template.yaml, so the local stack cannot drift from the deployed one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import secrets
import threading
import time
import traceback
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from failover import providers
from failover_local import iam_recorder
from failover_local.apigateway import (
    Authorizer,
    Route,
    http_response,
    match_route,
    proxy_event,
    token_event,
)
from failover_local.faults import FaultPlan
from failover_local.isolation import (
    condition_builders_per_thread,
    isolate_invocation_state,
    log_keys_per_thread,
    router_state_per_thread,
)
from failover_local.mappings import QueueMapping, StreamMapping
from failover_local.moto_patches import Change, MotoPatches
from failover_local.template import ROOT, Resolver, load_template, parameter_defaults, resources_of

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK_NAME = "failover-local"

ItemObserver = Callable[[dict[str, Any]], None]

# Admission (local only). Every function shares this process's one core (the GIL), so new flows compete with
# the flows already accepted: under sustained load their receipts were handled after their step's ttl and the
# flows failed over wrongly. The local stack gives the work in flight priority: a request that starts a flow
# waits while more than ADMISSION_BUSY other invocations are running, up to ADMISSION_WAIT seconds (well inside
# API Gateway's 29 s), then goes ahead. An idle stack, or one whose flows only wait for a ttl, admits at once.
ADMITTED_ROUTES = {("POST", "/failover")}
ADMISSION_BUSY = int(os.environ.get("FAILOVER_LOCAL_ADMISSION_BUSY", "4"))
ADMISSION_WAIT = float(os.environ.get("FAILOVER_LOCAL_ADMISSION_WAIT", "20"))

# API Gateway's own bodies when an authorizer says no, or fails.
_AUTHORIZER_ANSWERS = {
    401: b'{"message":"Unauthorized"}',
    403: b'{"message":"User is not authorized to access this resource"}',
    500: b'{"message":null}',
}


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    handler_path: Path
    handler_name: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    handler: Callable[[dict[str, Any], Any], Any] | None = None
    invocations: int = 0
    durations: list[float] = field(default_factory=list)  # seconds per invocation, for GB-second estimates


@dataclass
class LambdaContext:
    """What Powertools reads from the Lambda context."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._started + self.timeout_s - time.monotonic()) * 1000))


class LocalAws:
    """Start with start(), stop with stop(). Not re-entrant: one per process at a time."""

    def __init__(
        self,
        parameters: dict[str, str] | None = None,
        environment: dict[str, str] | None = None,
        template_path: Path | None = None,
        on_item_written: ItemObserver | None = None,
        applications: dict[str, str] | None = None,
        faults: FaultPlan | None = None,  # default: FAILOVER_LOCAL_FAULTS (none)
    ):
        self._template = load_template(template_path) if template_path else load_template()
        self._parameters = {**parameter_defaults(self._template), **(parameters or {})}
        self._environment_overrides = environment or {}
        self._patches: list[Any] = []
        self._mock: Any = None
        self._saved_environ: dict[str, str] | None = None
        self.faults = faults if faults is not None else FaultPlan.from_environment()
        self._moto_patches: MotoPatches | None = None
        self._on_item_written = on_item_written
        self.applications = applications if applications is not None else local_applications()
        self._task_tokens: set[str] = set()  # every task token handed to a function, to release them at stop
        self._execution_tokens: dict[str, set[str]] = {}  # execution name (trackingId) → its task tokens
        self.queue_urls: dict[str, str] = {}  # queue ARN → URL
        self._event_sources: list[tuple[str, str, dict[str, Any]]] = []  # (function, DynamoDB | SQS, properties)
        self.stream_mappings: list[StreamMapping] = []
        self.queue_mappings: list[QueueMapping] = []
        self._mapping_threads: list[threading.Thread] = []
        self._threads_at_start: set[threading.Thread] = set()
        self._authorizer_cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self.functions: dict[str, LocalFunction] = {}
        self._running = 0  # invocations in progress
        self._running_changed = threading.Condition()
        self.routes: list[Route] = []
        self.http_requests: Counter[tuple[str, str]] = Counter()  # (method, route path) → requests served
        self.state_machine_arn = ""
        self.table_name = ""
        self.environment: dict[str, str] = {}

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> LocalAws:
        self._threads_at_start = set(threading.enumerate())
        self._saved_environ = dict(os.environ)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        self._mock = mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        )
        self._mock.start()
        # moto logs every error a state catches (a step's ttl passing is one) at ERROR: here, ordinary business.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._patch(mock.patch.object(LambdaSimpleBackend, "invoke", self._make_dispatch()))
        self._patch(
            mock.patch.object(
                StepFunctionsParserBackend, "stop_execution", self._stopping(StepFunctionsParserBackend.stop_execution)
            )
        )
        # Atomicity per item, transactions that roll back only their items, faults: failover_local.moto_patches.
        self._moto_patches = MotoPatches(on_change=self._written, faults=self.faults).start()
        iam_recorder.RECORDER.install()  # records each function's AWS calls, for the IAM check of the test suite
        router_state_per_thread()
        log_keys_per_thread()
        condition_builders_per_thread()
        isolate_invocation_state()  # BatchProcessor, bound Lambda contexts, cold_start: failover_local.isolation
        self._create_resources()
        iam_recorder.RECORDER.stack_started(self._resolver.refs, self._resolver.attributes, REGION, ACCOUNT)
        iam_recorder.RECORDER.state_machines = set(resources_of(self._template, "AWS::Serverless::StateMachine"))
        iam_recorder.isolate_environments({f.logical_id: set(f.environment) for f in self.functions.values()})
        os.environ.update(self.environment)
        providers.forget_instances()  # a provider built for an earlier stack has that stack's URLs
        for function in self.functions.values():
            with iam_recorder.acting_as(function.logical_id):  # the init phase runs with the function's role too
                function.handler = self._load_handler(function)
        self._create_applications()
        self._start_event_source_mappings()
        return self

    def callback_secret(self, application_id: str) -> str:
        """The secret this stack signs an application's callbacks with (for receivers to verify)."""
        from failover.admin import callback_secrets
        from failover.wiring import build_callbacks

        callbacks = build_callbacks()
        application = callbacks.applications.get(application_id) if callbacks.applications else None
        return callback_secrets(callbacks.deployment_key(), application_id, application, time.time())["callbackSecret"]

    def _create_applications(self) -> None:
        from failover.wiring import build_access  # production code, imported once the mock and env are up

        access = build_access()
        for application_id, secret in self.applications.items():
            access.create_application(application_id, secret)

    def stop(self) -> None:
        for mapping in [*self.stream_mappings, *self.queue_mappings]:
            mapping.stop()
        for thread in self._mapping_threads:
            thread.join(timeout=10)
        self.stop_executions()
        self._join_execution_threads(timeout=10.0)
        if self._moto_patches is not None:
            self._moto_patches.stop()
            self._moto_patches = None
        for patcher in reversed(self._patches):
            patcher.stop()
        self._patches.clear()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)

    def stop_executions(self) -> None:
        """Stop running executions, and fail their waiting tasks so that their threads wake up and end."""
        if not self.state_machine_arn:
            return
        sfn = boto3.client("stepfunctions", region_name=REGION)
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
        ):
            for execution in page["executions"]:
                with contextlib.suppress(Exception):  # it may have just finished
                    sfn.stop_execution(executionArn=execution["executionArn"])
        for token in list(self._task_tokens):
            with contextlib.suppress(Exception):  # most tasks are long done
                sfn.send_task_failure(taskToken=token, error="LocalStackStopped", cause="the local stack stopped")
        self._task_tokens.clear()

    def _stopping(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """StopExecution ends a waiting execution at once in AWS; moto's waits for its task. Fail that task."""
        local = self

        def stop_execution(backend: Any, execution_arn: str, *args: Any, **kwargs: Any) -> Any:
            result = method(backend, execution_arn, *args, **kwargs)
            for token in local._execution_tokens.pop(execution_arn.rsplit(":", 1)[-1], set()):
                with contextlib.suppress(Exception):  # the task may be long done
                    backend.send_task_failure(token, "ExecutionStopped", "the execution was stopped")
            return result

        return stop_execution

    def _join_execution_threads(self, timeout: float) -> None:
        """moto runs each execution in threads of its own; wait (bounded) for those this stack started. Only
        moto's: a thread the caller started meanwhile (a test's HTTP receiver) may live on, and waiting for it
        cost every such stop the whole timeout."""
        deadline = time.monotonic() + timeout
        for thread in set(threading.enumerate()) - self._threads_at_start:
            target = getattr(thread, "_target", None)  # threading.Thread's own attribute, gone once run() ends
            if thread is not threading.current_thread() and getattr(target, "__module__", "").startswith("moto."):
                thread.join(max(0.0, deadline - time.monotonic()))

    def _patch(self, patcher: Any) -> None:
        patcher.start()
        self._patches.append(patcher)

    def _written(self, change: Change) -> None:
        """A committed change (old image, new image, new item as plain JSON), reported from inside its item's lock."""
        old, new, plain = change
        if self._on_item_written is not None:
            self._on_item_written(plain)
        for mapping in self.stream_mappings:
            mapping.put(old, new)

    def settled(self) -> bool:
        """Nothing in flight: every stream record processed, every queue empty, no invocation running."""
        return all(m.idle() for m in self.stream_mappings) and all(m.idle() for m in self.queue_mappings)

    # --- resources from template.yaml ----------------------------------------------------------------------

    def _create_resources(self) -> None:
        template = self._template
        resolver = Resolver(
            refs={
                **self._parameters,
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": STACK_NAME,
            }
        )
        iam = boto3.client("iam", region_name=REGION)
        role_arn = iam.create_role(RoleName=f"{STACK_NAME}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

        for logical_id, resource in resources_of(template, "AWS::DynamoDB::Table").items():
            self.table_name = self._create_table(logical_id, resolver.resolve(resource["Properties"]))
            resolver.refs[logical_id] = self.table_name
            resolver.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.table_name}"
            resolver.attributes[(logical_id, "StreamArn")] = f"{resolver.attributes[(logical_id, 'Arn')]}/stream/local"

        queues = resources_of(template, "AWS::SQS::Queue")
        # Dead-letter queues first: a redrive policy names its target's ARN.
        for logical_id in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {})):
            url, arn = self._create_queue(logical_id, resolver.resolve(queues[logical_id].get("Properties", {})))
            resolver.refs[logical_id] = url
            resolver.attributes[(logical_id, "Arn")] = arn
            self.queue_urls[arn] = url

        for logical_id, resource in resources_of(template, "AWS::SecretsManager::Secret").items():
            resolver.refs[logical_id] = self._create_secret(logical_id, resolver.resolve(resource["Properties"]))

        authorizers: dict[str, Authorizer | None] = {}
        for logical_id, resource in resources_of(template, "AWS::Serverless::Api").items():
            resolver.refs[logical_id] = "local"
            authorizers[logical_id] = self._default_authorizer(resource["Properties"].get("Auth") or {}, resolver)
        for logical_id in resources_of(template, "AWS::Serverless::LayerVersion"):
            resolver.refs[logical_id] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{logical_id}:1"

        globals_ = template.get("Globals", {}).get("Function", {})
        for logical_id, resource in resources_of(template, "AWS::Serverless::Function").items():
            function = self._create_function(logical_id, resource["Properties"], globals_, role_arn)
            self.functions[logical_id] = function
            resolver.refs[logical_id] = function.name
            resolver.attributes[(logical_id, "Arn")] = function.arn
            self.routes.extend(self.routes_of(logical_id, resource["Properties"], authorizers))
            self._event_sources.extend(
                (logical_id, event["Type"], resolver.resolve(event["Properties"]))
                for event in (resource["Properties"].get("Events") or {}).values()
                if event["Type"] in ("DynamoDB", "SQS")
            )

        for logical_id, resource in resources_of(template, "AWS::Serverless::StateMachine").items():
            self.state_machine_arn = self._create_state_machine(resolver, resource["Properties"], role_arn)
            resolver.refs[logical_id] = self.state_machine_arn

        self.environment = self._environment(resolver, globals_)
        self._resolver = resolver

    def _create_table(self, logical_id: str, properties: dict[str, Any]) -> str:
        name = f"{STACK_NAME}-{logical_id}"
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        arguments = {
            k: properties[k]
            for k in ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
            if k in properties
        }
        if "StreamSpecification" in properties:
            arguments["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
        dynamodb.create_table(TableName=name, **arguments)
        if "TimeToLiveSpecification" in properties:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=properties["TimeToLiveSpecification"])
        return name

    def _create_queue(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, str]:
        attributes = {
            key: json.dumps(value) if isinstance(value, dict) else str(value)
            for key, value in properties.items()
            if key in ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy", "DelaySeconds")
        }
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName=f"{STACK_NAME}-{logical_id}", Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _create_secret(self, logical_id: str, properties: dict[str, Any]) -> str:
        generated = "GenerateSecretString" in properties
        value = secrets.token_urlsafe(48) if generated else properties["SecretString"]
        client = boto3.client("secretsmanager", region_name=REGION)
        return client.create_secret(Name=f"{STACK_NAME}-{logical_id}", SecretString=value)["ARN"]

    def _create_function(
        self, logical_id: str, properties: dict[str, Any], globals_: dict[str, Any], role_arn: str
    ) -> LocalFunction:
        name = f"{STACK_NAME}-{logical_id}"
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "# dispatched in-process by failover_local\n")
        handler = properties.get("Handler", globals_.get("Handler"))
        arn = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=name,
            Runtime=properties.get("Runtime", globals_.get("Runtime")),
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
        module, handler_name = handler.rsplit(".", 1)
        return LocalFunction(
            logical_id=logical_id,
            name=name,
            arn=arn,
            handler_path=ROOT / properties["CodeUri"] / f"{module.replace('.', '/')}.py",
            handler_name=handler_name,
            memory_mb=int(properties.get("MemorySize", globals_.get("MemorySize", 128))),
            timeout_s=int(properties.get("Timeout", globals_.get("Timeout", 3))),
            environment={},
        )

    @staticmethod
    def _default_authorizer(auth: dict[str, Any], resolver: Resolver | None = None) -> Authorizer | None:
        name = auth.get("DefaultAuthorizer")
        if not name:
            return None
        config = auth["Authorizers"][name]
        identity = config.get("Identity") or {}
        ttl = identity.get("ReauthorizeEvery", 300)
        return Authorizer(
            function=config["FunctionArn"]["Fn::GetAtt"][0],
            header=identity.get("Header", "Authorization"),
            ttl_seconds=int(resolver.resolve(ttl) if resolver else ttl),  # a parameter: AuthorizerCacheSeconds
        )

    @staticmethod
    def routes_of(
        logical_id: str, properties: dict[str, Any], authorizers: dict[str, Authorizer | None] | None = None
    ) -> list[Route]:
        routes = []
        for event in (properties.get("Events") or {}).values():
            if event["Type"] != "Api":
                continue
            spec = event["Properties"]
            api = (spec.get("RestApiId") or {}).get("Ref", "")
            public = (spec.get("Auth") or {}).get("Authorizer") == "NONE"
            authorizer = None if public else (authorizers or {}).get(api)
            routes.append(Route(spec["Method"].upper(), spec["Path"], logical_id, authorizer))
        return routes

    def _create_state_machine(self, resolver: Resolver, properties: dict[str, Any], role_arn: str) -> str:
        definition = (ROOT / properties["DefinitionUri"]).read_text()
        substitutions = resolver.resolve(properties.get("DefinitionSubstitutions", {}))
        definition = re.sub(r"\$\{(\w+)\}", lambda m: str(substitutions[m.group(1)]), definition)
        client = boto3.client("stepfunctions", region_name=REGION)
        return client.create_state_machine(
            name=resolver.resolve(properties["Name"]),
            definition=definition,
            roleArn=role_arn,
            type=properties.get("Type", "STANDARD"),
        )["stateMachineArn"]

    def _environment(self, resolver: Resolver, globals_: dict[str, Any]) -> dict[str, str]:
        """All functions share one process, so their variables must agree; local overrides come last."""
        shared = resolver.resolve(globals_.get("Environment", {}).get("Variables", {}))
        merged: dict[str, str] = {k: str(v) for k, v in shared.items()}
        for logical_id, resource in resources_of(self._template, "AWS::Serverless::Function").items():
            own = resolver.resolve(resource["Properties"].get("Environment", {}).get("Variables", {}))
            for key, value in own.items():
                if key in merged and merged[key] != str(value):
                    raise ValueError(f"{logical_id} sets {key} differently from another function")
                merged[key] = str(value)
            self.functions[logical_id].environment = {**shared, **own}
        merged.update(self._environment_overrides)
        return merged

    # --- Lambda, in-process ---------------------------------------------------------------------------------

    def _load_handler(self, function: LocalFunction) -> Callable[[dict[str, Any], Any], Any]:
        # Each function's app.py is loaded under its own module name, as Lambda loads it in its own sandbox.
        spec = importlib.util.spec_from_file_location(f"failover_fn_{function.logical_id}", function.handler_path)
        if spec is None or spec.loader is None:
            raise ImportError(function.handler_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, function.handler_name)

    def function_named(self, name_or_arn: str) -> LocalFunction:
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        for function in self.functions.values():
            if function.name == name or function.logical_id == name:
                return function
        raise KeyError(name_or_arn)

    def invoke(self, name_or_arn: str, event: dict[str, Any]) -> Any:
        """Call a function's handler directly, as Lambda would (raises what the handler raises)."""
        function = self.function_named(name_or_arn)
        function.invocations += 1
        context = LambdaContext(function.name, function.arn, function.memory_mb, function.timeout_s)
        assert function.handler is not None
        started = time.perf_counter()
        with self._running_changed:
            self._running += 1
        try:
            with iam_recorder.acting_as(function.logical_id):
                return function.handler(event, context)
        finally:
            function.durations.append(time.perf_counter() - started)
            with self._running_changed:
                self._running -= 1
                self._running_changed.notify_all()

    def _admit(self) -> None:
        """Wait (bounded) until at most ADMISSION_BUSY invocations are running: see ADMITTED_ROUTES."""
        with self._running_changed:
            self._running_changed.wait_for(lambda: self._running <= ADMISSION_BUSY, ADMISSION_WAIT)

    def _make_dispatch(self) -> Callable[..., bytes]:
        local = self

        def dispatch(backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any):
            event = json.loads(body or "{}")
            if isinstance(event, dict) and "taskToken" in event:
                local._task_tokens.add(event["taskToken"])
                if "trackingId" in event:
                    local._execution_tokens.setdefault(event["trackingId"], set()).add(event["taskToken"])
            try:
                result = local.invoke(function_name, event)
            except Exception as error:  # noqa: BLE001 - Lambda reports any handler error as a function error
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(
                    {
                        "errorType": type(error).__name__,
                        "errorMessage": str(error),
                        "stackTrace": traceback.format_exception(error),
                    }
                ).encode()
            return json.dumps(result).encode()

        return dispatch

    # --- event source mappings, in-process ----------------------------------------------------------------

    def _start_event_source_mappings(self) -> None:
        time_scale = float(self.environment.get("FAILOVER_TIME_SCALE", "1"))
        for function, kind, properties in self._event_sources:
            arn = self.functions[function].arn
            if kind == "DynamoDB":
                stream = StreamMapping(function, arn, properties, self.invoke, REGION, time_scale, self.faults)
                self.stream_mappings.append(stream)
                targets = [stream.run]  # one reader per shard keeps the order of the writes
            else:
                sqs = QueueMapping(function, properties, self.queue_urls[properties["Queue"]], self.invoke, self.faults)
                self.queue_mappings.append(sqs)
                targets = [sqs.run]  # one long-polling receiver, up to 4 invocations at once
            for n, target in enumerate(targets):
                thread = threading.Thread(target=target, name=f"{kind}-{function}-{n}", daemon=True)
                thread.start()
                self._mapping_threads.append(thread)

    # --- API Gateway, in-process ---------------------------------------------------------------------------

    def _authorize(
        self, authorizer: Authorizer, headers: dict[str, str], method: str, path: str, stage: str | None
    ) -> tuple[int, dict[str, Any] | None]:
        """API Gateway's TOKEN authorizer → (status, context): 200 with the policy's context, else 401/403/500.

        No header: 401 without a call. The error "Unauthorized": 401, not cached. Any other error: 500.
        A policy (Allow or Deny) is cached per token for ReauthorizeEvery seconds.
        """
        token = next((v for k, v in headers.items() if k.lower() == authorizer.header.lower()), "")
        if not token:
            return 401, None
        key, now = (authorizer.function, token), time.monotonic()
        cached = self._authorizer_cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            policy = self.invoke(authorizer.function, token_event(authorizer, token, method, path, stage))
        except Exception as error:  # noqa: BLE001 - mapped as API Gateway maps authorizer errors
            if str(error) == "Unauthorized":
                return 401, None
            traceback.print_exc()
            return 500, None
        allowed = any(s["Effect"] == "Allow" for s in policy["policyDocument"]["Statement"])
        context = {**(policy.get("context") or {}), "principalId": policy["principalId"]}
        answer = (200, context) if allowed else (403, None)
        self._authorizer_cache[key] = (now + authorizer.ttl_seconds, answer)
        return answer

    def handle_http(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None, query: str = ""
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request through the API's routes to the handler, as API Gateway's proxy integration does."""
        found = match_route(self.routes, method, path)
        if found is None:
            return 403, {"Content-Type": "application/json"}, b'{"message":"Missing Authentication Token"}'
        route, parameters = found
        self.http_requests[(route.method, route.path)] += 1
        stage = self._parameters.get("StageName")
        context = None
        if route.authorizer is not None:
            status, context = self._authorize(route.authorizer, headers, method, path, stage)
            if status != 200:
                return status, {"Content-Type": "application/json"}, _AUTHORIZER_ANSWERS[status]
        event = proxy_event(route, method, path, parameters, headers, body, query, stage, context)
        if (route.method, route.path) in ADMITTED_ROUTES:
            self._admit()
        try:
            result = self.invoke(route.function, event)  # at once with others: see router_state_per_thread
        except Exception:  # noqa: BLE001 - API Gateway answers 502 when the integration fails
            traceback.print_exc()
            return 502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}'
        return http_response(result)


def local_applications() -> dict[str, str]:
    """FAILOVER_LOCAL_APPS: comma-separated id:secret pairs (default local-app:local-secret)."""
    spec = os.environ.get("FAILOVER_LOCAL_APPS") or "local-app:local-secret"
    pairs = [item.strip().split(":", 1) for item in spec.split(",") if item.strip()]
    if any(len(pair) != 2 or not all(pair) for pair in pairs):
        raise ValueError("FAILOVER_LOCAL_APPS: comma-separated applicationId:secret pairs")
    return dict(pairs)
