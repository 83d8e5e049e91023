"""The single source of truth for failover: status vocabulary, flow rules, request validation, snapshot format.

No AWS imports here: handlers, the store, the providers and the state machine's inputs all ask this module.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

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
        "Unsent": Kind.NO_BALANCE,
        "Terminated": Kind.NO_BALANCE,
    },
}

DEFAULT_FAILOVER_ON: dict[Channel, tuple[str, ...]] = {
    Channel.VIBER: ("EXPIRED", "FAILED", "UNDELIVERED"),
    Channel.SMS: ("Undelivered", "Failed"),
    Channel.VOICE: ("Busy", "NoAnswer"),
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
    """Statuses a step may name in failoverOnStatuses: the final, unsuccessful ones that balance does not end."""
    return tuple(s for s, kind in STATUSES[channel].items() if kind is Kind.FAILURE)


# ---------------------------------------------------------------------------------------------------------
# Flow rules
# ---------------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    NEXT = "NEXT"  # go on to the next step at once
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Verdict(BaseModel):
    """What a step's final status means for the flow. It is also the state machine's task output."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    statusCode: StatusCode | None = None
    terminationChannel: Channel | None = None
    # Set with NEXT: the step the state machine runs next and how long it may wait for it.
    index: int | None = None
    timeoutSeconds: int | None = None


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
# Request validation (POST /failover), Routee's Failover request format
# ---------------------------------------------------------------------------------------------------------

MAX_STEPS = 10
MAX_SCHEDULE_AHEAD = timedelta(days=364)  # a Standard workflow lives at most a year
SAY_LANGUAGES = (
    "en-US", "de-DE", "fr-FR", "it-IT", "pt-BR", "es-ES", "es-LA",
    "en-GB", "el-GR", "bg-BG", "pl-PL", "hu-HU", "sv-SE", "ru-RU",
)  # fmt: skip
_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}")
_NUMERIC_SENDER = re.compile(r"[0-9]{1,16}")


def _e164(value: str) -> str:
    """A phone number in E.164 with '+', checked with libphonenumber."""
    if not isinstance(value, str) or not value.startswith("+"):
        raise ValueError("must be an E.164 number starting with '+', e.g. +306912345678")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if formatted != value:
        raise ValueError(f"must be in E.164 form: {formatted}")
    return value


def _https_url(value: str) -> str:
    if not re.fullmatch(r"https://[^\s/]+(/\S*)?", value):
        raise ValueError("must be an https URL")
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError("must be an http or https URL")
    return value


E164 = Annotated[str, AfterValidator(_e164)]
HttpsUrl = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_https_url)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ViberAction(_Strict):
    caption: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    targetUrl: HttpsUrl


