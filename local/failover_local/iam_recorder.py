"""Records, per function of the local stack, every AWS API call its code makes, as the IAM requests AWS would
authorize: (action, resource). failover_local.iam_check compares the recording with each role of the transformed
template.

Attribution: the local runtime runs every function in one process, so the function "acting" is a ContextVar that
LocalAws.invoke sets around each invocation (a thread started inside inherits nothing; the product starts none).
moto's Step Functions runs the state machine's Lambda tasks in threads of its own: those invocations act as the
state machine, whose role needs lambda:InvokeFunction.

The hook is botocore's event system: every client, whichever session made it, gets a `before-parameter-build`
handler, which sees the operation and the caller's parameters before anything is sent.

For the recording to be true, nothing that saves an AWS call may be shared between functions (a Lambda sandbox
shares nothing): Powertools' parameter providers (which cache secrets) and the channel provider instances are kept
per function here (`_isolate_caches`), and a function does not see the variables that template.yaml gives only to
other functions (`isolate_environments`).

Dev-only (never shipped in a Lambda artifact).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

import botocore.session

ACTING: ContextVar[str | None] = ContextVar("failover_local_acting", default=None)


@contextlib.contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Attribute the AWS calls made inside to `principal` (a function's or the state machine's logical id)."""
    token = ACTING.set(principal)
    try:
        yield
    finally:
        ACTING.reset(token)


@dataclass(frozen=True)
class Call:
    principal: str  # logical id of a function or of the state machine
    action: str  # IAM action, e.g. dynamodb:ConditionCheckItem
    resource: str  # the ARN the request names ("*" if none); iam_check authorizes it as IAM does
    stack: int  # which LocalAws (its resolved values) the resource belongs to


@dataclass
class StackValues:
    """What a LocalAws resolved each logical id to: policies are resolved with the same values."""

    refs: dict[str, Any]
    attributes: dict[tuple[str, str], Any]
    region: str
    account: str


