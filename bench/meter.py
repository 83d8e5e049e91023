"""AWS API calls counted at the botocore level, and DynamoDB request units computed as on-demand billing does.

The handlers build their clients from boto3's default session, and moto replaces that session when the local
stack starts. So the meter hooks every session botocore creates: its handlers go into botocore's
BUILTIN_HANDLERS, which each new session registers. Install it before the stack starts.

DynamoDB request units, the approximation (documented in results.md too):

- item size: attribute names plus values, in UTF-8 bytes; a number takes (significant digits / 2) + 1 bytes;
  booleans and nulls 1 byte; a list or map 3 bytes plus 1 byte per element plus its elements;
- writes (PutItem, UpdateItem): 1 WRU per started KB of the larger of the item before and after the write
  (read from moto's store around the call), at least 1; a write whose condition fails is charged the same;
- TransactWriteItems: twice that, per item; a transaction cancelled by a condition is charged as if it had
  been applied (conservative);
- global secondary indexes: a write that changes an attribute an index projects, on an item in that index,
  also costs the index 1 WRU per started KB of the index entry (two writes if the index key changed);
- strongly consistent GetItem: 1 RRU per started 4 KB of the item, at least 1 (also when there is no item);
  eventually consistent reads half that;
- Query: the sizes of all returned items summed, then 1 RRU per started 4 KB, at least 1 (halved if eventually
  consistent).

Moto's task tokens are 36-character UUIDs; AWS's are opaque strings of about 1 KB (the API allows up to
2,048 characters). The product stores the token in the step's task item (taskToken; the message's resumedToken
is a digest), so every unit is also computed with that attribute at TOKEN_LENGTH bytes, the largest: the
"aws_tokens" figures.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from botocore.handlers import BUILTIN_HANDLERS

TOKEN_LENGTH = 2048  # bytes of an AWS Step Functions task token at its largest, for the "aws_tokens" sizes
TOKEN_ATTRIBUTES = ("taskToken",)  # resumedToken holds a 32-character digest of the token (issue 18), not the token
_TYPES = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """The size of one DynamoDB-typed value ({"S": "..."}, {"M": {...}}, ...)."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else math.ceil(len(inner) * 3 / 4)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in inner)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"not a DynamoDB value: {value!r}")


