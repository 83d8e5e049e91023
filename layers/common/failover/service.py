"""Failover use cases. Handlers parse, call one method here, and map the result.

Every path that can move a step on (a receipt, a send, a timeout) follows one protocol:
write its own fact conditionally, then `_advance`: read the message consistently, resolve its verdict once
(conditional write), and resume the waiting task once per token (conditional write). Whichever writer comes
last sees every earlier fact, so no receipt is lost and nothing resumes twice, in any order of arrival.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from failover import cursor as cursors
from failover import domain, providers
from failover.domain import Channel, StatusCode, Verdict
from failover.observability import count, logger
from failover.ports import FlowRepository, Workflow
from failover.providers import (
    AuthenticationFailed,
    InsufficientBalance,
    OutboundMessage,
    Receipt,
    SendError,
    Unavailable,
    Unconfirmed,
)
from failover.retries import Backoff, retrying
from failover.signing import CallbackSigner, parse_step_id, step_id, token_digest

if TYPE_CHECKING:  # only the api function's wiring builds one (Powertools Idempotency)
    from failover.idempotency import IdempotentCalls
    from failover.models import FailoverRequest  # pydantic: only the api validates requests (tests/lean)

# A search reads at least this many index items (spread over the shards): a range that holds no more is read to
# its end, so its totalElements is exact; a page of a larger range costs about this plus the page.
SEARCH_READ_AT_LEAST = 100


class ReceiptResult(StrEnum):
    RECORDED = "recorded"  # a new status was written
    UNCHANGED = "unchanged"  # duplicate or stale: nothing new to write


class Unauthorized(Exception):
    """A receipt without a valid signed token."""


class NotFound(Exception):
    pass


class InvalidRequest(Exception):
    """Input that passed validation but not a check that needs the outside world (e.g. DNS)."""

    def __init__(self, properties: dict[str, str]):
        super().__init__(", ".join(properties))
        self.properties = properties


class Conflict(Exception):
    """A receipt that does not belong to the step its token names."""


class AlreadyFinished(Exception):
    """A cancel of a flow that has already ended (Succeeded or Failed)."""

    def __init__(self, tracking_id: str, status: str):
        super().__init__(f"Flow {tracking_id} has already ended: {status}")
        self.status = status


# A send retried through an outage stops this long before the step's ttl, and this long before the function's
# timeout (to record the outcome and resume the task); see providers/routee.py for the retry window itself.
SEND_TTL_MARGIN_SECONDS = 1.0
SEND_FUNCTION_MARGIN_SECONDS = 15.0
# When the provider stayed unavailable for the whole in-function window and the ttl leaves time, the step is
# sent again after a wait (the state machine's RetrySend), doubling from the first to the last (scaled).
SEND_AGAIN_FIRST_WAIT_SECONDS = 30
SEND_AGAIN_MAX_WAIT_SECONDS = 600


@dataclass(frozen=True)
class Clock:
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


class FailoverService:
    def __init__(
        self,
        store: FlowRepository,
        workflow: Workflow,
        signer: CallbackSigner,
        public_api_url: str,
        provider_name: str,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        callback_url_problem: Callable[[str], str | None] | None = None,
        idempotency: IdempotentCalls | None = None,
        backoff: Backoff | None = None,
    ):
        # Every call to the table and to Step Functions is retried on a transient refusal (ports.Contention).
        self._store = retrying(store, backoff)
        self._workflow = retrying(workflow, backoff)
        self._signer = signer
        self._public_api_url = public_api_url
        self._provider_name = provider_name
        self._scale = time_scale
        self._clock = clock or Clock()
        self._callback_url_problem = callback_url_problem or (lambda url: None)
        self._idempotency = idempotency
        self._context: Any = None

    def bind_invocation(self, context: Any) -> None:
        """The Lambda context of the current invocation (Idempotency and the send's retries read its time left)."""
        self._context = context
        if self._idempotency is not None:
            self._idempotency.register_lambda_context(context)

    def _send_retry_budget(self, flow: dict[str, Any], index: int) -> float:
        """How long a send may retry a provider outage: within the step's ttl and the function's time left."""
        budget = float(flow["timeouts"][index]) - SEND_TTL_MARGIN_SECONDS
        if self._context is not None:
            budget = min(budget, self._context.get_remaining_time_in_millis() / 1000 - SEND_FUNCTION_MARGIN_SECONDS)
        return max(0.0, budget)

    def _now(self) -> str:
        return domain.timestamp(self._clock.now())

    # --- API -----------------------------------------------------------------------------------------------

    def create_flow(
        self, request: FailoverRequest, application_id: str, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """With an Idempotency-Key: once per (application, key) for 24 h; the same body gets the first answer again.

        Another body with a used key raises IdempotencyValidationError; a first request still running with the
        same key raises IdempotencyAlreadyInProgressError.
        """
        if idempotency_key is None or self._idempotency is None:
            return self._create_flow(request, application_id)
        body = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        return self._idempotency.run(
            application_id, idempotency_key, body, lambda: self._create_flow(request, application_id)
        )

    def _create_flow(self, request: FailoverRequest, application_id: str) -> dict[str, Any]:
        """Store the flow, then start its execution named after its trackingId (so it can never run twice)."""
        if request.callback is not None and (problem := self._callback_url_problem(request.callback.url)):
            raise InvalidRequest({"callback.url": problem})
        tracking_id = str(uuid.uuid4())
        now = self._clock.now()
        steps = request.ordered_steps()
        timeouts = [domain.step_timeout_seconds(s.ttl_minutes, self._scale) for s in steps]
        flow: dict[str, Any] = {
            "trackingId": tracking_id,
            "applicationId": application_id,
            "status": domain.FlowStatus.QUEUED.value,
            "createdAt": domain.timestamp(now),
            "updatedAt": domain.timestamp(now),
            "steps": [domain.step_definition(s) for s in steps],
            "timeouts": timeouts,
        }
        if request.callback is not None:
            flow["callback"] = request.callback.model_dump(mode="json")
            flow["notify"] = True
        if request.scheduledDate is not None:
            flow["scheduledDate"] = domain.timestamp(request.scheduledDate)
        if request.restrictions is not None:
            flow["restrictions"] = request.restrictions
        self._store.create_flow(flow)
        execution_input = {
            "trackingId": tracking_id,
            "waitSeconds": domain.schedule_wait_seconds(request.scheduledDate, now, self._scale),
            "step": {"index": 0, "timeoutSeconds": timeouts[0]},
        }
        try:
            self._workflow.start(tracking_id, execution_input)
        except Exception:
            self._store.fail_flow(tracking_id, StatusCode.SERVER_ERROR.value, None, self._now())
            raise
        logger.info("Flow created", extra={"trackingId": tracking_id, "steps": len(steps)})
        count("FlowsCreated")
        return domain.created_flow(flow)

    def snapshot(self, tracking_id: str, application_id: str) -> dict[str, Any]:
        """Another application's flow is as unknown as a flow that does not exist."""
        loaded = self._store.load(tracking_id)
        if loaded is None or loaded[0].get("applicationId") != application_id:
            raise NotFound(tracking_id)
        flow, messages = loaded
        return domain.flow_snapshot(flow, messages)

    def cancel(self, tracking_id: str, application_id: str) -> dict[str, Any]:
        """A Queued or InProgress flow ends Failed "4": no later step is sent; current receipts are still recorded.

        The flow's status changes first (conditionally), then its execution stops. A step that a racing verdict
        already moved on finds the flow ended in send_step and sends nothing.
        """
        flow = self._store.get_flow(tracking_id)
        if flow is None or flow.get("applicationId") != application_id:
            raise NotFound(tracking_id)
        if not self._store.fail_flow(tracking_id, StatusCode.CANCELLED.value, None, self._now()):
            current = self._store.get_flow(tracking_id) or flow
            if current.get("statusCode") == StatusCode.CANCELLED.value:
                # A repeated cancel: the first may have died before it stopped the execution.
                self._workflow.stop(tracking_id, "cancelled through the API")
            raise AlreadyFinished(tracking_id, current["status"])
        self._workflow.stop(tracking_id, "cancelled through the API")
        logger.info("Flow cancelled", extra={"trackingId": tracking_id})
        count("FlowsCancelled")
        return self.snapshot(tracking_id, application_id)

    def search(self, request: domain.TrackingSearch, application_id: str) -> dict[str, Any]:
        """One page of the caller's flows created in a time range, newest first, that pass the search's filter.

        With pageToken the page starts after the previous one and reads about one page from each index shard.
        Routee's page/size read every flow before the page as well (capped by domain.MAX_SEARCH_OFFSET). The
        total is exact when the range was read to its end (small ranges always are: SEARCH_READ_AT_LEAST);
        otherwise it is a lower bound, and the page says so."""
        cursor = request.cursor
        size = request.size
        if cursor is not None:
            skip, before_page, number, before = 0, cursor.offset, cursor.number, cursor.before
        else:
            skip, before_page, number, before = request.page * size, 0, request.page, None
        found = self._store.search(
            application_id,
            domain.timestamp(request.dateStart),
            domain.timestamp(request.dateEnd),
            limit=skip + size,
            before=before,
            accept=request.matches,
            read_at_least=SEARCH_READ_AT_LEAST,
        )
        flows = found.flows[skip:]
        offset = before_page + skip
        exact = found.remaining is not None
        total = before_page + len(found.flows) + (found.remaining if exact else int(found.more))
        next_token = None
        if found.more and flows:
            next_token = cursors.encode(
                cursors.Cursor(before=cursors.search_key(flows[-1]), offset=offset + len(flows), number=number + 1),
                request.fingerprint,
            )
        messages = self._store.messages_of(flows)
        content = [domain.flow_snapshot(f, messages[f["trackingId"]]) for f in flows]
        return domain.search_page(content, number, size, total, exact, not found.more, next_token)

    # --- the state machine's tasks -------------------------------------------------------------------------

    def send_step(self, tracking_id: str, index: int, task_token: str) -> None:
        """Record the token, send the step unless an earlier attempt already did, then advance."""
        flow = self._flow(tracking_id)
        definition = flow["steps"][index]
        channel = Channel(definition["type"])
        if flow["status"] in domain.FINAL_FLOW_STATUSES:
            self._end_task(flow, index, task_token)
            return
        claimed = self._store.claim(tracking_id, index, task_token, self._now())
        if flow["status"] == domain.FlowStatus.QUEUED:  # a status only moves forward: else the write would refuse
            self._store.mark_in_progress(tracking_id, self._now())
        status = (claimed.get("status") or {}).get("name")
        if status is not None and domain.is_final(channel, status):
            logger.warning("Step already has a final status; not sending", extra={"trackingId": tracking_id})
        elif claimed.get("sendClaimed"):
            # A retried invocation: the attempt that claimed the send owns it; never send a step twice.
            logger.warning("Step already sent; not sending again", extra={"trackingId": tracking_id, "index": index})
        elif self._store.claim_send(tracking_id, index):
            if self._send(flow, index, channel, definition, claimed, task_token):
                return  # the provider is down: the state machine sends this step again later
        else:
            current = self._flow(tracking_id)
            if current["status"] in domain.FINAL_FLOW_STATUSES:  # cancelled (or failed) meanwhile
                self._end_task(current, index, task_token)
                return
        self._advance(flow, index)

    def _end_task(self, flow: dict[str, Any], index: int, task_token: str) -> None:
        """The flow ended while this step was on its way: send nothing, end the execution with the step's own
        verdict if a receipt already resolved it (the flow ended through it), else with the flow's end."""
        logger.warning("Flow already ended; not sending", extra={"trackingId": flow["trackingId"], "index": index})
        resolved = (self._store.get_message(flow["trackingId"], index) or {}).get("verdict")
        ended = Verdict.model_validate(resolved) if resolved else None
        if ended is None or ended.outcome is domain.Outcome.NEXT:
            ended = Verdict(
                outcome=domain.Outcome.FAILED
                if flow["status"] == domain.FlowStatus.FAILED
                else domain.Outcome.SUCCEEDED,
                statusCode=StatusCode(flow["statusCode"]) if flow.get("statusCode") else None,
                terminationChannel=flow.get("terminationChannel"),
            )
        self._workflow.resume(task_token, ended.model_dump(mode="json", exclude_none=True))

    def _send(
        self,
        flow: dict[str, Any],
        index: int,
        channel: Channel,
        definition: dict[str, Any],
        claimed: dict[str, Any],
        task_token: str,
    ) -> bool:
        """Send the step; True when the provider stayed unavailable and the step will be sent again later."""
        tracking_id = flow["trackingId"]
        provider = providers.get(self._provider_name)
        callback_url = (
            f"{self._public_api_url}/webhooks/{self._provider_name}/{self._signer.sign(step_id(tracking_id, index))}"
        )
        message = OutboundMessage(
            step_id(tracking_id, index), channel, definition, callback_url, self._send_retry_budget(flow, index)
        )
        try:
            accepted = provider.send(message)
        except Unconfirmed as lost:
            self._record_unconfirmed(flow, index, channel, lost)
            return False
        except Unavailable as outage:
            if self._send_again_later(flow, index, claimed, task_token, outage):
                return True
            self._record_refusal(flow, index, channel, outage)
            return False
        except SendError as refusal:
            self._record_refusal(flow, index, channel, refusal)
            return False
        # The answer's status and details (country, sender name) and the provider's id in one write; the id
        # alone when the answer has no status or a receipt overtook it with a higher one.
        provider_fields = {
            "providerMessageId": accepted.provider_message_id,
            "price": accepted.price,
            "parts": accepted.parts,
        }
        answer = Receipt(status=accepted.status, details=accepted.details) if accepted.status is not None else None
        if answer is None or not self._record(flow, index, channel, answer, extra=provider_fields):
            self._store.record_accepted(
                tracking_id, index, accepted.provider_message_id, accepted.price, accepted.parts
            )
        logger.info("Step sent", extra={"trackingId": tracking_id, "index": index, "channel": channel.value})
        count("MessagesSent", channel)
        return False

    def _send_again_later(
        self, flow: dict[str, Any], index: int, claimed: dict[str, Any], task_token: str, outage: Unavailable
    ) -> bool:
        """An outage outlasted the in-function retries. If the step's ttl leaves time for a wait and another
        try, release the send claim and hand the task a RETRY: the state machine waits, then sends again."""
        rounds = int(claimed.get("sendRounds") or 0)
        wait = domain.scaled_seconds(
            min(SEND_AGAIN_MAX_WAIT_SECONDS, SEND_AGAIN_FIRST_WAIT_SECONDS * 2**rounds), self._scale, minimum=1
        )
        started = domain.parse_timestamp(claimed.get("createdAt") or self._now())
        left = float(flow["timeouts"][index]) - (self._clock.now() - started).total_seconds() - wait
        if left < 1:  # Step Functions' smallest task timeout
            return False
        self._store.release_send(flow["trackingId"], index)
        again = Verdict(outcome=domain.Outcome.RETRY, index=index, timeoutSeconds=int(left), waitSeconds=wait)
        logger.warning(
            "Provider unavailable; sending the step again later",
            extra={"trackingId": flow["trackingId"], "index": index, "wait": wait, "reason": outage.reason},
        )
        count("SendsDeferred", flow["steps"][index]["type"])
        self._workflow.resume(task_token, again.model_dump(mode="json", exclude_none=True))
        return True

    def _record_unconfirmed(self, flow: dict[str, Any], index: int, channel: Channel, lost: Unconfirmed) -> None:
        """The send may have reached the provider: never send it again; wait for its receipt until the ttl."""
        logger.warning(
            "Send unconfirmed; waiting for a receipt until the ttl",
            extra={"trackingId": flow["trackingId"], "index": index, "reason": lost.reason},
        )
        count("SendsUnconfirmed", channel)
        pending = next(s for s, kind in domain.STATUSES[channel].items() if kind is domain.Kind.PENDING)
        self._record(
            flow, index, channel, Receipt(status=pending, detailed_status="Unconfirmed", description=lost.reason)
        )

    def _record_refusal(self, flow: dict[str, Any], index: int, channel: Channel, refusal: SendError) -> None:
        tracking_id = flow["trackingId"]
        if isinstance(refusal, InsufficientBalance):
            status, forced = domain.NO_BALANCE_STATUS[channel], None
        elif isinstance(refusal, AuthenticationFailed):
            status, forced = domain.FAILED_STATUS[channel], StatusCode.SERVER_ERROR
        else:  # rejected, or the provider stayed unavailable: the failover rules apply
            status, forced = domain.FAILED_STATUS[channel], None
        logger.warning(
            "Provider refused the step",
            extra={"trackingId": tracking_id, "index": index, "refusal": type(refusal).__name__},
        )
        count("SendsRefused", channel)
        self._record(
            flow,
            index,
            channel,
            Receipt(status=status, detailed_status=type(refusal).__name__, description=refusal.reason),
            extra={"forcedStatusCode": forced.value if forced else None},
        )

    def expire_step(self, tracking_id: str, index: int) -> dict[str, Any]:
        """The step's ttl passed: it takes its channel's expiry status unless a final status is already in."""
        flow = self._flow(tracking_id)
        channel = Channel(flow["steps"][index]["type"])
        status, detailed = domain.EXPIRY_STATUS[channel]
        self._store.record_status(
            tracking_id,
            index,
            self._status_map(Receipt(status=status, detailed_status=detailed, description="ttl passed")),
            domain.EXPIRY_RANK,
            self._now(),
            extra=_notify(flow),
        )
        message = self._store.get_message(tracking_id, index) or {}
        if message.get("taskToken") and message.get("resumedToken") != token_digest(message["taskToken"]):
            # The task that held this token timed out: nobody needs to resume it any more.
            self._store.mark_resumed(tracking_id, index, token_digest(message["taskToken"]))
        verdict = self._advance(flow, index)
        if verdict is None:
            # Only a DELIVERED that awaits SEEN (expireOnDelivery) is final yet undecided: it expires now. That
            # expiry ranks above DELIVERED and below SEEN, so after it every status is decisive.
            now = self._now()
            self._store.record_status(
                tracking_id,
                index,
                self._status_map(Receipt(status=status, detailed_status="Expired on delivery", description="not seen")),
                domain.EXPIRED_ON_DELIVERY_RANK,
                now,
                extra={"expiredOnDeliveryAt": now, **_notify(flow)},
            )
            verdict = self._advance(flow, index)
        if verdict is None:  # cannot happen: an expiry status is final
            raise RuntimeError(f"step {index} of {tracking_id} has no verdict after expiry")
        return verdict.model_dump(mode="json", exclude_none=True)

    def fail_flow(self, tracking_id: str, error: dict[str, Any] | None) -> None:
        """An unexpected error in the workflow ends the flow Failed "0" (server error)."""
        logger.error("Workflow error", extra={"trackingId": tracking_id, "error": error})
        if self._store.fail_flow(tracking_id, StatusCode.SERVER_ERROR.value, None, self._now()):
            count("FlowsFailed")

    # --- receipts ------------------------------------------------------------------------------------------

    def ingest_receipt(self, provider_name: str, callback_token: str, body: bytes) -> ReceiptResult:
        signed = self._signer.verify(callback_token)
        if signed is None:
            raise Unauthorized("bad callback token")
        tracking_id, index = parse_step_id(signed)
        flow = self._flow(tracking_id)
        if not providers.known(provider_name) or index >= len(flow["steps"]):
            raise NotFound(signed)
        channel = Channel(flow["steps"][index]["type"])
        receipt = providers.get(provider_name).parse_receipt(channel, body)
        message = self._store.get_message(tracking_id, index) or {}
        known_id = message.get("providerMessageId")
        if known_id and receipt.provider_message_id and known_id != receipt.provider_message_id:
            raise Conflict("receipt is for another message")
        recorded = self._record(flow, index, channel, receipt)
        # Advance even on a duplicate: a retried receipt may be the one that finds the step unresolved.
        self._advance(flow, index)
        return ReceiptResult.RECORDED if recorded else ReceiptResult.UNCHANGED

    # --- internals -----------------------------------------------------------------------------------------

    def _flow(self, tracking_id: str) -> dict[str, Any]:
        flow = self._store.get_flow(tracking_id)
        if flow is None:
            raise NotFound(tracking_id)
        return flow

    def _status_map(self, receipt: Receipt) -> dict[str, Any]:
        return {
            "name": receipt.status,
            "reason": {"detailedStatus": receipt.detailed_status, "description": receipt.description},
            "updatedDate": receipt.updated or self._now(),
        }

    def _record(
        self,
        flow: dict[str, Any],
        index: int,
        channel: Channel,
        receipt: Receipt,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        tracking_id = flow["trackingId"]
        status = receipt.status
        if receipt.parts and receipt.parts > 1 and receipt.part:
            # A multi-part SMS: each part reports; the message's status combines them.
            message = self._store.record_part(
                tracking_id, index, receipt.part, status, domain.status_rank(channel, status), receipt.price
            )
            numbers = range(1, receipt.parts + 1)
            status = domain.combine_parts(channel, {n: message.get(f"part{n}Status") for n in numbers})
            prices = [message[f"part{n}Price"] for n in numbers if message.get(f"part{n}Price") is not None]
            receipt = Receipt(
                status=status,
                provider_message_id=receipt.provider_message_id,
                detailed_status=receipt.detailed_status if status == receipt.status else None,
                description=receipt.description if status == receipt.status else None,
                updated=receipt.updated,
                price=round(sum(prices), 6) if prices else None,  # each part is charged
                parts=receipt.parts,
                details=receipt.details,
            )
        recorded = self._store.record_status(
            tracking_id,
            index,
            self._status_map(receipt),
            domain.status_rank(channel, status),
            self._now(),
            extra={"price": receipt.price, **receipt.details, **_notify(flow), **(extra or {})},
        )
        if recorded:
            logger.info(
                "Message status",
                extra={"trackingId": tracking_id, "index": index, "channel": channel.value, "status": status},
            )
            if domain.is_success(channel, status):
                self._audit_late_delivery(tracking_id, index, channel)
        return recorded

    def _audit_late_delivery(self, tracking_id: str, index: int, channel: Channel) -> None:
        """A success on a step the flow has already moved on from: the person got the message on two channels."""
        verdict = (self._store.get_message(tracking_id, index) or {}).get("verdict")
        if verdict and verdict.get("outcome") != domain.Outcome.SUCCEEDED:
            logger.warning("Late delivery", extra={"trackingId": tracking_id, "index": index, "channel": channel})
            count("LateDeliveries", channel)

    def _advance(self, flow: dict[str, Any], index: int) -> Verdict | None:
        """Resolve the step once its status is final; resume the waiting task until Step Functions confirms.

        The resume is recorded (resumedToken: the token's digest) only after SendTaskSuccess answered. Until then
        every writer that passes here (a duplicate receipt, a retried invocation) calls it again; Step Functions
        completes a task once and answers TaskTimedOut to the others (workflow.py), so repeating it is harmless,
        and a writer that dies between the verdict and the resume cannot stall the task."""
        tracking_id = flow["trackingId"]
        message = self._store.get_message(tracking_id, index) or {}
        if "verdict" not in message:
            verdict = self._judge(flow, index, message)
            if verdict is None:
                return None
            if self._store.resolve(tracking_id, index, verdict, self._now()):
                self._count_verdict(flow, index, verdict)
            message = self._store.get_message(tracking_id, index) or {}
            if "verdict" not in message:  # the flow was already ended (fail_flow): nothing to resume
                return verdict
        verdict = Verdict.model_validate(message["verdict"])
        token = message.get("taskToken")
        if token and message.get("resumedToken") != token_digest(token):
            self._workflow.resume(token, verdict.model_dump(mode="json", exclude_none=True))
            self._store.mark_resumed(tracking_id, index, token_digest(token))
        return verdict

    def _judge(self, flow: dict[str, Any], index: int, message: dict[str, Any]) -> Verdict | None:
        definition = flow["steps"][index]
        channel = Channel(definition["type"])
        status = (message.get("status") or {}).get("name")
        if not domain.is_decisive(channel, status, bool(definition.get("expireOnDelivery"))):
            return None
        following = index + 1
        next_step = (following, flow["timeouts"][following]) if following < len(flow["steps"]) else None
        forced = message.get("forcedStatusCode")
        return domain.judge(
            channel,
            status,
            definition["failoverOnStatuses"],
            next_step,
            forced_code=StatusCode(forced) if forced else None,
        )

    def _count_verdict(self, flow: dict[str, Any], index: int, verdict: Verdict) -> None:
        channel = flow["steps"][index]["type"]
        name = {
            domain.Outcome.SUCCEEDED: "MessagesDelivered",
            domain.Outcome.NEXT: "FailedOver",
            domain.Outcome.FAILED: "FlowsFailed",
        }[verdict.outcome]
        count(name, channel)
        logger.info(
            "Step resolved",
            extra={
                "trackingId": flow["trackingId"],
                "index": index,
                "channel": channel,
                "verdict": verdict.model_dump(mode="json", exclude_none=True),
            },
        )


def _notify(flow: dict[str, Any]) -> dict[str, Any]:
    """Items of a flow with a callback carry notify: the table's stream filter passes only those to capture."""
    return {"notify": True} if flow.get("callback") else {}


__all__ = [
    "FailoverService",
    "AlreadyFinished",
    "NotFound",
    "Unauthorized",
    "Conflict",
    "InvalidRequest",
    "ReceiptResult",
]
