"""In-memory adapters for failover.ports, with the semantics the protocol relies on from AWS:

- FlowRepository: items with DynamoDB's conditional writes (a failed condition changes nothing) and
  TransactWriteItems (all or nothing). A transaction holds its items while it is in flight; a transaction that
  touches a held item is cancelled (TransactionConflict) and a plain write to one is refused
  (TransactionConflictException): both raise ports.Contention, as the real adapter does. Consistent reads see
  the last committed value.
- Workflow: Step Functions' task tokens: a task completes once; SendTaskSuccess on a closed task answers "gone".

Every call first passes `pause()`: a deterministic scheduler (tests/protocol) parks the calling writer there,
so other writers can run between any two calls of one writer, and can crash it at that point.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from failover.domain import FINAL_FLOW_STATUSES, FlowStatus, Verdict, flow_status_of
from failover.ports import Contention

Key = tuple[str, int | None]  # (trackingId, step index); None is the flow item
OPEN = (FlowStatus.QUEUED.value, FlowStatus.IN_PROGRESS.value)


@dataclass
class CommittedWrite:
    """One committed change, for invariants: which item, and the flow's status right after it."""

    key: Key
    what: str
    flow_status: str | None
    flow_code: str | None


class InMemoryFlowRepository:
    def __init__(self, pause: Callable[[str], None] = lambda what: None, throttle: Callable[[str], bool] | None = None):
        self._items: dict[Key, dict[str, Any]] = {}
        self._tasks: dict[Key, dict[str, Any]] = {}  # the step's task item (store.py: MSG#<nn>#TASK)
        self._held: dict[Key, str] = {}  # item → the in-flight transaction holding it
        self._pause = pause
        self._throttle = throttle or (lambda what: False)
        self.log: list[CommittedWrite] = []
        self._transactions = 0

    # --- plumbing -----------------------------------------------------------------------------------------

    def _enter(self, what: str) -> None:
        self._pause(what)
        if self._throttle(what):
            raise Contention(f"{what}: ProvisionedThroughputExceededException")

    def _write(self, key: Key, what: str) -> dict[str, Any]:
        """The item for a plain (non-transactional) write: refused while a transaction holds it."""
        if key in self._held:
            raise Contention(f"{what}: TransactionConflictException")
        return self._items.setdefault(key, {})

    def _commit(self, key: Key, what: str) -> None:
        flow = self._items.get((key[0], None))
        flow = flow or {}
        self.log.append(CommittedWrite(key, what, flow.get("status"), flow.get("statusCode")))

    def _transact(self, what: str, checks: list[tuple[Key, Callable[[dict], bool]]], apply: Callable[[], None]) -> bool:
        keys = [key for key, _ in checks]
        if any(key in self._held for key in keys):
            raise Contention(f"{what}: TransactionCanceledException [TransactionConflict]")
        if not all(check(self._items.get(key, {})) for key, check in checks):
            return False
        self._transactions += 1
        name = f"tx{self._transactions}"
        for key in keys:
            self._held[key] = name
        try:
            self._pause(f"{what} (in flight)")  # other writers run while the transaction holds its items
        finally:
            # The service finishes the transaction whatever happens to the caller meanwhile.
            for key in keys:
                del self._held[key]
            apply()
            for key in keys:
                self._commit(key, what)
        return True

    # --- the flow -----------------------------------------------------------------------------------------

    def create_flow(self, flow: dict[str, Any]) -> None:
        self._enter("create_flow")
        key = (flow["trackingId"], None)
        if key in self._items:
            raise AssertionError("flow exists")
        self._items[key] = copy.deepcopy(flow)
        self._commit(key, "create_flow")

    def get_flow(self, tracking_id: str) -> dict[str, Any] | None:
        self._enter("get_flow")
        item = self._items.get((tracking_id, None))
        return copy.deepcopy(item) if item else None

    def load(self, tracking_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        self._enter("load")
        flow = self._items.get((tracking_id, None))
        if flow is None:
            return None
        indexes = sorted({i for tid, i in [*self._items, *self._tasks] if tid == tracking_id and i is not None})
        messages = [self._merged(tracking_id, index) for index in indexes]
        return copy.deepcopy(flow), [m for m in messages if "index" in m]

    def mark_in_progress(self, tracking_id: str, now: str) -> bool:
        return self._update_flow_if_open(
            tracking_id, {"status": FlowStatus.IN_PROGRESS.value, "updatedAt": now}, (FlowStatus.QUEUED.value,)
        )

    def fail_flow(self, tracking_id: str, status_code: str, channel: str | None, now: str) -> bool:
        changes = {"status": FlowStatus.FAILED.value, "statusCode": status_code, "updatedAt": now}
        if channel:
            changes["terminationChannel"] = channel
        return self._update_flow_if_open(tracking_id, changes, OPEN)

    def _update_flow_if_open(self, tracking_id: str, changes: dict[str, Any], only_from: tuple[str, ...]) -> bool:
        self._enter("update_flow")
        key = (tracking_id, None)
        item = self._write(key, "update_flow")
        if item.get("status") not in only_from:
            return False
        item.update(changes)
        self._commit(key, f"flow → {changes['status']}")
        return True

    # --- messages -----------------------------------------------------------------------------------------

    def get_message(self, tracking_id: str, index: int) -> dict[str, Any] | None:
        self._enter("get_message")
        return self._merged(tracking_id, index) or None

    def _merged(self, tracking_id: str, index: int) -> dict[str, Any]:
        """The message with its task item folded in, as store.py reads them (the task's createdAt wins)."""
        key = (tracking_id, index)
        return copy.deepcopy({**self._items.get(key, {}), **self._tasks.get(key, {})})

    def _message(self, tracking_id: str, index: int, what: str) -> dict[str, Any]:
        item = self._write((tracking_id, index), what)
        item.setdefault("index", index)
        return item

    def claim(self, tracking_id: str, index: int, task_token: str, now: str) -> dict[str, Any]:
        self._enter("claim")
        task = self._tasks.setdefault((tracking_id, index), {"index": index})  # never in a transaction
        task["taskToken"] = task_token
        task.setdefault("createdAt", now)
        task["sendAttempts"] = task.get("sendAttempts", 0) + 1
        self._commit((tracking_id, index), "claim")
        return self.get_message(tracking_id, index) or {}

    def claim_send(self, tracking_id: str, index: int) -> bool:
        """As store.py: a conditional write on the message, then a consistent read of the flow."""
        self._enter("claim_send")
        item = self._message(tracking_id, index, "claim_send")
        if "sendClaimed" in item:
            return False
        item["sendClaimed"] = True
        self._commit((tracking_id, index), "claim_send")
        flow = self.get_flow(tracking_id)
        return flow is not None and flow.get("status") in OPEN

    def release_send(self, tracking_id: str, index: int) -> None:
        self._enter("release_send")
        item = self._message(tracking_id, index, "release_send")
        item.pop("sendClaimed", None)
        item["sendRounds"] = item.get("sendRounds", 0) + 1
        self._commit((tracking_id, index), "release_send")

    def record_accepted(
        self, tracking_id: str, index: int, provider_message_id: str, price: float | None, parts: int | None
    ) -> None:
        self._enter("record_accepted")
        item = self._message(tracking_id, index, "record_accepted")
        changes = {"providerMessageId": provider_message_id, "price": price, "parts": parts}
        item.update({k: v for k, v in changes.items() if v is not None})
        self._commit((tracking_id, index), "record_accepted")

    def record_status(
        self,
        tracking_id: str,
        index: int,
        status: dict[str, Any],
        rank: int,
        now: str,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        self._enter("record_status")
        item = self._message(tracking_id, index, "record_status")
        if "statusRank" in item and item["statusRank"] >= rank:
            return False
        changes = {"status": copy.deepcopy(status), "statusRank": rank, **(extra or {})}
        item.update({k: v for k, v in changes.items() if v is not None})
        item.setdefault("createdAt", now)
        self._commit((tracking_id, index), "record_status")
        return True

    def record_part(
        self, tracking_id: str, index: int, part: int, status: str, rank: int, price: float | None
    ) -> dict[str, Any]:
        self._enter("record_part")
        item = self._message(tracking_id, index, "record_part")
        if item.get(f"part{part}Rank", -1) < rank:
            changes = {f"part{part}Status": status, f"part{part}Rank": rank, f"part{part}Price": price}
            item.update({k: v for k, v in changes.items() if v is not None})
            self._commit((tracking_id, index), "record_part")
        return self.get_message(tracking_id, index) or {}

    def resolve(self, tracking_id: str, index: int, verdict: Verdict, now: str) -> bool:
        self._enter("resolve")
        message, flow = (tracking_id, index), (tracking_id, None)
        final = flow_status_of(verdict)

        def apply() -> None:
            item = self._items.setdefault(message, {"index": index})
            item["verdict"] = verdict.model_dump(mode="json", exclude_none=True)
            item["resolvedAt"] = now
            if final is not None:
                changes = {"status": final.value, "updatedAt": now}
                if verdict.statusCode is not None:
                    changes["statusCode"] = verdict.statusCode.value
                if verdict.terminationChannel is not None:
                    changes["terminationChannel"] = verdict.terminationChannel.value
                self._items[flow].update(changes)

        if final is None:  # a NEXT verdict: one conditional write on the message (store.py), no flow check
            if "verdict" in self._write(message, "resolve"):
                return False
            apply()
            self._commit(message, "resolve")
            return True
        return self._transact(
            "resolve",
            [(message, lambda item: "verdict" not in item), (flow, lambda item: item.get("status") in OPEN)],
            apply,
        )

    def mark_resumed(self, tracking_id: str, index: int, resumed: str) -> None:
        self._enter("mark_resumed")
        self._message(tracking_id, index, "mark_resumed")["resumedToken"] = resumed
        self._commit((tracking_id, index), "mark_resumed")

    # --- for assertions (no pause) ------------------------------------------------------------------------

    def peek(self, tracking_id: str, index: int | None = None) -> dict[str, Any]:
        return copy.deepcopy(self._items.get((tracking_id, index), {}))


@dataclass
class Task:
    token: str
    index: int
    open: bool = True
    output: dict[str, Any] | None = None
    closed_by: str | None = None


@dataclass
class InMemoryWorkflow:
    """Step Functions as the protocol sees it: executions, and tasks that each complete once.

    `on_start` and `on_resume` let a test drive what the state machine does next (tests/protocol/model.py)."""

    pause: Callable[[str], None] = lambda what: None
    throttle: Callable[[str], bool] = lambda what: False
    fail: Callable[[str], bool] = lambda what: False  # the call fails (not throttled) after or before its effect
    on_start: Callable[[str, dict[str, Any]], None] = lambda name, payload: None
    on_resume: Callable[[Task], None] = lambda task: None
    on_stop: Callable[[str], None] = lambda name: None
    executions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    resume_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def _enter(self, what: str) -> None:
        self.pause(what)
        if self.throttle(what):
            raise Contention(f"{what}: ThrottlingException")

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        self._enter("StartExecution")
        if name in self.executions:
            return False
        self.executions[name] = {"input": payload, "status": "RUNNING"}
        self.on_start(name, payload)
        return True

    def stop(self, name: str, cause: str) -> bool:
        self._enter("StopExecution")
        execution = self.executions.get(name)
        if execution is None or execution["status"] != "RUNNING":
            return False
        execution["status"] = "ABORTED"
        self.on_stop(name)
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        self._enter("SendTaskSuccess")
        if self.fail("SendTaskSuccess before"):
            raise RuntimeError("SendTaskSuccess failed (injected)")
        self.resume_calls.append((task_token, output))
        task = self.tasks.get(task_token)
        if task is None or not task.open:
            return False  # TaskTimedOut / InvalidToken / TaskDoesNotExist
        task.open, task.output, task.closed_by = False, output, "resumed"
        self.on_resume(task)
        if self.fail("SendTaskSuccess after"):
            raise RuntimeError("the answer to SendTaskSuccess was lost (injected)")
        return True

    def open_tasks(self) -> list[Task]:
        return [task for task in self.tasks.values() if task.open]


def flow_is_final(flow: dict[str, Any]) -> bool:
    return flow.get("status") in FINAL_FLOW_STATUSES
