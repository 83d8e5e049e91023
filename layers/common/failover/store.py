"""DynamoDB single-table store: the flow, one item per step message, and the step's task token.

Layout (pk = FLOW#<trackingId>):
  sk = "#FLOW"      the flow: status, statusCode, terminationChannel, the validated steps, timeouts
  sk = "MSG#<nn>"   the message of step nn (0-based, ascending `order`): status, rank, provider id, the send
                    claim, the verdict once the step is resolved, and a digest of the task token that was
                    resumed; also what the provider told of it (domain.MESSAGE_DETAILS: country, operator, ..)
  sk = "MSG#<nn>#TASK"  the step's task token (up to 2 KB at AWS), first claim time and send attempts: written
                    once per SendStep attempt, apart from the message, so that the message's many updates are
                    not each charged for the token's kilobytes. It sorts right after its message, so one Query
                    reads both (get_message), and load() folds it into its message.

Flows are indexed per application (GSI "ByApplication": gsi1pk = APP#<applicationId>#<shard>, gsi1sk =
<createdAt>#<trackingId>), with their recipients. The shard (a stable hash of the trackingId, modulo the
deployment's SEARCH_SHARDS) spreads one application's writes over that many index partitions, each of which
takes at most 1,000 write units a second; a search queries every shard and merges them newest first (search
below). Powertools Idempotency keeps its records in pk = IDEMPOTENCY.

Applications live in one partition (pk = APP, sk = <applicationId>), so listing them is a Query; rate-limit
windows are items pk = RATE#<applicationId>, sk = <window start>, and failed token attempts pk = FAIL#<subject>,
sk = <window start>, both removed by the TTL.

Every write that races another (receipts, timeouts, retried sends) is conditional, so each fact is recorded
once and the workflow is resumed once.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from failover.cursor import search_key
from failover.domain import FlowStatus, Verdict, flow_status_of, recipient_of
from failover.ports import Contention

FLOW_SK = "#FLOW"
APPS_PK = "APP"
SEARCH_INDEX = "ByApplication"
_KEY_END = "#~"  # sorts after "#<trackingId>": an upper bound for every flow created in the last millisecond
_BATCH_GET_KEYS = 100  # BatchGetItem's limit
_TASK_SUFFIX = "#TASK"


def _pk(tracking_id: str) -> str:
    return f"FLOW#{tracking_id}"


def _msg_sk(index: int) -> str:
    return f"MSG#{index:02d}"


def _task_sk(index: int) -> str:
    return f"{_msg_sk(index)}{_TASK_SUFFIX}"


def _app_pk(application_id: str, shard: int) -> str:
    return f"APP#{application_id}#{shard}"


def shard_of(tracking_id: str, shards: int) -> int:
    """A stable shard: the same trackingId lands on the same shard in every process (crc32, not hash())."""
    return zlib.crc32(tracking_id.encode()) % shards


@dataclass
class SearchResult:
    """Up to `limit` flows, newest first; whether more may follow; and, when every shard was read to its end,
    how many more flows match (so the total is exact)."""

    flows: list[dict[str, Any]]
    more: bool
    remaining: int | None  # matching flows after these; None when some shard was not read to its end
    items_read: int  # index items the Queries returned (the page's read cost, in items)
    queries: int


@dataclass
class _Shard:
    pk: str
    buffer: deque[dict[str, Any]] = field(default_factory=deque)
    start_key: dict[str, Any] | None = None
    done: bool = False


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; hand plain ints and floats to everyone else."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_dynamo(v) for v in value]
    return value


# Refusals that change nothing and pass with time: throttling, and a conflict with a transaction in flight
# (a plain write gets TransactionConflictException; a transaction is cancelled with reason TransactionConflict).
# botocore retries throttling a few times, never a conflict. See "Transaction conflict handling in DynamoDB":
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling
TRANSIENT_ERRORS = frozenset(
    {
        "TransactionConflictException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    }
)
TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ProvisionedThroughputExceeded", "ThrottlingError"})


def _transient(exc: ClientError) -> bool:
    error = exc.response["Error"]["Code"]
    if error in TRANSIENT_ERRORS:
        return True
    if error == "TransactionCanceledException":
        reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
        return bool(reasons & TRANSIENT_CANCELLATIONS)
    return False


class _Translating:
    """A boto3 Table or client whose transient refusals raise ports.Contention (the caller may retry)."""

    def __init__(self, inner: Any):
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def translated(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except ClientError as exc:
                if _transient(exc):
                    raise Contention(f"{name}: {exc.response['Error']['Code']}") from exc
                raise

        return translated


def _conditional_failed(exc: ClientError) -> bool:
    error = exc.response["Error"]["Code"]
    if error == "ConditionalCheckFailedException":
        return True
    if error == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) and all(
            r.get("Code") in ("ConditionalCheckFailed", "None", None) for r in reasons
        )
    return False


class FlowStore:
    def __init__(self, table: Any, retention_days: int = 90, search_shards: int = 16):
        self._table = _Translating(table)
        # The resource's client: it serializes plain Python values itself.
        self._client = _Translating(table.meta.client)
        self._retention = retention_days * 86400
        self._shards = search_shards

    def _expires(self) -> int:
        return int(time.time()) + self._retention

    # --- flows -------------------------------------------------------------------------------------------

    def create_flow(self, flow: dict[str, Any]) -> None:
        item = {
            "pk": _pk(flow["trackingId"]),
            "sk": FLOW_SK,
            **flow,
            "steps": json.dumps(flow["steps"]),
            "expiresAt": self._expires(),
            "gsi1pk": _app_pk(flow["applicationId"], shard_of(flow["trackingId"], self._shards)),
            "gsi1sk": search_key(flow),
            "recipients": sorted({recipient_of(step) for step in flow["steps"]}),
        }
        self._table.put_item(Item=_dynamo(item), ConditionExpression=Attr("pk").not_exists())

    def search(
        self,
        application_id: str,
        start: str,
        end: str,
        *,
        limit: int,
        before: str | None = None,
        accept: Callable[[dict[str, Any]], bool] = lambda flow: True,
        read_at_least: int = 0,
    ) -> SearchResult:
        """The application's flows created from `start` to `end` (timestamps) and sorting before `before` (a
        search_key, exclusive), newest first, that `accept` accepts: at most `limit` of them.

        A k-way merge over the shards: each shard is read by Queries of about its share of the page (at least
        `read_at_least` items in all, so that a small range is read to its end and its total is exact), and
        read again only when the merge has taken everything it had, so a page reads about what it returns
        plus one short Query per shard, whatever the range holds."""
        upper = end + _KEY_END if before is None else min(before, end + _KEY_END)  # a token never widens the range
        if upper < start:  # a position before the range: only a made-up token gets here
            return SearchResult(flows=[], more=False, remaining=0, items_read=0, queries=0)
        first_read = max(limit + 1, read_at_least)
        shards = [_Shard(_app_pk(application_id, shard)) for shard in range(self._shards)]
        items_read = queries = 0

        def fill(shard: _Shard, wanted: int) -> None:
            nonlocal items_read, queries
            while not shard.buffer and not shard.done:
                kwargs: dict[str, Any] = {
                    "IndexName": SEARCH_INDEX,
                    "KeyConditionExpression": Key("gsi1pk").eq(shard.pk) & Key("gsi1sk").between(start, upper),
                    "ScanIndexForward": False,
                    "Limit": max(1, min(wanted, 1000)),
                }
                if shard.start_key:
                    kwargs["ExclusiveStartKey"] = shard.start_key
                page = self._table.query(**kwargs)
                queries += 1
                items_read += len(page["Items"])
                shard.buffer.extend(i for i in page["Items"] if before is None or i["gsi1sk"] < before)
                shard.start_key = page.get("LastEvaluatedKey")
                shard.done = shard.start_key is None

        per_shard = -(-first_read // self._shards) + 1
        for shard in shards:
            fill(shard, per_shard)
        found: list[dict[str, Any]] = []
        while len(found) < limit:
            ready = [shard for shard in shards if shard.buffer]
            if not ready:
                break
            newest = max(ready, key=lambda shard: shard.buffer[0]["gsi1sk"])
            item = _flow(newest.buffer.popleft())
            if accept(item):
                found.append(item)
            if not newest.buffer:  # its share of what the page still needs
                fill(newest, -(-(limit - len(found)) // self._shards) + 1)
        exhausted = all(shard.done for shard in shards)
        rest = sum(1 for shard in shards for item in shard.buffer if accept(_flow(item)))
        return SearchResult(
            flows=found,
            more=rest > 0 or not exhausted,
            remaining=rest if exhausted else None,
            items_read=items_read,
            queries=queries,
        )

    def messages_of(self, flows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """The messages of several flows, by trackingId: BatchGetItem on every step's key, no query per flow."""
        keys = [
            {"pk": _pk(flow["trackingId"]), "sk": _msg_sk(index)}
            for flow in flows
            for index in range(len(flow["steps"]))
        ]
        found: dict[str, list[dict[str, Any]]] = {flow["trackingId"]: [] for flow in flows}
        for start in range(0, len(keys), _BATCH_GET_KEYS):
            request = {self._table.name: {"Keys": keys[start : start + _BATCH_GET_KEYS], "ConsistentRead": True}}
            for _attempt in range(10):
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._table.name, []):
                    found[item["pk"].removeprefix("FLOW#")].append(_plain(item))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * (_attempt + 1))  # DynamoDB asks the caller to back off
            else:
                raise RuntimeError("BatchGetItem left keys unprocessed")
        return found

    def get_flow(self, tracking_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": _pk(tracking_id), "sk": FLOW_SK}, ConsistentRead=True).get("Item")
        return _flow(item) if item else None

    def load(self, tracking_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The flow and its messages, in one Query."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(_pk(tracking_id)), "ConsistentRead": True}
        while True:
            page = self._table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        flows = [i for i in items if i["sk"] == FLOW_SK]
        if not flows:
            return None
        return _flow(flows[0]), _messages([i for i in items if i["sk"] != FLOW_SK])

    def mark_in_progress(self, tracking_id: str, now: str) -> bool:
        return self._update_flow_if_open(
            tracking_id,
            {"status": FlowStatus.IN_PROGRESS.value, "updatedAt": now},
            only_from=(FlowStatus.QUEUED,),
        )

    def fail_flow(self, tracking_id: str, status_code: str, channel: str | None, now: str) -> bool:
        changes = {"status": FlowStatus.FAILED.value, "statusCode": status_code, "updatedAt": now}
        if channel:
            changes["terminationChannel"] = channel
        return self._update_flow_if_open(tracking_id, changes)

    def _update_flow_if_open(
        self,
        tracking_id: str,
        changes: dict[str, Any],
        only_from: tuple[FlowStatus, ...] = (FlowStatus.QUEUED, FlowStatus.IN_PROGRESS),
    ) -> bool:
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": v for k, v in changes.items()}
        allowed = {f":from{i}": s.value for i, s in enumerate(only_from)}
        try:
            self._table.update_item(
                Key={"pk": _pk(tracking_id), "sk": FLOW_SK},
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes),
                ConditionExpression=f"#status IN ({', '.join(allowed)})",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues={**values, **allowed},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    # --- messages ----------------------------------------------------------------------------------------

    def get_message(self, tracking_id: str, index: int) -> dict[str, Any] | None:
        """The step's message with its task token: one consistent Query over the two adjacent items (one read
        unit while they fit in 4 KB, as a GetItem of the message alone)."""
        items = self._table.query(
            KeyConditionExpression=Key("pk").eq(_pk(tracking_id)) & Key("sk").between(_msg_sk(index), _task_sk(index)),
            ConsistentRead=True,
        )["Items"]
        messages = _messages(items)
        return messages[0] if messages else None

    def claim(self, tracking_id: str, index: int, task_token: str, now: str) -> dict[str, Any]:
        """Record the task token before anything is sent, in the step's task item (the message is not
        rewritten: see the module's layout); returns the message as it now stands, with the token."""
        self._table.update_item(
            Key={"pk": _pk(tracking_id), "sk": _task_sk(index)},
            UpdateExpression=(
                "SET taskToken = :token, #index = :index, createdAt = if_not_exists(createdAt, :now), "
                "expiresAt = :expires ADD sendAttempts :one"
            ),
            ExpressionAttributeNames={"#index": "index"},
            ExpressionAttributeValues={
                ":token": task_token,
                ":index": index,
                ":now": now,
                ":expires": self._expires(),
                ":one": 1,
            },
        )
        claimed = self.get_message(tracking_id, index)
        assert claimed is not None  # the task item was just written, and reads are consistent
        return claimed

    def claim_send(self, tracking_id: str, index: int) -> bool:
        """True for exactly one caller per step, and only while the flow is open: that caller calls the provider.

        Taken right before the provider call (not with the token), so an attempt that died before it leaves the
        send to its retry. The claim is one conditional write on the message; the flow is read after it, and a
        flow's status only moves forward, so a flow open at that read was open when the claim was written: no
        step is sent after a cancel. (A transaction with a ConditionCheck on the flow costs 4 write units.)"""
        try:
            self._table.update_item(
                Key={"pk": _pk(tracking_id), "sk": _msg_sk(index)},
                UpdateExpression="SET sendClaimed = :true, #index = :index",
                ConditionExpression="attribute_not_exists(sendClaimed)",
                ExpressionAttributeNames={"#index": "index"},
                ExpressionAttributeValues={":true": True, ":index": index},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        flow = self.get_flow(tracking_id)
        return flow is not None and flow["status"] in (FlowStatus.QUEUED.value, FlowStatus.IN_PROGRESS.value)

    def release_send(self, tracking_id: str, index: int) -> None:
        """The claimed send surely did not reach the provider (an outage): a later attempt may send it."""
        self._table.update_item(
            Key={"pk": _pk(tracking_id), "sk": _msg_sk(index)},
            UpdateExpression="REMOVE sendClaimed ADD sendRounds :one",
            ExpressionAttributeValues={":one": 1},
        )

    def record_accepted(
        self, tracking_id: str, index: int, provider_message_id: str, price: float | None, parts: int | None
    ) -> None:
        """The provider's id for the message; it never touches a status a receipt may already have written."""
        changes = {"providerMessageId": provider_message_id, "price": price, "parts": parts}
        changes = {k: v for k, v in changes.items() if v is not None}
        self._table.update_item(
            Key={"pk": _pk(tracking_id), "sk": _msg_sk(index)},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes),
            ExpressionAttributeNames={f"#{k}": k for k in changes},
            ExpressionAttributeValues=_dynamo({f":{k}": v for k, v in changes.items()}),
        )

    def record_status(
        self,
        tracking_id: str,
        index: int,
        status: dict[str, Any],
        rank: int,
        now: str,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Write a message status unless one of equal or higher rank is already there (stale or duplicate)."""
        changes = {"status": status, "statusRank": rank, **(extra or {})}
        changes = {k: v for k, v in changes.items() if v is not None}
        try:
            self._table.update_item(
                Key={"pk": _pk(tracking_id), "sk": _msg_sk(index)},
                UpdateExpression="SET "
                + ", ".join(f"#{k} = :{k}" for k in changes)
                + ", #index = :index, createdAt = if_not_exists(createdAt, :now), expiresAt = :expires",
                ConditionExpression="attribute_not_exists(statusRank) OR statusRank < :statusRank",
                ExpressionAttributeNames={**{f"#{k}": k for k in changes}, "#index": "index"},
                ExpressionAttributeValues=_dynamo(
                    {
                        **{f":{k}": v for k, v in changes.items()},
                        ":index": index,
                        ":now": now,
                        ":expires": self._expires(),
                    }
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def record_part(
        self, tracking_id: str, index: int, part: int, status: str, rank: int, price: float | None
    ) -> dict[str, Any]:
        """One SMS part's status and price (highest rank wins per part); returns the message with all its parts."""
        changes = {f"part{part}Status": status, f"part{part}Rank": rank, f"part{part}Price": price}
        changes = {k: v for k, v in changes.items() if v is not None}
        key = {"pk": _pk(tracking_id), "sk": _msg_sk(index)}
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes),
                ConditionExpression=f"attribute_not_exists(#part{part}Rank) OR #part{part}Rank < :part{part}Rank",
                ExpressionAttributeNames={f"#{k}": k for k in changes},
                ExpressionAttributeValues=_dynamo({f":{k}": v for k, v in changes.items()}),
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        return self.get_message(tracking_id, index) or {}

    def resolve(self, tracking_id: str, index: int, verdict: Verdict, now: str) -> bool:
        """Fix a step's verdict once; a verdict that ends the flow ends it in the same transaction.

        A NEXT verdict does not check that the flow is still open: one written after a cancel (or a workflow
        error) at most moves the execution into SendStep, which finds the flow ended and ends the execution
        (service.send_step); so it is one conditional write (1 WRU) instead of a transaction (2 per item)."""
        verdict_item = _dynamo(verdict.model_dump(mode="json", exclude_none=True))
        message = {
            "TableName": self._table.name,
            "Key": {"pk": _pk(tracking_id), "sk": _msg_sk(index)},
            "UpdateExpression": "SET #verdict = :verdict, #resolvedAt = :now",
            "ConditionExpression": "attribute_not_exists(#verdict)",
            "ExpressionAttributeNames": {"#verdict": "verdict", "#resolvedAt": "resolvedAt"},
            "ExpressionAttributeValues": {":verdict": verdict_item, ":now": now},
        }
        final = flow_status_of(verdict)
        if final is None:  # the flow goes on
            try:
                self._client.update_item(**message)
            except ClientError as exc:
                if _conditional_failed(exc):
                    return False
                raise
            return True
        changes = {"status": final.value, "updatedAt": now}
        if verdict.statusCode is not None:
            changes["statusCode"] = verdict.statusCode.value
        if verdict.terminationChannel is not None:
            changes["terminationChannel"] = verdict.terminationChannel.value
        flow = {
            "TableName": self._table.name,
            "Key": {"pk": _pk(tracking_id), "sk": FLOW_SK},
            "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in changes),
            "ConditionExpression": "#status IN (:queued, :running)",
            "ExpressionAttributeNames": {f"#{k}": k for k in changes},
            "ExpressionAttributeValues": {
                **{f":{k}": v for k, v in changes.items()},
                ":queued": FlowStatus.QUEUED.value,
                ":running": FlowStatus.IN_PROGRESS.value,
            },
        }
        return self._transact_unless_refused([{"Update": message}, {"Update": flow}])

    def _transact_unless_refused(self, items: list[dict[str, Any]]) -> bool:
        """Writes the transaction; False when one of its conditions refused it (any other error is raised)."""
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def mark_resumed(self, tracking_id: str, index: int, resumed: str) -> None:
        """Step Functions confirmed that the task no longer waits: later writers need not resume. `resumed` is the
        task token's digest (signing.token_digest), not the token: only equality matters.

        Written only after SendTaskSuccess answered, never before it: a claim written first would stall the task
        if the call failed or the function died in between."""
        self._table.update_item(
            Key={"pk": _pk(tracking_id), "sk": _msg_sk(index)},
            UpdateExpression="SET resumedToken = :resumed",
            ExpressionAttributeValues={":resumed": resumed},
        )


def _messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Message items, each with its task item folded in (a step claimed but not yet sent has only the latter).
    The task item's createdAt, the first claim, wins over the message's (its first status), as when both lived
    in one item."""
    messages: dict[str, dict[str, Any]] = {}
    for item in sorted(items, key=lambda i: i["sk"]):  # each message before its task item
        plain = _plain(item)
        key = plain["sk"].removesuffix(_TASK_SUFFIX)
        messages[key] = {**messages.get(key, {}), **plain, "sk": key}
    return [messages[key] for key in sorted(messages)]


def _flow(item: dict[str, Any]) -> dict[str, Any]:
    flow = _plain(item)
    flow["steps"] = json.loads(flow["steps"])
    return flow


class ApplicationStore:
    """Applications (tenants) and their per-minute request counters, in the same table."""

    def __init__(self, table: Any):
        self._table = table

    def create(self, application: dict[str, Any]) -> bool:
        try:
            self._table.put_item(
                Item=_dynamo({"pk": APPS_PK, "sk": application["applicationId"], **application}),
                ConditionExpression=Attr("pk").not_exists(),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def get(self, application_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": APPS_PK, "sk": application_id}).get("Item")
        return _plain(item) if item else None

    def list(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(APPS_PK)}
        while True:
            page = self._table.query(**kwargs)
            items.extend(_plain(i) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def set_status(self, application_id: str, status: str) -> bool:
        try:
            self._table.update_item(
                Key={"pk": APPS_PK, "sk": application_id},
                UpdateExpression="SET #status = :status",
                ConditionExpression=Attr("pk").exists(),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": status},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def rotate_callback_secret(self, application_id: str, previous_until: float) -> dict[str, Any] | None:
        """Move the application's callback secret to its next generation; the current one becomes the previous,
        which still signs until `previous_until`. One atomic update (every SET reads the item as it was), so two
        rotations racing each other move two generations, never lose one. None: no such application."""
        try:
            answer = self._table.update_item(
                Key={"pk": APPS_PK, "sk": application_id},
                UpdateExpression="SET callbackSecretPrevious = if_not_exists(callbackSecretGeneration, :zero), "
                "callbackSecretGeneration = if_not_exists(callbackSecretGeneration, :zero) + :one, "
                "callbackSecretPreviousUntil = :until",
                ConditionExpression=Attr("pk").exists(),
                ExpressionAttributeValues={":zero": 0, ":one": 1, ":until": int(previous_until)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return _plain(answer["Attributes"])

    def count_request(self, application_id: str, window_start: int, limit: int, expires_at: int) -> bool:
        """Count one request in the window; False when the window already holds `limit` requests."""
        return self._count(f"RATE#{application_id}", window_start, limit, expires_at)

    def count_failure(self, subject: str, window_start: int, limit: int, expires_at: int) -> bool:
        """Reserve one failed token attempt of `subject` (an application or an address) in the window; False
        when the window already holds `limit`. Conditional, so sandboxes racing each other never exceed it."""
        return self._count(f"FAIL#{subject}", window_start, limit, expires_at)

    def forget_failure(self, subject: str, window_start: int) -> None:
        """Give back a reserved attempt that turned out to succeed."""
        try:
            self._table.update_item(
                Key={"pk": f"FAIL#{subject}", "sk": str(window_start)},
                UpdateExpression="ADD hits :minus",
                ConditionExpression="attribute_exists(hits)",  # never leave an item without its TTL behind
                ExpressionAttributeValues={":minus": -1},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def _count(self, pk: str, window_start: int, limit: int, expires_at: int) -> bool:
        try:
            self._table.update_item(
                Key={"pk": pk, "sk": str(window_start)},
                UpdateExpression="ADD hits :one SET expiresAt = :expires",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": expires_at},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True