class ViberMessage(_Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    imageUrl: HttpsUrl | None = None
    action: ViberAction | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_image_url_spellings(cls, data: Any) -> Any:
        # Routee spells it imageURL in requests and imageUrl in responses; accept both.
        if isinstance(data, dict) and "imageURL" in data and "imageUrl" not in data:
            data = {**data, "imageUrl": data["imageURL"]}
            del data["imageURL"]
        return data

    @model_validator(mode="after")
    def _allowed_combination(self) -> ViberMessage:
        shape = (self.text is not None, self.imageUrl is not None, self.action is not None)
        allowed = {
            (True, False, False): "text",
            (False, True, False): "image",
            (True, False, True): "text+button",
            (True, True, True): "text+image+button",
        }
        if shape not in allowed:
            raise ValueError("content must be one of: text; image; text+button; text+image+button")
        return self


class SmsMessage(_Strict):
    body: Annotated[str, StringConstraints(min_length=1)]
    flash: bool = False
    label: Annotated[str, StringConstraints(max_length=350)] | None = None
    transcode: bool = False


class SayMessage(_Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    language: Literal[SAY_LANGUAGES]  # type: ignore[valid-type]
    gender: Literal["male", "female"]


class SayVerb(_Strict):
    type: Literal["SAY"]
    message: SayMessage
    repeat: int = Field(default=1, ge=1, le=10)
    bargeIn: bool = False


class PlayVerb(_Strict):
    type: Literal["PLAY"]
    fileURL: HttpsUrl
    repeat: int = Field(default=1, ge=1, le=10)
    bargeIn: bool = False

    @field_validator("fileURL")
    @classmethod
    def _wav(cls, value: str) -> str:
        if not value.lower().split("?")[0].endswith(".wav"):
            raise ValueError("must point at a .wav file")
        return value


class DialPlan(_Strict):
    verbs: list[Annotated[SayVerb | PlayVerb, Field(discriminator="type")]] = Field(min_length=1, max_length=1)


class MachineDetection(_Strict):
    strategy: Literal["Hangup", "Continue"]


class VoiceTo(_Strict):
    phone: E164


class _Step(_Strict):
    order: int = Field(ge=1, le=1000)
    failoverOnStatuses: list[str] | None = Field(default=None, validate_default=True)

    channel: ClassVar[Channel]

    @field_validator("failoverOnStatuses")
    @classmethod
    def _canonical_failover_statuses(cls, names: list[str] | None) -> list[str]:
        """Matched case-insensitively, stored in the channel's spelling; left out → the channel's defaults."""
        if names is None:
            return list(DEFAULT_FAILOVER_ON[cls.channel])
        allowed = failover_candidates(cls.channel)
        unknown = [name for name in names if canonical_status(cls.channel, name) not in allowed]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))}: not a failover status of {cls.channel.value}; "
                f"use any of {', '.join(allowed)}"
            )
        return list(dict.fromkeys(canonical_status(cls.channel, name) for name in names))

    @property
    def ttl_minutes(self) -> float:
        return float(self.ttl)  # type: ignore[attr-defined]

    @property
    def recipient(self) -> str:
        return self.to  # type: ignore[attr-defined]


class ViberStep(_Step):
    type: Literal["Viber"]
    channel: ClassVar[Channel] = Channel.VIBER
    to: E164
    senderInfoTrackingId: NonEmpty
    ttl: float = Field(default=10, ge=0.5, le=1440)
    expireOnDelivery: bool = False
    message: ViberMessage
    label: Annotated[str, StringConstraints(max_length=350)] | None = None


class SmsStep(_Step):
    type: Literal["Sms"]
    channel: ClassVar[Channel] = Channel.SMS
    to: E164
    from_: str = Field(alias="from")
    ttl: int = Field(default=1200, ge=1, le=1440)
    message: SmsMessage

    @field_validator("from_")
    @classmethod
    def _sender_id(cls, value: str) -> str:
        if _NUMERIC_SENDER.fullmatch(value) or (
            _ALPHANUMERIC_SENDER.fullmatch(value) and value.strip() and not value.isdigit()
        ):
            return value
        raise ValueError("must be up to 16 digits without '+', or up to 11 letters, digits and spaces")


class VoiceStep(_Step):
    type: Literal["Voice"]
    channel: ClassVar[Channel] = Channel.VOICE
    to: VoiceTo
    from_: str = Field(alias="from")
    ttl: int = Field(default=10, ge=1, le=1440)  # our extension: a safety limit on waiting for the call
    dialPlan: DialPlan
    machineDetection: MachineDetection | None = None

    @field_validator("from_")
    @classmethod
    def _caller_id(cls, value: str) -> str:
        # Routee's example omits the '+'; accept both and keep the caller's spelling.
        _e164(value if value.startswith("+") else f"+{value}")
        return value

    @property
    def recipient(self) -> str:
        return self.to.phone


Step = Annotated[ViberStep | SmsStep | VoiceStep, Field(discriminator="type")]


class Callback(_Strict):
    url: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_http_url)]
    strategy: Literal["OnChange", "OnCompletion"] = "OnChange"


