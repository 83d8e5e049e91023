"""Every patch the local stack applies to moto, each with what moto does and why we differ.

1. Atomicity per item (DynamoDB). moto checks a condition and then writes, in two steps, with no lock; DynamoDB
   does both atomically for each item. We lock per item, so independent writers (two flows, or two messages of
   one flow) really interleave, while the race on one item is decided as DynamoDB decides it. A transaction
   takes the locks of all its items, in a sorted order (no deadlock). Reads see whole items: a Query of one
   partition excludes that partition's writers; a Query of an index (or a Scan) excludes the table's writers.
2. TransactWriteItems (DynamoDB). moto deep-copies every table a transaction names, once per item, to roll back
   on a cancellation: the whole table, on every transaction (issue 14). We remember the items the transaction
   touches, and restore those.
3. Faults (DynamoDB, Step Functions), only with a FaultPlan: see failover_local.faults.
4. Stream records (DynamoDB). moto keeps a stream but runs no event source mapping from it here; we report each
   committed change (old and new image) from inside its item's lock, so that the stream's order per item is the
   order of the writes, as in DynamoDB Streams.
5. ReceiveMessage (SQS). moto picks and hides messages without a lock, so two concurrent receivers of one queue
   (the local SQS mapping runs four) can both get the same message at once. SQS hides a received message from
   other receivers; its rarer duplicates are the fault mode's `sqs_redeliver`. We receive one at a time per queue.
6. Instance tracking (all services). moto's BaseModel.__new__ appends every model object it ever creates to a
   class-level list, for its /moto-api dashboard; none is ever freed, so memory grows with every item written
   (issue 14). The local stack never reads that list: we create models without tracking them.
7. Stream shard (DynamoDB). moto appends every write of a table with a stream to that table's shard, forever
   (DynamoDB Streams keeps records 24 hours). Our stream mapping is fed by patch 4, not by moto's shard, and
   nothing reads the shard here: we drop its records. (tests/unit/test_recapture.py reads a shard on plain moto.)
8. Task clients (Step Functions). moto's interpreter builds a new boto3 Lambda client for every Task state it
   runs (tens of milliseconds and a few MB of garbage each); a client is thread-safe: we build one per region
   and mode (in-process or server) and reuse it. Each call still goes through botocore's hooks, so the IAM
   recorder sees every invocation.
9. JSONPath (Step Functions). moto's interpreter parses every JSONPath (InputPath, Parameters, ResultPath,
   SecondsPath, ...) again at every evaluation; the definition's paths are few and fixed: we cache the parses.
10. Finished executions (Step Functions). moto keeps every execution, with its history, forever, and finds a
   task token by scanning all of them: memory and the cost of each SendTaskSuccess grow with every flow run.
   We drop executions that finished more than EXECUTION_RETENTION seconds ago (AWS keeps them 90 days; the
   local stack's readers, tests and the benchmark, read a history right after its flow ends). A pruned name is
   still refused by StartExecution with ExecutionAlreadyExists, as AWS refuses a reused name.

11. Backend lookups (all services). moto takes one process-wide lock (`backend_lock`) on every lookup of a
   service's backend, to create an account's backends on first use: every request of every thread queues on it,
   and under load the queue is most of a call's time. We look the account up without the lock when it already
   exists, and take moto's path (with its lock) only to create it.
12. A Query of one partition (DynamoDB). moto's Table.query gathers every item of the table (`all_items`,
   sorted) and then keeps the partition's: the cost of every Query grows with the table, so with every flow run.
   And all_items iterates the table's live dicts while writers to other partitions (which patch 1 lets run)
   add keys to them, and even a read adds one (`items` is a defaultdict): "dictionary changed size during
   iteration". We give a partition's Query only that partition's items, and every all_items a snapshot of
   the dicts (each copied by one C call, which the GIL does not interrupt).
13. State machine programs (Step Functions). moto parses the definition (an ANTLR grammar) at the start of
   every execution: 8 % of the local stack's CPU under load. The parsed program holds no execution's state (its
   components keep none; each execution evaluates it in an Environment of its own): we parse each definition
   once and share the program.
14. DynamoDB responses. moto serializes each result by walking the operation's output shape in Python: 15 % of
   the local stack's CPU under load. A data-plane result (GetItem, Query, UpdateItem, ...) is already in the
   wire format, so we encode it as JSON directly, as the shape walk would (members of the output shape only,
   no nulls, binary as base64); tests/unit/test_moto_patches.py checks both encodings agree.
15. Update expressions (DynamoDB). moto parses an UpdateItem's expression twice per call (to list its
   placeholders, then to run it), with a tokenizer and parser written in Python; the product's expressions are a
   few fixed strings. We parse each string once: the AST is read to list placeholders, and the validator that
   runs an update works on a deep copy of it (`Validator.__init__`), so the shared AST is never changed.
16. Closed tasks (Step Functions). moto accepts SendTaskSuccess (or SendTaskFailure) again for a task it has
   already completed, while its execution runs on; Step Functions answers TaskTimedOut, "the task associated
   with the token has already been closed"
   (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html). We remember each
   token a call completed (some 100 bytes a task) and refuse it again, so the product's handling of that answer
   runs locally as it does in AWS. Two calls at once: one completes the task, the other is refused.

SQS long polling uses moto's own queue condition (wait_for_messages below): no patch.

The patches are written against the moto versions in TESTED_MOTO; start() refuses another version, and
tests/unit/test_moto_patches.py fails when the source of any patched moto function changes.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import importlib.metadata
import inspect
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.core.base_backend import BackendDict
from moto.core.common_models import BaseModel
from moto.core.exceptions import AWSError
from moto.core.models import botocore_stubber
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.parsing.validators import Validator
from moto.sqs.models import SQSBackend, sqs_backends
from moto.stepfunctions.exceptions import ExecutionAlreadyExists
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from failover_local import faults as fault_errors
from failover_local.faults import FaultPlan

Change = tuple[dict[str, Any] | None, dict[str, Any], dict[str, Any]]  # old image, new image, new item (plain JSON)
ChangeObserver = Callable[[Change], None]

_ITEM_WRITES = ("put_item", "update_item", "delete_item")
TESTED_MOTO = ((5, 2, 5), (5, 3))  # from, up to but not including; also pyproject.toml's range
EXECUTION_RETENTION = float(os.environ.get("FAILOVER_LOCAL_EXECUTION_RETENTION", "120"))  # seconds after the end


# The moto code each patch replaces or relies on (patch numbers as above): moto_changes() fingerprints them.
def _patched_moto() -> dict[str, Callable[..., Any]]:
    from moto.sqs.models import Queue

    return {
        "1,2,4 DynamoDBBackend.get_item": DynamoDBBackend.get_item,
        "1,2,4 DynamoDBBackend.query": DynamoDBBackend.query,
        "1,2,4 DynamoDBBackend.scan": DynamoDBBackend.scan,
        "1,2,4 DynamoDBBackend.put_item": DynamoDBBackend.put_item,
        "1,2,4 DynamoDBBackend.update_item": DynamoDBBackend.update_item,
        "1,2,4 DynamoDBBackend.delete_item": DynamoDBBackend.delete_item,
        "2 DynamoDBBackend.transact_write_items": DynamoDBBackend.transact_write_items,
        "3,10 StepFunctionsParserBackend.start_execution": StepFunctionsParserBackend.start_execution,
        "3,16 StepFunctionsParserBackend.send_task_success": StepFunctionsParserBackend.send_task_success,
        "16 StepFunctionsParserBackend.send_task_failure": StepFunctionsParserBackend.send_task_failure,
        "5 SQSBackend.receive_message": SQSBackend.receive_message,
        "long poll Queue.add_message": Queue.add_message,
        "long poll Queue.wait_for_messages": Queue.wait_for_messages,
        "6 BaseModel.__new__": BaseModel.__new__,
        "11 BackendDict._create_account_specific_backend": BackendDict._create_account_specific_backend,  # noqa: SLF001
        "7 StreamShard.add": StreamShard.add,
        "12 Table.all_items": Table.all_items,
        "13 ExecutionWorker._get_evaluation_entrypoint": ExecutionWorker._get_evaluation_entrypoint,
        "15 UpdateExpressionParser.make": UpdateExpressionParser.make,
        "15 Validator.__init__": Validator.__init__,
        "14 BaseJSONSerializer._serialized_result_to_response": BaseJSONSerializer._serialized_result_to_response,
        "14 ResponseSerializer._serialize_result": BaseJSONSerializer._serialize_result,
        "12 Table.query": Table.query,
        "8 boto_client_for": boto_client.boto_client_for,
        "8 lambda_eval_utils.exec_lambda_function": lambda_eval_utils.exec_lambda_function,
        "9 json_path.extract_json": json_path.extract_json,
        "9 ResultPath._eval_body": result_path.ResultPath._eval_body,  # noqa: SLF001
        "10 StepFunctionBackend.describe_execution": StepFunctionBackend.describe_execution,
    }


def fingerprint(function: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def moto_changes(expected: dict[str, str]) -> list[str]:
    """The patched moto functions whose source differs from `expected` (name → fingerprint)."""
    current = {name: fingerprint(function) for name, function in _patched_moto().items()}
    return sorted(name for name in current.keys() | expected.keys() if current.get(name) != expected.get(name))


def check_moto_version() -> str:
    version = importlib.metadata.version("moto")
    numbers = tuple(int(part) for part in version.split(".")[:3] if part.isdigit())
    if not TESTED_MOTO[0] <= numbers < TESTED_MOTO[1]:
        tested = "-".join(".".join(map(str, bound)) for bound in TESTED_MOTO)
        raise RuntimeError(
            f"moto {version} is outside the range failover_local.moto_patches was tested with ({tested}, excluded): "
            "re-read each patch against the new moto, then widen TESTED_MOTO and pyproject.toml"
        )
    return version


def wait_for_messages(queue_url: str, timeout: float, stopping: Callable[[], bool]) -> None:
    """Block until the queue has a visible message, `stopping()` is true (after wake()), or `timeout` passes:
    a long poll on moto's own condition, which SendMessage notifies."""
    queue = _queue(queue_url)
    if queue is None:
        time.sleep(min(timeout, 0.05))
        return
    with queue._messages_lock:  # noqa: SLF001 - moto's condition for its own long polling
        queue._messages_lock.wait_for(lambda: stopping() or queue.messages, timeout)  # noqa: SLF001


