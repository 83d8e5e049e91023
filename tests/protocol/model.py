"""A world in which the real FailoverService runs against the in-memory ports, one flow at a time, with every
writer (a send_step invocation, a receipt, an expiry, a fail_flow, a cancel) in a thread of its own that the
test advances one repository/workflow call at a time. So the test chooses the interleaving, deterministically,
and can crash any writer after any one of its calls; a crashed writer is retried as AWS or the provider would
(Step Functions' Retry, the provider's receipt retries, the client repeating its cancel).

The state machine's part is emulated here (statemachine/failover.asl.json): SendStep issues a task token and
invokes send_step; a resume with NEXT enters SendStep for the next step; a failed invocation is retried with a
new token; the ttl closes the task and runs ExpireStep, whose verdict routes the execution.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from failover import domain, providers
from failover.domain import Channel, FailoverRequest, Outcome, StatusCode, Verdict
from failover.ports import Contention
from failover.providers import (
    Accepted,
    AuthenticationFailed,
    InsufficientBalance,
    OutboundMessage,
    Receipt,
    Rejected,
    Unavailable,
    Unconfirmed,
)
from failover.retries import Backoff
from failover.service import AlreadyFinished, FailoverService
from failover.signing import CallbackSigner, step_id
from tests.fakes.memory import InMemoryFlowRepository, InMemoryWorkflow, Task

PROVIDER = "model"
APPLICATION = "app"
SIGNER = CallbackSigner(lambda: "model-secret")
SEND_OUTCOMES = ("accepted",) * 8 + ("rejected", "unavailable", "unconfirmed", "no_balance", "auth_failed")


class Crash(BaseException):
    """The writer dies here (a Lambda timeout, a killed sandbox): after its previous call, before its next."""


class Stuck(AssertionError):
    pass


@dataclass(eq=False)
class Writer:
    kind: str
    label: str
    body: Callable[[], Any]
    on_done: Callable[[Writer], None]
    go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    crash_next: bool = False
    crash_before: str | None = None  # armed: the writer dies when it is about to make this call
    finished: bool = False
    result: Any = None
    error: BaseException | None = None
    at: str = "start"


class Scheduler:
    """Exactly one thread runs at a time: the controller (the test) or the writer it advanced."""

    def __init__(self) -> None:
        self._back = threading.Semaphore(0)
        self._local = threading.local()
        self.live: list[Writer] = []

    def spawn(self, kind: str, label: str, body: Callable[[], Any], on_done: Callable[[Writer], None]) -> Writer:
        writer = Writer(kind, label, body, on_done)
        self.live.append(writer)
        threading.Thread(target=self._main, args=(writer,), daemon=True, name=label).start()
        return writer

    def _main(self, writer: Writer) -> None:
        writer.go.acquire()
        self._local.writer = writer
        try:
            if writer.crash_next:
                raise Crash("at start")
            writer.result = writer.body()
        except BaseException as error:  # noqa: BLE001 - the controller judges every outcome
            writer.error = error
        finally:
            writer.finished = True
            self._back.release()

    def pause(self, what: str) -> None:
        writer: Writer | None = getattr(self._local, "writer", None)
        if writer is None:  # the controller itself (setup, assertions)
            return
        writer.at = what
        self._back.release()
        writer.go.acquire()
        if writer.crash_next or writer.crash_before == what:
            writer.crash_next, writer.crash_before = False, None
            raise Crash(what)

    def advance(self, writer: Writer, crash: bool = False) -> None:
        writer.crash_next = crash
        writer.go.release()
        if not self._back.acquire(timeout=20):
            raise Stuck(f"{writer.label} did not come back from {writer.at}")
        if writer.finished:
            self.live.remove(writer)
            writer.on_done(writer)


@dataclass
class Offered:
    """What a step's message was told, for the 'no receipt is lost' invariant."""

    ranks: list[int] = field(default_factory=list)
    parts: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))