# Actions whose IAM name is not the API operation's name.
_ACTION_NAMES = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeAsync"): "InvokeFunction"}
# DynamoDB items of a transaction: each is authorized as its own action (DynamoDB Developer Guide, "Using IAM with
# DynamoDB transactions": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html)
_TRANSACT_ITEMS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@dataclass
class IamRecorder:
    # One Counter per recording thread, merged on reading: a call records without a process-wide lock (under
    # load, every AWS call of every function queued on one).
    _per_thread: list[Counter[Call]] = field(default_factory=list)
    _local: threading.local = field(default_factory=threading.local)
    stacks: list[StackValues] = field(default_factory=list)
    state_machines: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _installed: bool = False

    # --- setup ---------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Hook every botocore client made from now on (idempotent, process-wide; records only while acting)."""
        with self._lock:
            if self._installed:
                return
            self._installed = True
        recorder = self
        create_client = botocore.session.Session.create_client

        @wraps(create_client)
        def hooked(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = create_client(session, *args, **kwargs)
            region = client.meta.region_name or ""
            client.meta.events.register(
                "before-parameter-build",
                lambda params, model, **_: recorder._before_parameter_build(region, model, params),
            )
            return client

        botocore.session.Session.create_client = hooked  # type: ignore[method-assign]
        _act_as_state_machine_in_moto(self)
        _isolate_caches()

    def stack_started(self, refs: dict[str, Any], attributes: dict[tuple[str, str], Any], region: str, account: str):
        with self._lock:
            self.stacks.append(StackValues(dict(refs), dict(attributes), region, account))

    def record(self, principal: str, action: str, resource: str) -> None:
        counter = getattr(self._local, "calls", None)
        if counter is None:
            counter = self._local.calls = Counter()
            with self._lock:
                self._per_thread.append(counter)
        counter[Call(principal, action, resource, len(self.stacks) - 1)] += 1

    @property
    def calls(self) -> Counter[Call]:
        """Every call recorded so far, with how many times."""
        with self._lock:
            counters = list(self._per_thread)
        merged: Counter[Call] = Counter()
        for counter in counters:
            while True:
                try:
                    merged.update(dict(counter))  # a copy: its thread may be adding to it
                    break
                except RuntimeError:  # it grew during the copy: copy again
                    continue
        return merged

    # --- the hook ------------------------------------------------------------------------------------------

    def _before_parameter_build(self, region: str, model: Any, params: dict[str, Any]) -> None:
        principal = ACTING.get()
        if principal is None or not self.stacks:
            return  # test code, the local runtime itself, or moto: not a function's call
        stack = self.stacks[-1]
        for action, resource in iam_requests(model.service_model.signing_name, model.name, params, region, stack):
            self.record(principal, action, resource)


RECORDER = IamRecorder()


def iam_requests(
    service: str, operation: str, params: dict[str, Any], region: str, stack: StackValues
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one API call is authorized as."""
    account = stack.account
    if service == "dynamodb":
        return _dynamodb_requests(operation, params, region, account)
    action = f"{service}:{_ACTION_NAMES.get((service, operation), operation)}"
    return [(action, _resource_of(service, params, region, account, stack))]


def _table_arn(name_or_arn: str, region: str, account: str) -> str:
    return name_or_arn if name_or_arn.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name_or_arn}"


def _dynamodb_requests(operation: str, params: dict[str, Any], region: str, account: str) -> list[tuple[str, str]]:
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{_TRANSACT_ITEMS[kind]}", _table_arn(body["TableName"], region, account))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if operation == "TransactGetItems":
        return [
            ("dynamodb:GetItem", _table_arn(item["Get"]["TableName"], region, account))
            for item in params.get("TransactItems", [])
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        # Authorized as the batch action on each table it names (Service Authorization Reference, DynamoDB).
        return [(f"dynamodb:{operation}", _table_arn(t, region, account)) for t in params.get("RequestItems", {})]
    if "StreamArn" in params:
        return [(f"dynamodb:{operation}", params["StreamArn"])]
    if "TableName" not in params:
        return [(f"dynamodb:{operation}", "*")]
    arn = _table_arn(params["TableName"], region, account)
    if params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", arn)]


def _resource_of(service: str, params: dict[str, Any], region: str, account: str, stack: StackValues) -> str:
    if "QueueUrl" in params:
        return f"arn:aws:sqs:{region}:{account}:{urlsplit(params['QueueUrl']).path.rstrip('/').rsplit('/', 1)[-1]}"
    if "SecretId" in params:
        secret = params["SecretId"]
        if secret.startswith("arn:"):
            return secret
        for value in stack.refs.values():  # a name: the stack's secret of that name
            if isinstance(value, str) and value.startswith("arn:aws:secretsmanager:") and f":secret:{secret}-" in value:
                return value
        return f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}"
    if "FunctionName" in params:
        name = params["FunctionName"]
        return name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    for key in ("executionArn", "stateMachineArn", "activityArn", "ResourceArn", "resourceArn"):
        if key in params:
            return params[key]
    return "*"


def has_resource_level_permissions(action: str) -> bool:
    """False when the Service Authorization Reference lists no resource type for the action: it is authorized
    against "*" only (states:SendTaskSuccess is one). The catalogue is policy_sentry's copy of that reference."""
    return bool(_resource_formats(action) - {"*"})


def action_exists(action: str) -> bool:
    return bool(_resource_formats(action))


_formats_cache: dict[str, set[str]] = {}


def _resource_formats(action: str) -> set[str]:
    if action not in _formats_cache:
        from policy_sentry.querying.actions import get_action_data

        service, name = action.split(":", 1)
        rows = (get_action_data(service, name) or {}).get(service, [])
        _formats_cache[action] = {row["resource_arn_format"] for row in rows if row["action"].lower() == action.lower()}
    return _formats_cache[action]


# --- moto and caches --------------------------------------------------------------------------------------


def _act_as_state_machine_in_moto(recorder: IamRecorder) -> None:
    """moto runs a Task state's Lambda call in its execution thread: that call is the state machine's."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    invoke = lambda_eval_utils.execute_lambda_function_integration

    @wraps(invoke)
    def as_state_machine(*args: Any, **kwargs: Any) -> Any:
        if len(recorder.state_machines) != 1:
            return invoke(*args, **kwargs)
        with acting_as(next(iter(recorder.state_machines))):
            return invoke(*args, **kwargs)

    lambda_eval_utils.execute_lambda_function_integration = as_state_machine


class PerPrincipal(MutableMapping[str, Any]):
    """A dict per acting function (one more for code acting as nobody): what one sandbox would hold."""

    def __init__(self, initial: dict[str, Any] | None = None):
        self._maps: dict[str | None, dict[str, Any]] = {None: dict(initial or {})}

    def _map(self) -> dict[str, Any]:
        return self._maps.setdefault(ACTING.get(), {})

    def __getitem__(self, key: str) -> Any:
        return self._map()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._map()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._map()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())

    def clear(self) -> None:
        """Forgetting (providers.forget_instances) forgets in every sandbox."""
        for mapping in self._maps.values():
            mapping.clear()

    def pop(self, key: str, *default: Any) -> Any:
        """So does re-registering a provider (providers.register)."""
        found = [mapping.pop(key) for mapping in self._maps.values() if key in mapping]
        if found:
            return found[-1]
        if default:
            return default[0]
        raise KeyError(key)


class _ProviderPerPrincipal:
    """Stands in DEFAULT_PROVIDERS for one Powertools parameter provider: each function gets its own instance,
    so a secret that one function fetched is not served to another from cache (that call would go unrecorded)."""

    def __init__(self, factory: Callable[[], Any]):
        self._factory = factory
        self._instances: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def _instance(self) -> Any:
        with self._lock:
            principal = ACTING.get()
            if principal not in self._instances:
                self._instances[principal] = self._factory()
            return self._instances[principal]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._instance(), name)


def _isolate_caches() -> None:
    from aws_lambda_powertools.utilities.parameters import base
    from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.ssm import SSMProvider

    from failover import providers

    base.DEFAULT_PROVIDERS.clear()
    base.DEFAULT_PROVIDERS["secrets"] = _ProviderPerPrincipal(SecretsProvider)
    base.DEFAULT_PROVIDERS["ssm"] = _ProviderPerPrincipal(SSMProvider)
    providers._instances = PerPrincipal(providers._instances)  # noqa: SLF001 - the local runtime's sandbox emulation


class _SandboxedEnviron(os._Environ):  # noqa: SLF001 - the same store as os.environ, read per acting function
    """os.environ, except that a function does not see the variables template.yaml gives only to others.

    Writes and everything else go to the one process environment; only reads are filtered. Code that imported
    `environ` from os before the stack started keeps the unfiltered object.
    """

    def __init__(self, real: os._Environ[str]):  # noqa: SLF001
        super().__init__(real._data, real.encodekey, real.decodekey, real.encodevalue, real.decodevalue)  # noqa: SLF001
        self.hidden: dict[str, frozenset[str]] = {}  # function → variables only other functions have

    def _hides(self, key: str) -> bool:
        principal = ACTING.get()
        return principal is not None and key in self.hidden.get(principal, frozenset())

    def __getitem__(self, key: str) -> str:
        if self._hides(key):
            raise KeyError(key)
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        return (key for key in super().__iter__() if not self._hides(key))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self.items())


def isolate_environments(own_variables: dict[str, set[str]]) -> None:
    """own_variables: function → the names of its variables (Globals' and its own). From now on, while a function
    acts, os.environ hides the names that only other functions have."""
    if not isinstance(os.environ, _SandboxedEnviron):
        os.environ = _SandboxedEnviron(os.environ)  # noqa: B003 - the same store, read per function
    everyone = set.intersection(*own_variables.values()) if own_variables else set()
    someone = set().union(*own_variables.values()) if own_variables else set()
    os.environ.hidden = {function: frozenset(someone - everyone - names) for function, names in own_variables.items()}