def wake(queue_url: str) -> None:
    """Wake the pollers waiting on a queue (to see that they are stopping)."""
    queue = _queue(queue_url)
    if queue is not None:
        with queue._messages_lock:  # noqa: SLF001
            queue._messages_lock.notify_all()  # noqa: SLF001


def _queue(queue_url: str) -> Any:
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    for account in list(sqs_backends.keys()):
        for backend in list(sqs_backends[account].values()):
            if name in backend.queues:
                return backend.queues[name]
    return None


class SharedExclusiveLock:
    """Many holders in shared mode, or one in exclusive mode; a waiting exclusive holder goes first."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting_exclusive = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive and not self._waiting_exclusive)
            self._shared += 1
        try:
            yield
        finally:
            with self._condition:
                self._shared -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._waiting_exclusive += 1
            self._condition.wait_for(lambda: not self._exclusive and not self._shared)
            self._waiting_exclusive -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


class MotoPatches:
    """Patches 1 to 16 on moto's backends; start() applies them, stop() removes them."""

    def __init__(self, on_change: ChangeObserver | None = None, faults: FaultPlan | None = None):
        self._on_change = on_change
        self._faults = faults
        self._guard = threading.Lock()
        self._tables: dict[str, SharedExclusiveLock] = {}
        self._partitions: dict[tuple[str, str], SharedExclusiveLock] = {}
        self._items: dict[tuple[str, str, str], threading.Lock] = {}
        self._transactional: set[tuple[str, str, str]] = set()  # items some transaction has written
        self._inside = threading.local()  # a patched call in progress on this thread: nested calls go straight in
        self._patchers: list[Any] = []
        self._executions_guard = SharedExclusiveLock()
        self._pruned: set[str] = set()  # ARNs of executions dropped by patch 10
        self._pruned_at = 0.0

    def start(self) -> MotoPatches:
        check_moto_version()
        originals = {name: getattr(DynamoDBBackend, name) for name in ("get_item", "query", "scan", *_ITEM_WRITES)}
        for name, method in originals.items():
            self._patch(DynamoDBBackend, name, self._wrap(name, method))
        self._patch(DynamoDBBackend, "transact_write_items", self._transact_write_items(originals))
        self._patch(SQSBackend, "receive_message", self._one_receiver_at_a_time(SQSBackend.receive_message))
        closed: set[str] = set()  # patch 16: task tokens a call completed, under one lock for both calls
        closing = threading.Lock()
        for name in ("send_task_success", "send_task_failure"):
            method = getattr(StepFunctionsParserBackend, name)
            self._patch(StepFunctionsParserBackend, name, _closing_once(method, closed, closing))
        if self._faults is not None:  # whichever backend runs executions (moto's parser, or its plain one)
            for backend in (StepFunctionBackend, StepFunctionsParserBackend):
                for name in ("send_task_success", "start_execution"):
                    if name in vars(backend):
                        self._patch(backend, name, self._sfn_faults(getattr(backend, name)))
        self._patch(BaseModel, "__new__", staticmethod(_untracked_new))
        self._patch(BackendDict, "_create_account_specific_backend", _existing_or_created(BackendDict))
        self._patch(StreamShard, "add", _drop_stream_record)
        partition_scope = threading.local()
        self._patch(Table, "all_items", _snapshot_items(partition_scope))
        self._patch(Table, "query", _scoped_query(Table.query, partition_scope))
        entrypoint = ExecutionWorker._get_evaluation_entrypoint
        self._patch(ExecutionWorker, "_get_evaluation_entrypoint", _parsed_once(entrypoint))
        self._patch(UpdateExpressionParser, "make", classmethod(_parsed_expression(UpdateExpressionParser.make)))
        serialize_result = BaseJSONSerializer._serialize_result
        self._patch(BaseJSONSerializer, "_serialize_result", _plain_dynamodb_result(serialize_result))
        self._patch(lambda_eval_utils, "boto_client_for", _reused_client(boto_client.boto_client_for))
        self._patch(json_path, "parse", _cached_parse(json_path.parse))
        self._patch(result_path, "parse", _cached_parse(result_path.parse))
        start_execution = StepFunctionsParserBackend.start_execution
        self._patch(StepFunctionsParserBackend, "start_execution", self._pruning(start_execution))
        return self

    def stop(self) -> None:
        for patcher in reversed(self._patchers):
            patcher.stop()
        self._patchers.clear()

    def __enter__(self) -> MotoPatches:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _patch(self, target: Any, name: str, replacement: Callable[..., Any]) -> None:
        patcher = mock.patch.object(target, name, replacement)
        patcher.start()
        self._patchers.append(patcher)

    # --- locks ---------------------------------------------------------------------------------------------

    # dict.get and dict.setdefault are atomic in CPython: no process-wide lock on this path, which every
    # DynamoDB call takes (under load, a guard here made every call queue behind whichever thread held it).

    def _table_lock(self, table: str) -> SharedExclusiveLock:
        return self._tables.get(table) or self._tables.setdefault(table, SharedExclusiveLock())

    def _partition_lock(self, table: str, partition: str) -> SharedExclusiveLock:
        key = (table, partition)
        return self._partitions.get(key) or self._partitions.setdefault(key, SharedExclusiveLock())

    def _item_lock(self, key: tuple[str, str, str]) -> threading.Lock:
        return self._items.get(key) or self._items.setdefault(key, threading.Lock())

    @contextmanager
    def _holding(self, keys: list[tuple[str, str, str]]) -> Iterator[None]:
        """Tables (shared), then partitions (shared), then items, each in sorted order: one order for everyone."""
        keys = sorted(set(keys))
        with ExitStack() as stack:
            for table in sorted({t for t, _, _ in keys}):
                stack.enter_context(self._table_lock(table).shared())
            for table, partition in sorted({(t, p) for t, p, _ in keys}):
                stack.enter_context(self._partition_lock(table, partition).shared())
            for key in keys:
                stack.enter_context(self._item_lock(key))
            yield

    @staticmethod
    def _item_key(backend: Any, table_name: str, key: dict[str, Any]) -> tuple[str, str, str]:
        table = backend.get_table(table_name)
        hash_value = json.dumps(key.get(table.hash_key_attr), sort_keys=True)
        range_value = json.dumps(key.get(table.range_key_attr), sort_keys=True) if table.range_key_attr else ""
        return table_name, hash_value, range_value

    @staticmethod
    def _key_of(backend: Any, table_name: str, attributes: dict[str, Any]) -> dict[str, Any]:
        table = backend.get_table(table_name)
        return {k: attributes[k] for k in (table.hash_key_attr, table.range_key_attr) if k and k in attributes}

    # --- patches 1, 3, 4: single calls -----------------------------------------------------------------------

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        atomicity, signature = self, inspect.signature(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            if getattr(atomicity._inside, "active", False):
                return method(*args, **kwargs)
            arguments = signature.bind(*args, **kwargs).arguments
            backend, table_name = arguments["self"], arguments["table_name"]
            try:
                backend.get_table(table_name)
            except Exception:  # noqa: BLE001 - no such table: let moto answer as it does
                return method(*args, **kwargs)
            atomicity._inside.active = True
            try:
                return atomicity._call(name, method, arguments, args, kwargs)
            finally:
                atomicity._inside.active = False

        return call

    def _call(self, name: str, method: Callable[..., Any], arguments: dict[str, Any], args: Any, kwargs: Any) -> Any:
        backend, table_name = arguments["self"], arguments["table_name"]
        self._maybe_throttle(backend, table_name, write=name in _ITEM_WRITES)
        if name in ("query", "scan"):
            # The items are copied inside the lock: moto serializes its answer after the call returns, and a
            # concurrent writer changes a stored item in place (a torn read, or "dictionary changed size").
            if name == "scan" or arguments.get("index_name"):
                with self._table_lock(table_name).exclusive():
                    return _snapshot(method(*args, **kwargs))
            partition = json.dumps(arguments["hash_key_dict"], sort_keys=True) if arguments.get("hash_key_dict") else ""
            if not partition:  # a KeyConditionExpression moto parses later: hold the whole table
                with self._table_lock(table_name).exclusive():
                    return _snapshot(method(*args, **kwargs))
            with self._table_lock(table_name).shared(), self._partition_lock(table_name, partition).exclusive():
                return _snapshot(method(*args, **kwargs))
        key = (
            arguments.get("key") or arguments.get("keys") or self._key_of(backend, table_name, arguments["item_attrs"])
        )
        item_key = self._item_key(backend, table_name, key)
        with self._holding([item_key]):
            if name == "get_item":
                return copy.deepcopy(method(*args, **kwargs))  # a snapshot, as for query (above)
            if self._faults is not None and item_key in self._transactional and self._faults.hit("dynamodb_conflict"):
                raise fault_errors.transaction_conflict()
            before = backend.get_item(table_name, key)
            old = before.to_json()["Attributes"] if before else None
            result = method(*args, **kwargs)
            if name != "delete_item" and result is not None:
                self._report((old, result.to_json()["Attributes"], result.to_regular_json()))
            return result

    def _maybe_throttle(self, backend: Any, table_name: str, write: bool) -> None:
        if self._faults is not None and self._faults.hit("dynamodb_throttle"):
            arn = backend.get_table(table_name).table_arn
            raise fault_errors.dynamodb_throttled(arn, write)

    def _report(self, change: Change) -> None:
        if self._on_change is not None:
            self._on_change(change)

    # --- patches 1 to 4: TransactWriteItems -----------------------------------------------------------------

    def _transact_write_items(self, originals: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
        atomicity = self

        def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
            if len(transact_items) > 100:
                raise TooManyTransactionsException()
            operations: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (type, operation, key)
            for item in transact_items:
                if len(item) > 1:
                    raise TransactWriteSingleOpException
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                key = op["Key"] if op_type != "Put" else atomicity._key_of(backend, op["TableName"], op["Item"])
                operations.append((op_type, op, key))
            item_keys = [atomicity._item_key(backend, op["TableName"], key) for _, op, key in operations]
            if len(set(item_keys)) != len(item_keys):
                raise MultipleTransactionsException()
            atomicity._maybe_throttle(backend, operations[0][1]["TableName"], write=True)
            atomicity._inside.active = True
            try:
                with atomicity._holding(item_keys):
                    atomicity._transactional.update(
                        k for (t, _, _), k in zip(operations, item_keys, strict=True) if t != "ConditionCheck"
                    )
                    if atomicity._faults is not None and atomicity._faults.hit("dynamodb_conflict"):
                        raise fault_errors.transaction_cancelled(
                            len(operations), atomicity._faults.pick(len(operations))
                        )
                    changes = atomicity._apply(backend, operations, originals)
                    for change in changes:
                        atomicity._report(change)
            finally:
                atomicity._inside.active = False

        return transact_write_items

    @staticmethod
    def _apply(
        backend: Any, operations: list[tuple[str, dict[str, Any], dict[str, Any]]], originals: dict[str, Any]
    ) -> list[Change]:
        """moto's own steps (condition, then write, per item); on a cancellation, the touched items restored."""
        before = [backend.get_item(op["TableName"], key) for _, op, key in operations]
        saved = [copy.deepcopy(item) for item in before]
        errors: list[tuple[Any, Any, Any]] = []
        try:
            for (op_type, op, key), current in zip(operations, before, strict=True):
                returned: dict[str, Any] | None = None  # the item, for ReturnValuesOnConditionCheckFailure
                try:
                    condition = op.get("ConditionExpression")
                    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None:
                            returned = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed()
                    if op_type == "Put":
                        originals["put_item"](backend, op["TableName"], op["Item"], None, condition, names, values)
                    elif op_type == "Delete":
                        originals["delete_item"](
                            backend, op["TableName"], key, condition_expression=condition,
                            expression_attribute_names=names, expression_attribute_values=values,
                        )  # fmt: skip
                    elif op_type == "Update":
                        originals["update_item"](
                            backend, op["TableName"], key, update_expression=op["UpdateExpression"],
                            condition_expression=condition, expression_attribute_names=names,
                            expression_attribute_values=values,
                        )  # fmt: skip
                    errors.append((None, None, None))
                except ConditionalCheckFailed as failed:
                    errors.append(("ConditionalCheckFailed", failed.message, returned))
        except MockValidationException:
            MotoPatches._restore(backend, operations, saved, originals)
            raise
        if any(code is not None for code, _, _ in errors):
            MotoPatches._restore(backend, operations, saved, originals)
            raise TransactionCanceledException(errors)
        changes: list[Change] = []
        for (op_type, op, key), old in zip(operations, saved, strict=True):
            if op_type in ("Put", "Update"):
                new = backend.get_item(op["TableName"], key)
                old_image = old.to_json()["Attributes"] if old is not None else None
                changes.append((old_image, new.to_json()["Attributes"], new.to_regular_json()))
        return changes

    @staticmethod
    def _restore(backend: Any, operations: Any, saved: list[Any], originals: dict[str, Any]) -> None:
        for (_, op, key), old in zip(operations, saved, strict=True):
            if old is None:
                if backend.get_item(op["TableName"], key) is not None:
                    originals["delete_item"](backend, op["TableName"], key)
            else:
                originals["put_item"](backend, op["TableName"], old.to_json()["Attributes"])

    # --- patch 5: SQS receives ---------------------------------------------------------------------------------

    def _one_receiver_at_a_time(self, method: Callable[..., Any]) -> Callable[..., Any]:
        receivers: dict[str, threading.Lock] = {}

        def receive_message(backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
            with self._guard:
                lock = receivers.setdefault(queue_name, threading.Lock())
            with lock:
                return method(backend, queue_name, *args, **kwargs)

        return receive_message

    # --- patch 10: finished executions -------------------------------------------------------------------

    def _pruning(self, method: Callable[..., Any]) -> Callable[..., Any]:
        patches = self

        def start_execution(backend: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
            arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
            if name is not None and arn in patches._pruned:
                raise ExecutionAlreadyExists("Execution Already Exists: '" + arn + "'")
            if time.time() - patches._pruned_at >= 1.0:  # at most once a second, excluding every start
                with patches._executions_guard.exclusive():
                    patches._prune(backend)
            with patches._executions_guard.shared():  # starts run at once; each appends to the list
                return method(backend, state_machine_arn, name, *args, **kwargs)

        return start_execution

    def _prune(self, backend: Any) -> None:
        """Drop executions that ended more than EXECUTION_RETENTION seconds ago. The list is replaced, not changed
        in place: moto's readers iterating the old one (a task token's search) still see every execution."""
        now = time.time()
        if now - self._pruned_at < 1.0:
            return
        self._pruned_at = now
        for state_machine in backend.state_machines:
            kept, old = [], []
            for execution in state_machine.executions:
                stop = execution.stop_date
                (old if stop is not None and now - stop.timestamp() > EXECUTION_RETENTION else kept).append(execution)
            if old:
                self._pruned.update(execution.execution_arn for execution in old)
                state_machine.executions = kept

    # --- patch 3: Step Functions faults ---------------------------------------------------------------------

    def _sfn_faults(self, method: Callable[..., Any]) -> Callable[..., Any]:
        plan = self._faults
        assert plan is not None

        def call(*args: Any, **kwargs: Any) -> Any:
            if plan.hit("sfn_throttle"):
                raise fault_errors.sfn_throttled()
            if plan.hit("sfn_failure"):
                raise fault_errors.sfn_unavailable()
            return method(*args, **kwargs)

        return call


# --- patches 6 to 9 -----------------------------------------------------------------------------------------


def _snapshot(result: Any) -> Any:
    """Query's and Scan's (items, scanned count, last key), with copies of the items."""
    if isinstance(result, tuple) and result and isinstance(result[0], list):
        return (copy.deepcopy(result[0]), *result[1:])
    return result


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """Patch 6: BaseModel.__new__ without the append to cls.instances_tracked."""
    return super(BaseModel, cls).__new__(cls)  # type: ignore[misc]


def _existing_or_created(backend_dict: type) -> Callable[..., None]:
    """Patch 11: BackendDict._create_account_specific_backend, lock-free when the account's backends exist."""
    create = backend_dict._create_account_specific_backend  # noqa: SLF001
    registered: set[int] = set()  # ids of the BackendDicts moto's own path has seen (and registered)

    def create_account_specific_backend(backends: Any, account_id: str) -> None:
        if id(backends) in registered and dict.__contains__(backends, account_id):
            return
        create(backends, account_id)
        registered.add(id(backends))

    return create_account_specific_backend


def _drop_stream_record(shard: Any, old: Any, new: Any) -> None:
    """Patch 7: StreamShard.add, keeping nothing (the local stream mapping gets its records from patch 4)."""


def _snapshot_items(scope: threading.local) -> Callable[[Any], list[Any]]:
    """Patch 12: Table.all_items over copies of the dicts; only the partition when a Query scoped it."""

    def all_items(table: Any) -> list[Any]:
        scoped = getattr(scope, "partition", None)
        if scoped is not None and scoped[0] is table:
            found = table.items.get(scoped[1])  # .get: no key added to the defaultdict
            partitions = [] if found is None else [found]
        else:
            partitions = list(table.items.values())
        items = []
        for partition in partitions:
            items.extend(list(partition.values()) if table.range_key_attr else [partition])
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    return all_items


def _scoped_query(query: Callable[..., Any], scope: threading.local) -> Callable[..., Any]:
    """Patch 12: Table.query of a partition (no index) reads only that partition through all_items."""

    @functools.wraps(query)
    def scoped(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return query(table, hash_key, *args, **kwargs)
        scope.partition = (table, hash_key)
        try:
            return query(table, hash_key, *args, **kwargs)
        finally:
            scope.partition = None

    return scoped


def _parsed_once(entrypoint: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Patch 13: ExecutionWorker._get_evaluation_entrypoint, one parse per definition."""
    programs: dict[str, Any] = {}

    def parsed(worker: Any) -> Any:
        definition = worker._evaluation_details.state_machine_details.definition  # noqa: SLF001
        program = programs.get(definition)
        return program if program is not None else programs.setdefault(definition, entrypoint(worker))

    return parsed


class TaskTimedOut(AWSError):
    """Step Functions' answer for a closed task (moto's own class of that name sends no error type)."""

    TYPE = "TaskTimedOut"
    STATUS = 400


def _closing_once(method: Callable[..., Any], closed: set[str], guard: threading.Lock) -> Callable[..., Any]:
    """Patch 16: a task token completes its task once; later calls are refused with TaskTimedOut."""

    def close(backend: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
        with guard:
            if task_token in closed:
                raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")
            closed.add(task_token)
        try:
            return method(backend, task_token, *args, **kwargs)
        except BaseException:
            with guard:  # not completed by this call (an unknown token, say)
                closed.discard(task_token)
            raise

    return close


def _parsed_expression(make: Callable[[str], Any]) -> Callable[[Any, str], Any]:
    """Patch 15: UpdateExpressionParser.make, one parse per expression string (make is moto's bound classmethod)."""
    parse = _cached_parse(make)

    def cached(cls: Any, expression: str) -> Any:
        return parse(expression)

    return cached


DYNAMODB_DATA_PLANE = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _wire(value: Any) -> Any:
    """A result as moto's JSON serializer writes it: no nulls, binary as base64 (JSON has no bytes)."""
    if isinstance(value, dict):
        return {key: _wire(member) for key, member in value.items() if member is not None}
    if isinstance(value, list):
        return [_wire(member) for member in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _plain_dynamodb_result(serialize_result: Callable[..., Any]) -> Callable[..., Any]:
    """Patch 14: BaseJSONSerializer._serialize_result, without the shape walk for DynamoDB's data plane."""

    def serialized(serializer: Any, resp: Any, result: Any) -> Any:
        operation = serializer.operation_model
        if (
            isinstance(result, dict)
            and operation.name in DYNAMODB_DATA_PLANE
            and operation.service_model.service_name == "dynamodb"
        ):
            shape = operation.output_shape
            members = {key: value for key, value in result.items() if key in shape.members}
            return serializer._serialized_result_to_response(resp, result, shape, _wire(members))  # noqa: SLF001
        return serialize_result(serializer, resp, result)

    return serialized


def _reused_client(build: Callable[..., Any]) -> Callable[..., Any]:
    """Patch 8: boto_client_for, one client per (region, service, in-process or server) for the process."""
    clients: dict[tuple[str, str, bool], Any] = {}
    lock = threading.Lock()

    @functools.wraps(build)
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, botocore_stubber.enabled)
        with lock:
            if key not in clients:
                clients[key] = build(region=region, service=service, state_credentials=state_credentials)
            return clients[key]

    return boto_client_for


def _cached_parse(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Patches 9 and 15: a parse remembered per string (a parsed JSONPath is only read by find/update; an update
    expression's AST only read, or deep-copied before it is changed)."""
    return functools.lru_cache(maxsize=1024)(parse)
