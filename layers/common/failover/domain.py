"""The single source of truth for failover: status vocabulary, flow rules, durations, snapshot format, search.

No AWS imports and no pydantic here: every function asks this module, and the task and callback functions,
which validate no requests, load nothing more (tests/lean). Request validation and the API's response models
are pydantic models in failover.models; they are importable from here too (`from failover.domain import
FailoverRequest`), loaded at their first use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# ---------------------------------------------------------------------------------------------------------
# Status vocabulary
# ---------------------------------------------------------------------------------------------------------


class Channel(StrEnum):
    VIBER = "Viber"
    SMS = "Sms"
    VOICE = "Voice"


class FlowStatus(StrEnum):
    QUEUED = "Queued"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


FINAL_FLOW_STATUSES = frozenset({FlowStatus.SUCCEEDED, FlowStatus.FAILED})


class StatusCode(StrEnum):
    """Why a flow Failed (Routee's statusCode, always a string on the wire)."""

    SERVER_ERROR = "0"
    INSUFFICIENT_BALANCE = "1"
    NO_NEXT_STEP = "2"
    FAILOVER_NOT_TRIGGERED = "3"
    CANCELLED = "4"  # our extension: POST /failover/{trackingId}/cancel stopped the flow


class Kind(StrEnum):
    PENDING = "pending"  # not final: more receipts will follow
    SUCCESS = "success"
    FAILURE = "failure"  # final, may trigger failover
    NO_BALANCE = "no_balance"  # final, ends the flow with statusCode "1"


# Per channel, in the order statuses progress; canonical spelling as the provider reports it.
STATUSES: dict[Channel, dict[str, Kind]] = {
    Channel.VIBER: {
        "QUEUED": Kind.PENDING,
        "DELIVERED": Kind.SUCCESS,
        "SEEN": Kind.SUCCESS,
        "UNDELIVERED": Kind.FAILURE,
        "EXPIRED": Kind.FAILURE,
        "FAILED": Kind.FAILURE,
        "UNSENT": Kind.NO_BALANCE,
    },
    Channel.SMS: {
        "Queued": Kind.PENDING,
        "Sent": Kind.PENDING,
        "Delivered": Kind.SUCCESS,
        "Undelivered": Kind.FAILURE,
        "Failed": Kind.FAILURE,
        "Network Error": Kind.FAILURE,  # named only among the statuses /sms callbacks report
        "Unsent": Kind.NO_BALANCE,
    },
    Channel.VOICE: {
        "Queued": Kind.PENDING,
        "Initiated": Kind.PENDING,
        "Ringing": Kind.PENDING,
        "InProgress": Kind.PENDING,
        "Completed": Kind.SUCCESS,
        "Busy": Kind.FAILURE,
        "NoAnswer": Kind.FAILURE,
        "Failed": Kind.FAILURE,
        "Unknown": Kind.FAILURE,  # "could not be sent due to unknown network / carrier error": nothing follows it
        "Unsent": Kind.NO_BALANCE,
        "Terminated": Kind.NO_BALANCE,
    },
}

# Routee's documented defaults, plus the failures its default lists predate (SMS "Network Error", Voice
# "Unknown"): a message that could not reach the person moves on, as Failed does (docs/routee-compatibility.md).
DEFAULT_FAILOVER_ON: dict[Channel, tuple[str, ...]] = {
    Channel.VIBER: ("EXPIRED", "FAILED", "UNDELIVERED"),
    Channel.SMS: ("Undelivered", "Failed", "Network Error"),
    Channel.VOICE: ("Busy", "NoAnswer", "Unknown"),
}

# What a step becomes when its ttl passes with no final status: (status, detailedStatus).
EXPIRY_STATUS: dict[Channel, tuple[str, str]] = {
    Channel.VIBER: ("EXPIRED", "TTL Expired"),
    Channel.SMS: ("Undelivered", "Expired"),
    Channel.VOICE: ("Failed", "Timed out"),
}

# The status a step takes when the provider refuses it for lack of balance.
NO_BALANCE_STATUS: dict[Channel, str] = {Channel.VIBER: "UNSENT", Channel.SMS: "Unsent", Channel.VOICE: "Unsent"}

# The status a step takes when it could not be sent at all (rejected, provider down, auth failure).
FAILED_STATUS: dict[Channel, str] = {Channel.VIBER: "FAILED", Channel.SMS: "Failed", Channel.VOICE: "Failed"}

# Ranks decide which of two statuses of one message wins: a higher rank overwrites a lower one.
# Pending statuses rank by progress; a synthetic expiry ranks below any real final status, so a late real
# receipt is still recorded on the message; SEEN may follow DELIVERED.
EXPIRY_RANK = 90
FINAL_RANK = 100
# A Viber step with expireOnDelivery that was DELIVERED but never SEEN becomes EXPIRED at its ttl: that expiry
# must overwrite the DELIVERED (100), and a SEEN that comes later still overwrites it.
EXPIRED_ON_DELIVERY_RANK = 105
_SEEN_RANK = 110


def canonical_status(channel: Channel, name: str) -> str | None:
    """The channel's own spelling of `name` (case-insensitive), or None if it is not a status of that channel."""
    wanted = name.strip().casefold()
    return next((s for s in STATUSES[channel] if s.casefold() == wanted), None)


def status_kind(channel: Channel, status: str) -> Kind:
    return STATUSES[channel][status]


def is_final(channel: Channel, status: str) -> bool:
    return status_kind(channel, status) is not Kind.PENDING


def status_rank(channel: Channel, status: str) -> int:
    if channel is Channel.VIBER and status == "SEEN":
        return _SEEN_RANK
    if is_final(channel, status):
        return FINAL_RANK
    return list(STATUSES[channel]).index(status)


def awaits_seen(channel: Channel, status: str | None, expire_on_delivery: bool) -> bool:
    """expireOnDelivery (Viber): DELIVERED is not success; the step keeps waiting for SEEN until its ttl."""
    return expire_on_delivery and channel is Channel.VIBER and status == "DELIVERED"


def is_decisive(channel: Channel, status: str | None, expire_on_delivery: bool = False) -> bool:
    """A status the flow rules can judge now: final, and not a DELIVERED that must still be SEEN."""
    return status is not None and is_final(channel, status) and not awaits_seen(channel, status, expire_on_delivery)


def is_success(channel: Channel, status: str | None) -> bool:
    return status is not None and status in STATUSES[channel] and status_kind(channel, status) is Kind.SUCCESS


def combine_parts(channel: Channel, parts: dict[int, str | None]) -> str:
    """The status of a multi-part SMS from its parts' statuses.

    It is Delivered only when every part is Delivered. It takes a part's failure as soon as any part ends
    unsuccessfully (the text cannot be read whole any more). Otherwise it is the least advanced part's status.
    """
    known = {n: s for n, s in parts.items() if s is not None}
    failed = [
        s for _, s in sorted(known.items()) if is_final(channel, s) and status_kind(channel, s) is not Kind.SUCCESS
    ]
    if failed:
        return failed[0]
    if len(known) == len(parts) and all(status_kind(channel, s) is Kind.SUCCESS for s in known.values()):
        return next(iter(known.values()))
    pending = [s for s in known.values() if not is_final(channel, s)]
    return min(pending, key=lambda s: status_rank(channel, s)) if pending else list(STATUSES[channel])[0]


def failover_candidates(channel: Channel) -> tuple[str, ...]:
    """Statuses a step may name in failoverOnStatuses.

    SMS and Viber: the final, unsuccessful ones that balance does not end. Voice: every final status, as Routee
    documents (Completed, Busy, NoAnswer, Failed, Unsent, Terminated; and Unknown).
    """
    if channel is Channel.VOICE:
        return tuple(s for s, kind in STATUSES[channel].items() if kind is not Kind.PENDING)
    return tuple(s for s, kind in STATUSES[channel].items() if kind is Kind.FAILURE)


# ---------------------------------------------------------------------------------------------------------
# Flow rules
# ---------------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    NEXT = "NEXT"  # go on to the next step at once
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    # Not a verdict of the step: the provider stayed unavailable and the step's ttl leaves time, so the state
    # machine waits waitSeconds and sends the same step again (never stored as the step's verdict).
    RETRY = "RETRY"


@dataclass(frozen=True)
class Verdict:
    """What a step's final status means for the flow. It is also the state machine's task output.

    A plain dataclass, so that the task and callback functions load no pydantic (bench/results.md). It keeps the
    two methods its readers and writers call, with pydantic's names and meaning: model_validate reads the wire
    form (the task output, the stored item) and model_dump writes it."""

    outcome: Outcome
    statusCode: StatusCode | None = None
    terminationChannel: Channel | None = None
    # Set with NEXT and RETRY: the step the state machine runs next and how long it may wait for it.
    index: int | None = None
    timeoutSeconds: int | None = None
    waitSeconds: int | None = None  # RETRY: how long to wait before sending again

    def __post_init__(self) -> None:
        # Validated as the model was: each field its type, so a stored or resumed verdict is checked once read.
        for name, kind in (("outcome", Outcome), ("statusCode", StatusCode), ("terminationChannel", Channel)):
            value = getattr(self, name)
            if value is not None or name == "outcome":
                object.__setattr__(self, name, kind(value))
        for name in ("index", "timeoutSeconds", "waitSeconds"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, bool) or int(value) != value:
                    raise ValueError(f"Verdict.{name} must be an integer, not {value!r}")
                object.__setattr__(self, name, int(value))

    @classmethod
    def model_validate(cls, data: Mapping[str, Any]) -> Verdict:
        """From its wire form; keys it does not know are ignored, as the model ignored them."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def model_dump(self, mode: str = "json", exclude_none: bool = False) -> dict[str, Any]:
        """Its wire form: plain strings and integers (mode is always "json")."""
        dumped = {f.name: getattr(self, f.name) for f in fields(self)}
        dumped = {k: v.value if isinstance(v, StrEnum) else v for k, v in dumped.items()}
        return {k: v for k, v in dumped.items() if v is not None} if exclude_none else dumped


def judge(
    channel: Channel,
    status: str,
    failover_on: tuple[str, ...] | list[str],
    next_step: tuple[int, int] | None,
    forced_code: StatusCode | None = None,
) -> Verdict:
    """Apply the seed's rules to a step's final status.

    next_step is (index, timeoutSeconds) of the step that follows, or None for the last step.
    forced_code ends the flow whatever the status (provider authentication failure → "0").
    """
    kind = status_kind(channel, status)
    if kind is Kind.PENDING:
        raise ValueError(f"{channel} status {status} is not final")
    if forced_code is not None:
        return Verdict(outcome=Outcome.FAILED, statusCode=forced_code, terminationChannel=channel)
    named = status in failover_on and status in failover_candidates(channel)
    if kind is not Kind.FAILURE and named and next_step is not None:
        # Voice may name a success or a balance status (e.g. Completed): the flow moves on to the next step.
        index, timeout = next_step
        return Verdict(outcome=Outcome.NEXT, index=index, timeoutSeconds=timeout)
    if kind is Kind.SUCCESS:
        return Verdict(outcome=Outcome.SUCCEEDED, terminationChannel=channel)
    if kind is Kind.NO_BALANCE:
        return Verdict(outcome=Outcome.FAILED, statusCode=StatusCode.INSUFFICIENT_BALANCE, terminationChannel=channel)
    if status not in failover_on:
        return Verdict(outcome=Outcome.FAILED, statusCode=StatusCode.FAILOVER_NOT_TRIGGERED, terminationChannel=channel)
    if next_step is None:
        return Verdict(outcome=Outcome.FAILED, statusCode=StatusCode.NO_NEXT_STEP, terminationChannel=channel)
    index, timeout = next_step
    return Verdict(outcome=Outcome.NEXT, index=index, timeoutSeconds=timeout)


def flow_status_of(verdict: Verdict) -> FlowStatus | None:
    """The flow's final status a verdict sets, or None when the flow goes on."""
    return {Outcome.SUCCEEDED: FlowStatus.SUCCEEDED, Outcome.FAILED: FlowStatus.FAILED}.get(verdict.outcome)


# ---------------------------------------------------------------------------------------------------------
# Durations: ttls and waits are data, scaled by one setting
# ---------------------------------------------------------------------------------------------------------


def scaled_seconds(seconds: float, scale: float, minimum: int = 0) -> int:
    """A duration for the state machine: whole seconds, multiplied by FAILOVER_TIME_SCALE, at least `minimum`."""
    return max(minimum, math.ceil(round(seconds * scale, 6)))  # round first: 8.3 x 60 is 498.00000000000006


def step_timeout_seconds(ttl_minutes: float, scale: float) -> int:
    """A task timeout is never below 1 s (Step Functions' minimum)."""
    return scaled_seconds(ttl_minutes * 60, scale, minimum=1)


def schedule_wait_seconds(scheduled: datetime | None, now: datetime, scale: float) -> int:
    if scheduled is None:
        return 0
    return scaled_seconds((scheduled - now).total_seconds(), scale)


# ---------------------------------------------------------------------------------------------------------
# The snapshot: tracking answer and callback body
# ---------------------------------------------------------------------------------------------------------


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def recipient_of(definition: dict[str, Any]) -> str:
    """The address a stored step goes to (Voice nests it: to.phone, else to.viber, else to.sip)."""
    to = definition.get("to")
    if isinstance(to, dict):
        return to.get("phone") or to.get("viber") or to.get("sip")
    return to


# What a receipt (or the provider's send answer) may tell about a message beyond its status, by the snapshot's
# field names; the store keeps them on the message item. "senderName" becomes a Viber message's `from`.
MESSAGE_DETAILS = ("country", "operator", "latency", "smsId", "part", "senderName")


def _viber_body(message: dict[str, Any]) -> dict[str, Any]:
    body = {
        "text": message.get("text"),
        "imageUrl": message.get("imageUrl"),
        "action": message.get("action"),
    }
    for attachment in ("viberFile", "viberVideo"):
        if message.get(attachment):
            body[attachment] = message[attachment]
    return body


def message_snapshot(definition: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """One entry of messages[]: Routee's fields for the channel; what we cannot know (yet) is null.

    `trackingId` (the provider's id) is on every channel: Routee's for Viber and Voice, our addition for SMS,
    whose Routee id is `messageId`.
    """
    status = message.get("status") or {}
    reason = status.get("reason") or {}
    channel = definition["type"]
    step_message = definition.get("message") or {}
    provider_id = message.get("providerMessageId")
    out: dict[str, Any] = {
        "type": channel,
        "trackingId": provider_id,
        "to": recipient_of(definition),
        "from": definition.get("from"),
        "country": message.get("country"),
        "order": definition["order"],
        "ttl": _number(definition.get("ttl")),
        "failoverOnStatuses": definition.get("failoverOnStatuses", []),
        "status": {
            "name": status.get("name"),
            "reason": {"detailedStatus": reason.get("detailedStatus"), "description": reason.get("description")},
            "updatedDate": status.get("updatedDate"),
        },
        "price": _number(message.get("price")) or 0,
        "createdAt": message.get("createdAt"),
    }
    if channel == Channel.SMS:
        out.update(
            messageId=provider_id,
            smsId=message.get("smsId"),
            body=step_message.get("body"),
            label=step_message.get("label"),
            operator=message.get("operator"),
            part=_number(message.get("part")),
            parts=_number(message.get("parts")),
            latency=_number(message.get("latency")),
        )
    elif channel == Channel.VIBER:
        out.update(
            {"from": message.get("senderName")},  # Routee shows the sender's name; we learn it from Routee
            senderInfoTrackingId=definition.get("senderInfoTrackingId"),  # our addition: the sender as requested
            body=_viber_body(step_message),
            label=definition.get("label"),
            inboundUrl=definition.get("inboundUrl"),
            expireOnDelivery=bool(definition.get("expireOnDelivery", False)),
            expiredOnDeliveryAt=message.get("expiredOnDeliveryAt"),
        )
    return out


def flow_snapshot(flow: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Routee's Failover snapshot. updatedAt is derived: the newest change of the flow or any message."""
    ordered = sorted(messages, key=lambda m: int(m["index"]))
    rendered = [message_snapshot(flow["steps"][int(m["index"])], m) for m in ordered]
    stamps = [flow["updatedAt"]] + [m["status"]["updatedDate"] for m in rendered if m["status"]["updatedDate"]]
    snapshot: dict[str, Any] = {
        "trackingId": flow["trackingId"],
        "status": flow["status"],
        # Routee shows the key with null unless the flow Failed.
        "statusCode": flow.get("statusCode") if flow["status"] == FlowStatus.FAILED else None,
        "terminationChannel": flow.get("terminationChannel"),
        "totalPrice": _number(round(sum(float(m["price"] or 0) for m in rendered), 6)),
        "originatingService": "Failover",
        "applicationId": flow.get("applicationId"),
        "createdAt": flow["createdAt"],
        "updatedAt": max(stamps, key=parse_timestamp),
        "messages": rendered,
    }
    if flow.get("scheduledDate"):
        snapshot["scheduledDate"] = flow["scheduledDate"]
    # Derived, never stored: a late receipt showed that an earlier step reached the person too.
    successes = [m for m in rendered if is_success(Channel(m["type"]), m["status"]["name"])]
    snapshot["deliveredOnMultipleChannels"] = len(successes) >= 2
    return snapshot


def created_flow(flow: dict[str, Any]) -> dict[str, Any]:
    """The POST /failover answer, as Routee's: the created flow echoed (trackingId, each step with its defaults,
    in the order the steps run, and the callback), plus our additions: status, createdAt, scheduledDate."""
    answer: dict[str, Any] = {"trackingId": flow["trackingId"], "flow": flow["steps"]}
    for key in ("callback", "restrictions", "scheduledDate"):
        if flow.get(key) is not None:
            answer[key] = flow[key]
    answer.update(status=flow["status"], createdAt=flow["createdAt"])
    return answer


# ---------------------------------------------------------------------------------------------------------
# Search: POST /failover/tracking, Routee's time range, paging and filter. The one place search is decided:
# the store reads the caller's flows of the range (one Query); the filter and the page are applied here.
# ---------------------------------------------------------------------------------------------------------

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10  # Routee's (Spring's) default
# Routee's page/size read every flow before the page: page x size is capped (as search engines cap their
# result windows) so a page costs at most this many index items; nextPageToken pages on without a cap.
MAX_SEARCH_OFFSET = 10_000


class SearchField(StrEnum):
    TYPE = "type"  # a channel of the flow's steps
    TO = "to"  # a recipient of the flow's steps
    STATUS = "status"  # the flow's status
    TERMINATION_CHANNEL = "terminationChannel"


class SearchOperator(StrEnum):
    IS = "is"
    IS_NOT = "is_not"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"


def search_values(flow: dict[str, Any], field: SearchField) -> list[str]:
    if field is SearchField.TYPE:
        return [step["type"] for step in flow["steps"]]
    if field is SearchField.TO:
        return [recipient_of(step) for step in flow["steps"]]
    if field is SearchField.STATUS:
        return [flow["status"]]
    return [flow.get("terminationChannel") or ""]


def search_term_matches(values: list[str], operator: SearchOperator, term: str) -> bool:
    """Case-insensitive. A flow with several steps matches when any of them does; is_not when none is."""
    wanted = term.casefold()
    folded = [v.casefold() for v in values if v is not None]
    if operator is SearchOperator.IS_NOT:
        return wanted not in folded
    test = {
        SearchOperator.IS: lambda v: v == wanted,
        SearchOperator.CONTAINS: lambda v: wanted in v,
        SearchOperator.STARTS_WITH: lambda v: v.startswith(wanted),
        SearchOperator.ENDS_WITH: lambda v: v.endswith(wanted),
    }[operator]
    return any(test(v) for v in folded)


def search_page(
    content: list[Any], number: int, size: int, total: int, exact: bool, last: bool, next_token: str | None
) -> dict[str, Any]:
    """Spring's Page for one page of a cursor search. `total` is exact when `exact`; otherwise it is a lower
    bound (the flows so far and one more) and the page says so (totalElementsExact: false, our extension).
    nextPageToken (our extension) continues the search after this page, at the cost of one page."""
    page: dict[str, Any] = {
        "content": content,
        "totalPages": math.ceil(total / size),
        "totalElements": total,
        "number": number,
        "size": size,
        "numberOfElements": len(content),
        "first": number == 0,
        "last": last,
    }
    if not exact:
        page["totalElementsExact"] = False
    if next_token is not None:
        page["nextPageToken"] = next_token
    return page


def page_of(items: list[Any], page: int, size: int) -> dict[str, Any]:
    """Spring's Page, as Routee answers a search: the slice `page` (0-based) of `items` and the counts."""
    total = len(items)
    total_pages = math.ceil(total / size)
    content = items[page * size : (page + 1) * size]
    return {
        "content": content,
        "totalPages": total_pages,
        "totalElements": total,
        "number": page,
        "size": size,
        "numberOfElements": len(content),
        "first": page == 0,
        "last": page >= total_pages - 1,
    }


# ---------------------------------------------------------------------------------------------------------
# Timestamps: ISO-8601 UTC with milliseconds, as Routee writes them
# ---------------------------------------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------------------------------
# Request validation and response models (pydantic): failover.models, re-exported here at first use
# ---------------------------------------------------------------------------------------------------------


def __getattr__(name: str) -> Any:
    """`domain.FailoverRequest`, `from failover.domain import ErrorModel`: the pydantic side, imported only by
    the functions that ask for it (PEP 562 module __getattr__)."""
    if name.startswith("__"):
        raise AttributeError(name)
    from failover import models

    try:
        return getattr(models, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