class FailoverRequest(_Strict):
    flow: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    callback: Callback | None = None
    scheduledDate: AwareDatetime | None = None  # our extension: the flow stays Queued until then

    @field_validator("flow")
    @classmethod
    def _unique_orders(cls, steps: list[_Step]) -> list[_Step]:
        orders = [s.order for s in steps]
        duplicates = sorted({o for o in orders if orders.count(o) > 1})
        if duplicates:
            raise ValueError(f"order values must be unique; repeated: {', '.join(map(str, duplicates))}")
        return steps

    @field_validator("scheduledDate")
    @classmethod
    def _not_too_far(cls, value: datetime | None) -> datetime | None:
        if value is not None and value - datetime.now(UTC) > MAX_SCHEDULE_AHEAD:
            raise ValueError(f"must be within {MAX_SCHEDULE_AHEAD.days} days from now")
        return value

    def ordered_steps(self) -> list[_Step]:
        """Steps run in ascending `order`, not in array order."""
        return sorted(self.flow, key=lambda s: s.order)


def step_definition(step: _Step) -> dict[str, Any]:
    """The step as stored and handed to providers: Routee's field names, no Nones."""
    return step.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---------------------------------------------------------------------------------------------------------
# Validation errors → field paths, as Routee names them: flow[0].message.text
# ---------------------------------------------------------------------------------------------------------

_STEP_TAGS = {"Viber", "Sms", "Voice", "SAY", "PLAY"}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    path = ""
    for part in loc:
        if part in ("body",) and not path:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _STEP_TAGS or str(part).startswith("function-"):
            continue  # discriminator tags and validator names are not fields
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def error_properties(errors: list[dict[str, Any]]) -> dict[str, str]:
    """pydantic errors → {field path: message}; several messages for one field are joined."""
    properties: dict[str, str] = {}
    for error in errors:
        loc = list(error.get("loc", ()))
        if loc[:1] == ["body"] or loc[:1] == ["query"]:  # the Event Handler puts where the value came from first
            loc = loc[1:]
        elif loc[:1] == ["header"] and len(loc) > 1:  # it lowercases header names: Idempotency-Key, as sent
            loc = ["-".join(word.capitalize() for word in str(loc[1]).split("-")), *loc[2:]]
        if error.get("type") == "json_invalid":
            key, message = "body", "is not valid JSON"
        elif error.get("type") == "union_tag_invalid" or error.get("type") == "union_tag_not_found":
            key = field_path([*loc, "type"]) if loc else "type"
            is_step = len(loc) == 2 and loc[0] == "flow"
            message = "must be one of Viber, Sms, Voice" if is_step else error.get("msg", "invalid")
        else:
            key = field_path(loc)
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        properties[key] = f"{properties[key]}; {message}" if key in properties else message
    return properties


# ---------------------------------------------------------------------------------------------------------
# The snapshot: tracking answer and callback body
# ---------------------------------------------------------------------------------------------------------


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def recipient_of(definition: dict[str, Any]) -> str:
    """The number a stored step goes to (Voice nests it: to.phone)."""
    to = definition.get("to")
    return to.get("phone") if isinstance(to, dict) else to


