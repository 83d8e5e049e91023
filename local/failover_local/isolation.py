"""What a Lambda sandbox keeps per invocation, kept per thread here: the local runtime runs invocations at once,
in threads of one process (failover_local.aws). Environment variables and caches that would save an AWS call are
kept per function by failover_local.iam_recorder.

Dev-only (never shipped in a Lambda artifact).
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Callable
from typing import Any


class _PerThread:
    """An attribute whose value belongs to the thread that set it (reads from an instance or the class)."""

    def __init__(self, name: str, state: threading.local, default: Callable[[], Any] | None = None):
        self._name, self._state, self._default = name, state, default

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        try:
            return getattr(self._state, self._name)
        except AttributeError:
            if self._default is None:
                raise AttributeError(self._name) from None
            setattr(self._state, self._name, self._default())
            return getattr(self._state, self._name)

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(self._state, self._name, value)


_ROUTER_STATE = ("current_event", "lambda_context", "context")


def router_state_per_thread() -> None:
    """Powertools' Event Handler keeps an invocation's state where concurrent invocations would share it: the
    current event and Lambda context as class attributes of BaseRouter (`BaseRouter.current_event = ...`), the
    route's context on the resolver instance. In Lambda a sandbox serves one invocation at a time; here API
    requests run at once, each in its own thread, so each thread gets its own: a descriptor in BaseRouter (reads
    and instance writes, through any resolver) and the same one on its metaclass (writes to BaseRouter itself).
    Idempotent."""
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    if all(isinstance(vars(BaseRouter).get(name), _PerThread) for name in _ROUTER_STATE):
        return
    state = threading.local()
    slots = {name: _PerThread(name, state, dict if name == "context" else None) for name in _ROUTER_STATE}
    for name, slot in slots.items():
        setattr(BaseRouter, name, slot)  # before the metaclass changes: this puts the descriptor in the class
    BaseRouter.__class__ = type("PerThreadRouterMeta", (type(BaseRouter),), dict(slots))


class _PerThreadLogFormat:
    """LambdaPowertoolsFormatter.log_format (the keys every log line carries: function_name, request id, ...),
    one per thread. The first value a formatter gets (its keys at init, and the keys the importing code appends)
    is the base; each other thread starts from a copy of it."""

    def __init__(self) -> None:
        self._base: dict[int, dict[str, Any]] = {}
        self._local = threading.local()

    def __get__(self, formatter: Any, owner: Any = None) -> Any:
        if formatter is None:
            return self
        try:
            return self._local.formats[id(formatter)]
        except (AttributeError, KeyError):
            pass
        mine = self._local.__dict__.setdefault("formats", {})
        key = id(formatter)
        base = self._base.get(key)
        if base is None:  # a formatter made before the install: its own attribute is the base
            base = self._base.setdefault(key, vars(formatter).get("log_format", {}))
        mine[key] = base if threading.current_thread() is threading.main_thread() else dict(base)
        return mine[key]

    def __set__(self, formatter: Any, value: Any) -> None:
        self._base.setdefault(id(formatter), value)
        self._local.__dict__.setdefault("formats", {})[id(formatter)] = value


def condition_builders_per_thread() -> None:
    """boto3's DynamoDB client numbers a condition's placeholders (#n0, :v0) with one ConditionExpressionBuilder
    per client, reset at each call: two threads calling through one client at once mix their placeholders (a
    valid Query answered "Query condition missed key schema element"). A Lambda sandbox never calls at once;
    here functions share clients across threads, so each thread gets its own builder. Idempotent."""
    from boto3.dynamodb.conditions import ConditionExpressionBuilder
    from boto3.dynamodb.transform import TransformationInjector

    if not isinstance(vars(TransformationInjector).get("_condition_builder"), _PerThread):
        TransformationInjector._condition_builder = _PerThread(  # noqa: SLF001
            "condition_builder", threading.local(), ConditionExpressionBuilder
        )


def log_keys_per_thread() -> None:
    """Powertools' Logger keeps its keys on its formatter, one per logger; the product's functions share one
    logger (failover.observability), and inject_lambda_context appends each invocation's function name and
    request id to it. One invocation at a time per process in Lambda; here invocations run at once in threads,
    so each thread keeps its own keys, and every log line names the function that wrote it. Idempotent."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    if not isinstance(vars(LambdaPowertoolsFormatter).get("log_format"), _PerThreadLogFormat):
        LambdaPowertoolsFormatter.log_format = _PerThreadLogFormat()  # type: ignore[assignment]


class _PerThreadAttribute:
    """An instance attribute whose value belongs to the thread that set it. The instance's first value (its
    __init__'s) stays in the instance; a thread that reads before it sets starts from a copy of that value."""

    def __init__(self, name: str):
        self._name = name
        self._local = threading.local()

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        try:
            held, value = self._local.values[id(instance)]  # (weak reference to the instance, value)
            if held() is instance:
                return value
        except (AttributeError, KeyError):
            pass
        try:
            first = vars(instance)[self._name]
        except KeyError:
            raise AttributeError(self._name) from None
        value = copy.copy(first)
        self._local.__dict__.setdefault("values", {})[id(instance)] = (weakref.ref(instance), value)
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        vars(instance).setdefault(self._name, value)
        self._local.__dict__.setdefault("values", {})[id(instance)] = (weakref.ref(instance), value)


def _per_thread(cls: type, *names: str) -> None:
    for name in names:
        if not isinstance(vars(cls).get(name), _PerThreadAttribute):
            setattr(cls, name, _PerThreadAttribute(name))


# What one invocation writes on objects that a handler module builds once, at import.
_BATCH_STATE = (
    "records",
    "handler",
    "lambda_context",
    "_handler_accepts_lambda_context",
    "success_messages",
    "fail_messages",
    "exceptions",
    "batch_response",
)


def isolate_invocation_state() -> None:
    """A handler module builds its objects once per sandbox, and a sandbox serves one invocation at a time, so
    some objects keep the current invocation's state on themselves. Here one function's module serves
    invocations at once, in threads (an SQS mapping runs up to 4, the state machine runs SendStep for every
    flow), so that state is kept per thread:
    - Powertools' BatchProcessor: the batch's records, successes, failures and response (process_partial_response
      on the module's one processor). Shared, one invocation's _prepare cleared another's failures, and its
      records were reported as processed: SQS would delete them.
    - the invocation's Lambda context bound by FailoverService.bind_invocation (a send's retry budget), by
      IdempotentCalls and by Powertools' IdempotencyConfig (when an in-progress key stops blocking).
    And Powertools' Logger marks cold_start from one module global, so only the process's first invocation was
    cold; here each function's first invocation is, as in its own sandbox. The descriptors are installed once;
    each call starts every function cold again (a new LocalAws loads new handler modules)."""
    from aws_lambda_powertools.logging import logger as powertools_logger
    from aws_lambda_powertools.utilities.batch.base import BasePartialProcessor
    from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig

    from failover.idempotency import IdempotentCalls
    from failover.service import FailoverService
    from failover_local.iam_recorder import ACTING

    _per_thread(BasePartialProcessor, *_BATCH_STATE)
    _per_thread(FailoverService, "_context")
    _per_thread(IdempotentCalls, "_context")
    _per_thread(IdempotencyConfig, "lambda_context")

    warm: set[str | None] = set()

    def is_cold_start() -> bool:
        principal = ACTING.get()
        if principal in warm:
            return False
        warm.add(principal)  # two first invocations at once are both cold, as two new sandboxes would be
        return True

    powertools_logger._is_cold_start = is_cold_start  # noqa: SLF001 - read by Logger.inject_lambda_context