def _typed(value: Any) -> dict[str, Any]:
    """A plain Python value (as boto3's resource layer returns it) in DynamoDB's typed form."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _TYPES:
        return value
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, list | tuple):
        return {"L": [_typed(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: _typed(v) for k, v in value.items()}}
    if isinstance(value, set):
        return {"SS": [str(v) for v in value]}
    raise TypeError(type(value))


def item_size(item: dict[str, Any] | None, token_length: int | None = None) -> int:
    """Bytes of an item (typed or plain attributes). With token_length, task tokens count that many bytes."""
    if not item:
        return 0
    size = 0
    for name, value in item.items():
        typed = _typed(value)
        if token_length is not None and name in TOKEN_ATTRIBUTES and "S" in typed:
            size += len(name) + token_length
        else:
            size += len(name.encode()) + value_size(typed)
    return size


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


class _Store:
    """Moto's DynamoDB items, read directly (no API call, nothing counted)."""

    @staticmethod
    def get(table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        from moto.dynamodb.models import dynamodb_backends

        from failover_local.aws import ACCOUNT, REGION

        try:
            item = dynamodb_backends[ACCOUNT][REGION].get_item(table_name, key)
        except Exception:  # noqa: BLE001 - the table may be gone while a stack stops
            return None
        return item.to_json()["Attributes"] if item is not None else None

    @staticmethod
    def indexes(table_name: str) -> list[tuple[list[str], list[str] | None]]:
        """Each global secondary index: its key attributes, and the attributes it projects (None: ALL)."""
        from moto.dynamodb.models import dynamodb_backends

        from failover_local.aws import ACCOUNT, REGION

        table = dynamodb_backends[ACCOUNT][REGION].get_table(table_name)
        found = []
        for index in table.global_indexes:
            projection = index.projection or {}
            kind = projection.get("ProjectionType", "ALL")
            projected = None if kind == "ALL" else table.table_key_attrs + index.schema_key_attrs
            if kind == "INCLUDE":
                projected = [*projected, *projection.get("NonKeyAttributes", [])]
            found.append((index.schema_key_attrs, projected))
        return found

    @staticmethod
    def key_of(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
        from moto.dynamodb.models import dynamodb_backends

        from failover_local.aws import ACCOUNT, REGION

        table = dynamodb_backends[ACCOUNT][REGION].get_table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: item[name] for name in names}


class AwsMeter:
    """Counts (service, operation) calls, and DynamoDB RRU/WRU, while enabled."""

    def __init__(self) -> None:
        self.enabled = False
        self._lock = threading.Lock()
        self._local = threading.local()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.units: Counter[str] = Counter()  # rru, wru, rru_aws_tokens, wru_aws_tokens, wru_index
        self.units_by_operation: Counter[tuple[str, str]] = Counter()  # (operation, unit) → units
        self.errors: list[str] = []

    # --- lifecycle -----------------------------------------------------------------------------------------

    def install(self) -> AwsMeter:
        """Hook every botocore session created from now on (idempotent)."""
        for entry in (("before-call", self._before), ("after-call", self._after)):
            if entry not in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.append(entry)
        return self

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.units.clear()
            self.units_by_operation.clear()
            self.errors.clear()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Calls made by the benchmark itself (histories, execution status) on this thread are not counted."""
        self._local.paused = True
        try:
            yield
        finally:
            self._local.paused = False

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": {f"{s}:{o}": n for (s, o), n in sorted(self.calls.items())},
                "units": dict(self.units),
                "units_by_operation": {f"{o}:{u}": v for (o, u), v in sorted(self.units_by_operation.items())},
                "errors": list(self.errors),
            }

    # --- botocore events -----------------------------------------------------------------------------------

    def _active(self) -> bool:
        return self.enabled and not getattr(self._local, "paused", False)

    def _before(self, model: Any = None, params: Any = None, context: Any = None, **_: Any) -> None:
        if not self._active() or model is None:
            return
        service = model.service_model.service_name
        with self._lock:
            self.calls[(service, model.name)] += 1
        if service != "dynamodb" or context is None:
            return
        try:
            request = json.loads(params.get("body") or b"{}")
            context["bench_request"] = request
            context["bench_before"] = [_Store.get(t, k) for t, k in _written_keys(model.name, request)]
        except Exception as error:  # noqa: BLE001 - a meter must never break the call it measures
            self.errors.append(f"{model.name} before: {error!r}")

    def _after(self, model: Any = None, parsed: Any = None, context: Any = None, **_: Any) -> None:
        if not self._active() or model is None or model.service_model.service_name != "dynamodb":
            return
        if context is None or "bench_request" not in context:
            return
        try:
            self._charge(model.name, context["bench_request"], context.get("bench_before") or [], parsed or {})
        except Exception as error:  # noqa: BLE001
            self.errors.append(f"{model.name} after: {error!r}")

    def _charge(self, operation: str, request: dict[str, Any], before: list[Any], parsed: dict[str, Any]) -> None:
        charges: Counter[str] = Counter()
        if operation in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"):
            factor = 2 if operation == "TransactWriteItems" else 1
            for (table, key), old in zip(_written_keys(operation, request), before, strict=True):
                new = _Store.get(table, key)
                charges["wru"] += factor * write_units(max(item_size(old), item_size(new)))
                tokens = max(item_size(old, TOKEN_LENGTH), item_size(new, TOKEN_LENGTH))
                charges["wru_aws_tokens"] += factor * write_units(tokens)
                for keys, projected in _Store.indexes(table):
                    index_units = index_write_units(old, new, keys, projected)
                    charges["wru"] += index_units
                    charges["wru_index"] += index_units  # included in wru, and apart for the capacity model
                    charges["wru_aws_tokens"] += index_write_units(old, new, keys, projected, TOKEN_LENGTH)
        elif operation == "GetItem":
            consistent = bool(request.get("ConsistentRead"))
            item = _Store.get(request["TableName"], request["Key"])
            charges["rru"] += read_units(item_size(item), consistent)
            charges["rru_aws_tokens"] += read_units(item_size(item, TOKEN_LENGTH), consistent)
        elif operation == "Query":
            consistent = bool(request.get("ConsistentRead"))
            items = parsed.get("Items") or []
            charges["rru"] += read_units(sum(item_size(i) for i in items), consistent)
            charges["rru_aws_tokens"] += read_units(sum(item_size(i, TOKEN_LENGTH) for i in items), consistent)
        else:
            self.errors.append(f"DynamoDB {operation} is not priced by the meter")
        with self._lock:
            for unit, value in charges.items():
                self.units[unit] += value
                self.units_by_operation[(operation, unit)] += value


def index_write_units(
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    keys: list[str],
    projected: list[str] | None,
    token_length: int | None = None,
) -> int:
    """Write units a table write costs one global secondary index: nothing unless the item is (or was) in the
    index and an attribute the index projects changed; two writes when its index key changed (a delete and a
    put). https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes
    """

    def entry(item: dict[str, Any] | None) -> dict[str, Any] | None:
        if not item or any(key not in item for key in keys):
            return None  # a sparse index: the item is not in it
        return item if projected is None else {k: v for k, v in item.items() if k in projected}

    before, after = entry(old), entry(new)
    if before == after:
        return 0
    units = [write_units(item_size(e, token_length)) for e in (before, after) if e is not None]
    if before is not None and after is not None and any(before[k] != after[k] for k in keys):
        return sum(units)  # the index key moved: the old entry is deleted, the new one put
    return max(units)


def _written_keys(operation: str, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, typed key) of every item a write touches."""
    if operation == "PutItem":
        return [(request["TableName"], _Store.key_of(request["TableName"], request["Item"]))]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(request["TableName"], request["Key"])]
    if operation == "TransactWriteItems":
        keys = []
        for entry in request["TransactItems"]:
            (kind, action), *_ = entry.items()
            if kind == "Put":
                keys.append((action["TableName"], _Store.key_of(action["TableName"], action["Item"])))
            else:  # Update, Delete, ConditionCheck (a ConditionCheck is charged like a write, too)
                keys.append((action["TableName"], action["Key"]))
        return keys
    return []


METER = AwsMeter()