def message_snapshot(definition: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """One entry of messages[]: the step as requested, with what the provider reported for it."""
    status = message.get("status") or {}
    reason = status.get("reason") or {}
    out: dict[str, Any] = {
        "type": definition["type"],
        "trackingId": message.get("providerMessageId"),
        "to": recipient_of(definition),
        "from": definition.get("from", definition.get("senderInfoTrackingId")),
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
    if definition["type"] == Channel.SMS:
        out["parts"] = _number(message.get("parts"))
    if definition["type"] == Channel.VIBER:
        out["expireOnDelivery"] = bool(definition.get("expireOnDelivery", False))
        out["expiredOnDeliveryAt"] = message.get("expiredOnDeliveryAt")
    return out


def flow_snapshot(flow: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Routee's Failover snapshot. updatedAt is derived: the newest change of the flow or any message."""
    ordered = sorted(messages, key=lambda m: int(m["index"]))
    rendered = [message_snapshot(flow["steps"][int(m["index"])], m) for m in ordered]
    stamps = [flow["updatedAt"]] + [m["status"]["updatedDate"] for m in rendered if m["status"]["updatedDate"]]
    snapshot: dict[str, Any] = {
        "trackingId": flow["trackingId"],
        "status": flow["status"],
        "terminationChannel": flow.get("terminationChannel"),
        "totalPrice": _number(round(sum(float(m["price"] or 0) for m in rendered), 6)),
        "originatingService": "Failover",
        "applicationId": flow.get("applicationId"),
        "createdAt": flow["createdAt"],
        "updatedAt": max(stamps, key=parse_timestamp),
        "messages": rendered,
    }
    if flow["status"] == FlowStatus.FAILED:
        snapshot["statusCode"] = flow.get("statusCode")
    if flow.get("scheduledDate"):
        snapshot["scheduledDate"] = flow["scheduledDate"]
    # Derived, never stored: a late receipt showed that an earlier step reached the person too.
    successes = [m for m in rendered if is_success(Channel(m["type"]), m["status"]["name"])]
    snapshot["deliveredOnMultipleChannels"] = len(successes) >= 2
    return snapshot


# ---------------------------------------------------------------------------------------------------------
# Search: POST /failover/tracking, Routee's time range and paging
# ---------------------------------------------------------------------------------------------------------

MAX_PAGE_SIZE = 100


class TrackingSearch(_Strict):
    """Flows of the caller created between dateStart and dateEnd (inclusive), newest first, one page of them."""

    dateStart: AwareDatetime
    dateEnd: AwareDatetime
    page: int = Field(default=0, ge=0, le=100_000)
    size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    status: FlowStatus | None = None
    to: E164 | None = None

    @model_validator(mode="after")
    def _ordered_range(self) -> TrackingSearch:
        if self.dateStart > self.dateEnd:
            raise ValueError("dateStart must not be after dateEnd")
        return self


def page_of(items: list[Any], page: int, size: int) -> dict[str, Any]:
    """Spring's Page, as Routee answers a search: the slice `page` (0-based) of `items` and the counts."""
    total = len(items)
    total_pages = math.ceil(total / size)
    return {
        "content": items[page * size : (page + 1) * size],
        "totalPages": total_pages,
        "totalElements": total,
        "number": page,
        "size": size,
        "first": page == 0,
        "last": page >= total_pages - 1,
    }


# ---------------------------------------------------------------------------------------------------------
# Response models: what the API answers, for the OpenAPI document (the snapshot functions above build them)
# ---------------------------------------------------------------------------------------------------------


class StatusReasonModel(BaseModel):
    detailedStatus: str | None
    description: str | None


class MessageStatusModel(BaseModel):
    name: str | None
    reason: StatusReasonModel
    updatedDate: str | None


class MessageSnapshotModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    type: Channel
    trackingId: str | None = Field(description="the provider's message id")
    to: str | None
    from_: str | None = Field(alias="from")
    order: int
    ttl: float | None
    failoverOnStatuses: list[str]
    status: MessageStatusModel
    price: float
    createdAt: str | None
    parts: int | None = Field(default=None, description="SMS only")
    expireOnDelivery: bool | None = Field(default=None, description="Viber only")
    expiredOnDeliveryAt: str | None = Field(default=None, description="Viber only")


class FlowSnapshotModel(BaseModel):
    """The tracking answer and the callback body."""

    trackingId: str
    status: FlowStatus
    statusCode: StatusCode | None = Field(default=None, description="only when Failed; 4 (cancelled) is our extension")
    terminationChannel: Channel | None
    totalPrice: float
    originatingService: Literal["Failover"]
    applicationId: str | None
    createdAt: str
    updatedAt: str
    scheduledDate: str | None = None
    deliveredOnMultipleChannels: bool = Field(
        description="our extension: two or more messages show a success status (a late delivery)"
    )
    messages: list[MessageSnapshotModel]


class FlowPageModel(BaseModel):
    content: list[FlowSnapshotModel]
    totalPages: int
    totalElements: int
    number: int
    size: int
    first: bool
    last: bool


class ErrorModel(BaseModel):
    """Routee's error format."""

    code: str
    developerMessage: str
    properties: dict[str, str] | None = None


class GatewayMessageModel(BaseModel):
    """API Gateway's own answer (authorizer refusals)."""

    message: str | None


# ---------------------------------------------------------------------------------------------------------
# Timestamps: ISO-8601 UTC with milliseconds, as Routee writes them
# ---------------------------------------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