class ModelProvider:
    name = PROVIDER

    def __init__(self, world: World):
        self._world = world

    def send(self, message: OutboundMessage) -> Accepted:
        index = int(message.step_id.rpartition(".")[2])
        outcome = self._world.send_outcomes[index]
        if outcome == "unavailable" and index not in self._world.refused:
            self._world.refused.add(index)  # an outage outlasting the send's retries; over by the next round
            raise Unavailable("the provider stayed unavailable")
        self._world.on_send(message)
        self._world.scheduler.pause("provider answering")  # receipts may overtake the send's answer
        if outcome == "rejected":
            raise Rejected("rejected by the model")
        if outcome == "unconfirmed":
            raise Unconfirmed("the answer was lost: the step waits for its receipt")
        if outcome == "no_balance":
            raise InsufficientBalance("Insufficient Balance")
        if outcome == "auth_failed":
            raise AuthenticationFailed("401")
        return Accepted(provider_message_id=f"m-{message.step_id}")

    def parse_receipt(self, channel: Channel, body: bytes) -> Receipt:
        data = json.loads(body)
        return Receipt(status=data["status"], part=data.get("part"), parts=data.get("parts"))


class World:
    def __init__(
        self,
        channels: list[Channel],
        send_outcomes: list[str],
        service_class: type[FailoverService] = FailoverService,
    ):
        self.scheduler = Scheduler()
        self.throttles = 0  # the next n repository or workflow calls are throttled
        self.repository = InMemoryFlowRepository(pause=self.scheduler.pause, throttle=self._throttled)
        self.workflow = InMemoryWorkflow(
            pause=self.scheduler.pause,
            throttle=self._throttled,
            on_start=self._on_start,
            on_resume=self._on_resume,
            on_stop=self._on_stop,
        )
        self.channels = channels
        self.send_outcomes = send_outcomes
        self.sends: dict[int, int] = defaultdict(int)  # sends that may have reached the provider
        self.refused: set[int] = set()  # steps whose first send met an outage
        self.violations: list[str] = []
        self.offered: dict[int, Offered] = defaultdict(Offered)
        self.events: set[str] = set()  # "fail_flow", "cancel"
        self._tokens = itertools.count(1)
        providers.register(PROVIDER, lambda: ModelProvider(self))
        self.service = service_class(
            store=self.repository,
            workflow=self.workflow,
            signer=SIGNER,
            public_api_url="https://api.example",
            provider_name=PROVIDER,
            backoff=Backoff(attempts=4, sleep=lambda seconds: self.scheduler.pause("backoff"), jitter=lambda a, b: b),
        )
        steps = [_step(channel, order) for order, channel in enumerate(channels, start=1)]
        self.tracking_id = self.service.create_flow(FailoverRequest.model_validate({"flow": steps}), APPLICATION)[
            "trackingId"
        ]

    def _throttled(self, what: str) -> bool:
        if self.throttles > 0 and "in flight" not in what:
            self.throttles -= 1
            return True
        return False

    # --- the state machine ----------------------------------------------------------------------------

    @property
    def execution(self) -> dict[str, Any]:
        return self.workflow.executions[self.tracking_id]

    def _on_start(self, name: str, payload: dict[str, Any]) -> None:
        self._enter_send_step(payload["step"]["index"])

    def _enter_send_step(self, index: int) -> None:
        token = f"token-{index}-{next(self._tokens)}"
        task = Task(token=token, index=index)
        self.workflow.tasks[token] = task

        def done(writer: Writer) -> None:
            if writer.error is None:
                return
            self._expect_transient(writer)
            if task.open:  # the invocation failed: Step Functions retries the state with a new token
                task.open, task.closed_by = False, "failed"
                self._enter_send_step(index)

        self.scheduler.spawn(
            "send_step", f"send_step {token}", lambda: self.service.send_step(self.tracking_id, index, token), done
        )

    def _on_resume(self, task: Task) -> None:
        self._route(Verdict.model_validate(task.output))

    def _route(self, verdict: Verdict) -> None:
        if self.execution["status"] != "RUNNING":
            return
        if verdict.outcome in (Outcome.NEXT, Outcome.RETRY):  # RETRY: RetrySend waits, then the same step
            assert verdict.index is not None
            self._enter_send_step(verdict.index)
        else:
            self.execution["status"] = "SUCCEEDED"

    def _on_stop(self, name: str) -> None:
        for task in self.workflow.open_tasks():
            task.open, task.closed_by = False, "stopped"

    def open_task(self) -> Task | None:
        tasks = self.workflow.open_tasks()
        return tasks[0] if tasks else None

    def expire(self) -> bool:
        """The open task's ttl passes: Step Functions closes it and runs ExpireStep."""
        task = self.open_task()
        if task is None:
            return False
        task.open, task.closed_by = False, "timed out"
        self._run_expiry(task.index)
        return True

    def _run_expiry(self, index: int) -> None:
        def done(writer: Writer) -> None:
            if writer.error is not None:
                self._expect_transient(writer)
                self._run_expiry(index)  # Retry on the ExpireStep state
            else:
                self._route(Verdict.model_validate(writer.result))

        self.scheduler.spawn(
            "expire", f"expire {index}", lambda: self.service.expire_step(self.tracking_id, index), done
        )

    def fail_flow(self) -> bool:
        """An error the state machine does not retry: Catch → FailFlow."""
        task = self.open_task()
        if task is None:
            return False
        task.open, task.closed_by = False, "failed"
        self.events.add("fail_flow")
        self._run_fail_flow()
        return True

    def _run_fail_flow(self) -> None:
        def done(writer: Writer) -> None:
            if writer.error is not None:
                self._expect_transient(writer)
                self._run_fail_flow()
            elif self.execution["status"] == "RUNNING":
                self.execution["status"] = "FAILED"

        self.scheduler.spawn(
            "fail_flow", "fail_flow", lambda: self.service.fail_flow(self.tracking_id, {"Error": "X"}), done
        )

    def cancel(self) -> None:
        self.events.add("cancel")

        def body() -> None:
            with contextlib.suppress(AlreadyFinished):  # a repeated cancel: the flow is already over
                self.service.cancel(self.tracking_id, APPLICATION)

        def done(writer: Writer) -> None:
            if writer.error is not None:
                self._expect_transient(writer)
                self.scheduler.spawn("cancel", "cancel (again)", body, done)  # the client repeats its request

        self.scheduler.spawn("cancel", "cancel", body, done)

    # --- receipts ---------------------------------------------------------------------------------------

    def receipt(self, index: int, status: str, part: int | None, crash_before: str | None = None) -> None:
        body: dict[str, Any] = {"status": status}
        if part is not None:
            body.update(part=part, parts=2)
        token = SIGNER.sign(step_id(self.tracking_id, index))
        channel = self.channels[index]

        def run() -> None:
            self.service.ingest_receipt(PROVIDER, token, json.dumps(body).encode())

        def done(writer: Writer) -> None:
            if writer.error is not None:
                self._expect_transient(writer)
                self.scheduler.spawn("receipt", writer.label + " (again)", run, done)  # the provider retries
                return
            offered = self.offered[index]  # answered 2xx: it must never be lost
            if part is None:
                offered.ranks.append(domain.status_rank(channel, status))
            else:
                offered.parts[part].append(status)

        writer = self.scheduler.spawn("receipt", f"receipt {index} {status} part {part}", run, done)
        writer.crash_before = crash_before

    # --- invariants -------------------------------------------------------------------------------------

    def on_send(self, message: OutboundMessage) -> None:
        index = int(message.step_id.rpartition(".")[2])
        self.sends[index] += 1
        if self.sends[index] > 1:
            self.violations.append(f"step {index} sent {self.sends[index]} times")
        claims = [w for w in self.repository.log if w.key == (self.tracking_id, index) and w.what == "claim_send"]
        if not claims or claims[-1].flow_status in domain.FINAL_FLOW_STATUSES:
            self.violations.append(f"step {index} sent without a claim on the open flow: {claims}")
        if index > 0 and "verdict" not in self.repository.peek(self.tracking_id, index - 1):
            self.violations.append(f"step {index} sent before step {index - 1} had a verdict")
        for earlier in range(index):
            if self.repository.peek(self.tracking_id, earlier).get("verdict", {}).get("outcome") != Outcome.NEXT:
                self.violations.append(f"step {index} sent although step {earlier} did not fail over")

    def _expect_transient(self, writer: Writer) -> None:
        if not isinstance(writer.error, Crash | Contention):
            self.violations.append(f"{writer.label} failed: {writer.error!r}")

    def drain(self, limit: int = 5000) -> None:
        """Run every live writer to its end, round robin, newest first: they still interleave call by call."""
        for _ in range(limit):
            if not self.scheduler.live:
                return
            for writer in reversed(list(self.scheduler.live)):
                if not writer.finished:
                    self.scheduler.advance(writer)
        raise Stuck(f"writers still running after {limit} rounds: {[w.label for w in self.scheduler.live]}")

    def complete(self) -> None:
        """Retry all work to completion; let ttls pass only for tasks that legitimately wait for a receipt."""
        self.throttles = 0
        for _ in range(4 * len(self.channels) + 4):
            self.drain()
            task = self.open_task()
            if task is None:
                return
            message = self.repository.peek(self.tracking_id, task.index)
            if "verdict" in message:
                self.violations.append(
                    f"stall: the task of step {task.index} waits although its verdict is {message['verdict']}"
                )
            self.expire()
        raise Stuck("the execution never ended")

    def check(self) -> None:
        assert not self.violations, self.violations
        tid = self.tracking_id
        flow = self.repository.peek(tid)
        messages = {i: self.repository.peek(tid, i) for i in range(len(self.channels))}
        assert self.execution["status"] != "RUNNING", "the execution never ended"
        assert not self.workflow.open_tasks(), "a task still waits"
        # each step has at most one verdict; at most one verdict ends the flow
        for index in messages:
            resolved = [w for w in self.repository.log if w.key == (tid, index) and w.what == "resolve"]
            assert len(resolved) <= 1, f"step {index} resolved {len(resolved)} times"
        verdicts = {i: Verdict.model_validate(m["verdict"]) for i, m in messages.items() if "verdict" in m}
        ending = [v for v in verdicts.values() if v.outcome is not Outcome.NEXT]
        assert len(ending) <= 1, ending
        # each step sent at most once (also checked at each send)
        assert all(count <= 1 for count in self.sends.values()), self.sends
        # every resumed task got its step's verdict
        for task in self.workflow.tasks.values():
            if task.closed_by == "resumed" and task.index in verdicts and task.output["outcome"] != Outcome.RETRY:
                assert Verdict.model_validate(task.output) == verdicts[task.index], (task, verdicts[task.index])
        # no receipt is lost: each message keeps the highest-ranked status it was told
        for index, offered in self.offered.items():
            channel = self.channels[index]
            expected = list(offered.ranks)
            if offered.parts:
                best = {part: max(s, key=lambda s: domain.status_rank(channel, s)) for part, s in offered.parts.items()}
                combined = domain.combine_parts(channel, {1: best.get(1), 2: best.get(2)})
                expected.append(domain.status_rank(channel, combined))
            if expected:
                assert messages[index].get("statusRank", -1) >= max(expected), (index, messages[index], offered)
        # the flow's status only moves forward, and never changes once final
        order = {"Queued": 0, "InProgress": 1, "Succeeded": 2, "Failed": 2}
        history = [(w.flow_status, w.flow_code) for w in self.repository.log if w.key[0] == tid]
        assert [order[s] for s, _ in history] == sorted(order[s] for s, _ in history), history
        finals = {h for h in history if h[0] in domain.FINAL_FLOW_STATUSES}
        assert len(finals) <= 1, f"the final status changed: {finals}"
        # statusCode follows the seed's rules
        assert flow["status"] in domain.FINAL_FLOW_STATUSES, flow["status"]
        if ending:
            verdict = ending[0]
            assert flow["status"] == domain.flow_status_of(verdict), (flow, verdict)
            assert flow.get("statusCode") == (verdict.statusCode.value if verdict.statusCode else None), (flow, verdict)
            assert flow.get("terminationChannel") == (
                verdict.terminationChannel.value if verdict.terminationChannel else None
            )
            if verdict.statusCode is StatusCode.SERVER_ERROR:
                assert "auth_failed" in self.send_outcomes
        else:
            allowed = {StatusCode.SERVER_ERROR.value} if "fail_flow" in self.events else set()
            allowed |= {StatusCode.CANCELLED.value} if "cancel" in self.events else set()
            assert flow["status"] == "Failed" and flow.get("statusCode") in allowed, (flow, self.events)

    def stop(self) -> None:
        """Crash whatever still runs (after a failed assertion), so no thread outlives the example."""
        for writer in list(self.scheduler.live):
            while not writer.finished:
                self.scheduler.advance(writer, crash=True)


def _step(channel: Channel, order: int) -> dict[str, Any]:
    to = "+306900000001"
    if channel is Channel.VIBER:
        return {"type": "Viber", "order": order, "to": to, "senderInfoTrackingId": "bank", "message": {"text": "PIN"}}
    if channel is Channel.SMS:
        return {"type": "Sms", "order": order, "from": "Bank", "to": to, "message": {"body": "PIN 1234"}}
    say = {"type": "SAY", "message": {"text": "1 2 3 4", "language": "en-US", "gender": "female"}}
    return {"type": "Voice", "order": order, "from": "302101234567", "to": {"phone": to}, "dialPlan": {"verbs": [say]}}
