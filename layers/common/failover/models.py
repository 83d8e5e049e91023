"""Request validation (POST /failover, POST /failover/tracking) and the API's response models: pydantic.

Only the functions that validate requests or describe the API load this module (the api; tests/lean keeps it
out of the others). The vocabulary, the flow rules and the snapshot these models describe are failover.domain's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from failover import cursor as cursors
from failover.domain import (
    DEFAULT_FAILOVER_ON,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_SEARCH_OFFSET,
    Channel,
    FlowStatus,
    SearchField,
    SearchOperator,
    StatusCode,
    canonical_status,
    failover_candidates,
    search_term_matches,
    search_values,
    timestamp,
)

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
    import phonenumbers  # here: only the functions that validate requests load its metadata (tests/lean)

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


def _not_boolean(value: Any) -> Any:
    """JSON true is not 1: pydantic's lax mode would take it as one, so a number field refuses booleans."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


# A number where Routee documents a number: never a boolean.
Integer = Annotated[int, BeforeValidator(_not_boolean)]
Number = Annotated[float, BeforeValidator(_not_boolean)]

# Length caps. Routee documents 1000 characters for Viber text and a SAY verb's text. It documents none for an
# SMS body; its SMS API refuses bodies over 10,000 characters (our simulator models that), so we refuse them
# here rather than forward what the provider would fail.
SMS_BODY_MAX = 10_000
VIBER_TEXT_MAX = 1000
SAY_TEXT_MAX = 1000

E164 = Annotated[str, AfterValidator(_e164)]
HttpsUrl = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_https_url)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


# defer_build: each model's validator is built at its first use, not at import, so a function pays only for the
# models it uses (the task functions use few; bench/coldstart.py measures it).
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ViberAction(_Strict):
    caption: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    targetUrl: HttpsUrl


class ViberFile(_Strict):
    """A file attachment; Routee checks the file type against its own list, so any short name passes here."""

    fileName: Annotated[str, StringConstraints(min_length=1, max_length=25)]
    fileType: Annotated[str, StringConstraints(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$")]
    fileUrl: HttpsUrl


class ViberVideo(_Strict):
    videoUrl: HttpsUrl
    thumbnailUrl: HttpsUrl | None = None
    fileSize: Integer | None = Field(default=None, ge=1, description="bytes")
    duration: Integer | None = Field(default=None, ge=1, description="seconds")

    @model_validator(mode="before")
    @classmethod
    def _accept_url_spellings(cls, data: Any) -> Any:
        return _respell(data, {"videoURL": "videoUrl", "thumbnailURL": "thumbnailUrl"})


def _respell(data: Any, spellings: dict[str, str]) -> Any:
    """Routee spells some keys two ways (imageURL / imageUrl): take the other spelling as ours."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for other, ours in spellings.items():
        if other in data and ours not in data:
            data[ours] = data.pop(other)
    return data


# Viber's allowed content, as (text, image, button, file, video) present.
_VIBER_CONTENT = {
    (True, False, False, False, False): "text",
    (False, True, False, False, False): "image",
    (True, False, True, False, False): "text+button",
    (True, True, True, False, False): "text+image+button",
    (False, False, False, True, False): "file",
    (False, False, False, False, True): "video",
    (True, False, False, False, True): "video+text",
    (True, False, True, False, True): "video+text+button",
}


class ViberMessage(_Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=VIBER_TEXT_MAX)] | None = None
    imageUrl: HttpsUrl | None = None
    action: ViberAction | None = None
    viberFile: ViberFile | None = None
    viberVideo: ViberVideo | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_image_url_spellings(cls, data: Any) -> Any:
        # Routee spells it imageURL in requests and imageUrl in responses; accept both.
        return _respell(data, {"imageURL": "imageUrl"})

    @model_validator(mode="after")
    def _allowed_combination(self) -> ViberMessage:
        shape = tuple(v is not None for v in (self.text, self.imageUrl, self.action, self.viberFile, self.viberVideo))
        if shape not in _VIBER_CONTENT:
            raise ValueError(f"content must be one of: {'; '.join(_VIBER_CONTENT.values())}")
        return self


# Fields whose shape Routee's reference lists without describing (SMS urlShortener, top-level restrictions):
# any JSON object (or, for urlShortener, a boolean) is accepted and kept as given.
JsonObject = dict[str, JsonValue]


class SmsMessage(_Strict):
    body: Annotated[str, StringConstraints(min_length=1, max_length=SMS_BODY_MAX)]
    flash: bool = False
    label: Annotated[str, StringConstraints(max_length=350)] | None = None
    transcode: bool | None = None  # left out: Routee applies the application's own setting
    urlShortener: JsonObject | StrictBool | None = None


class SayMessage(_Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=SAY_TEXT_MAX)]
    language: Literal[SAY_LANGUAGES]  # type: ignore[valid-type]
    gender: Literal["male", "female"]


class SayVerb(_Strict):
    type: Literal["SAY"]
    message: SayMessage
    repeat: Integer = Field(default=1, ge=1, le=10)
    bargeIn: bool = False


class PlayVerb(_Strict):
    type: Literal["PLAY"]
    fileURL: Annotated[str, StringConstraints(max_length=1000), AfterValidator(_http_url)]
    repeat: Integer = Field(default=1, ge=1, le=10)
    bargeIn: bool = False

    @field_validator("fileURL")
    @classmethod
    def _wav(cls, value: str) -> str:
        if not value.lower().split("?")[0].endswith(".wav"):
            raise ValueError("must point at a .wav file")
        return value


MAX_VERBS = 10


class DialPlan(_Strict):
    """Verbs run in sequence (Routee's example: PLAY, then SAY)."""

    verbs: list[Annotated[SayVerb | PlayVerb, Field(discriminator="type")]] = Field(min_length=1, max_length=MAX_VERBS)


class MachineDetection(_Strict):
    strategy: Literal["Hangup", "Continue"]


def _sip_uri(value: str) -> str:
    if not re.fullmatch(r"sips?:[^\s@]+@[^\s@]+", value):
        raise ValueError("must be a SIP URI, e.g. sip:alice@example.com")
    return value


def _viber_number(value: str) -> str:
    """Routee's example writes it without '+' (306971234567); keep the caller's spelling."""
    _e164(value if value.startswith("+") else f"+{value}")
    return value


class VoiceTo(_Strict):
    """Routee's Voice recipient: a phone, a Viber number or a SIP URI; empty strings count as left out."""

    phone: E164 | None = None
    viber: Annotated[str, AfterValidator(_viber_number)] | None = None
    sip: Annotated[str, StringConstraints(max_length=256), AfterValidator(_sip_uri)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data

    @model_validator(mode="after")
    def _someone(self) -> VoiceTo:
        if self.phone is None and self.viber is None and self.sip is None:
            raise ValueError("needs one of phone, viber, sip")
        return self

    @property
    def address(self) -> str:
        """The one the call goes to: phone first, as Routee's example fills only that one."""
        return self.phone or self.viber or self.sip  # type: ignore[return-value]


class _Step(_Strict):
    order: Integer = Field(ge=1, le=1000)
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


def _one_decimal(value: float) -> float:
    if abs(value * 10 - round(value * 10)) > 1e-9:
        raise ValueError("must have at most one decimal place, e.g. 0.5 or 12.3")
    return value


class ViberStep(_Step):
    type: Literal["Viber"]
    channel: ClassVar[Channel] = Channel.VIBER
    to: E164
    senderInfoTrackingId: NonEmpty
    ttl: Annotated[Number, AfterValidator(_one_decimal)] = Field(default=10, ge=0.5, le=1440)
    expireOnDelivery: bool = False
    message: ViberMessage
    label: Annotated[str, StringConstraints(max_length=350)] | None = None
    inboundUrl: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_http_url)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _attachments_in_message(cls, data: Any) -> Any:
        # Routee's reference lists viberFile and viberVideo beside the message's text: accept them on the step too.
        if isinstance(data, dict) and isinstance(data.get("message", {}), dict):
            moved = {k: data[k] for k in ("viberFile", "viberVideo") if k in data}
            if moved:
                data = {k: v for k, v in data.items() if k not in moved}
                data["message"] = {**data.get("message", {}), **moved}
        return data


class SmsStep(_Step):
    type: Literal["Sms"]
    channel: ClassVar[Channel] = Channel.SMS
    to: E164
    from_: str = Field(alias="from")
    ttl: Integer = Field(default=1200, ge=1, le=1440)
    message: SmsMessage

    @field_validator("from_")
    @classmethod
    def _sender_id(cls, value: str) -> str:
        return _sender(value)


def _sender(value: str) -> str:
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
    ttl: Integer = Field(default=10, ge=1, le=1440)  # our extension: a safety limit on waiting for the call
    dialPlan: DialPlan
    machineDetection: MachineDetection | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_routee_spellings(cls, data: Any) -> Any:
        # The reference's table says dialPlans, its example dialPlan; `to` may be a bare number.
        data = _respell(data, {"dialPlans": "dialPlan"})
        if isinstance(data, dict) and isinstance(data.get("to"), str):
            data = {**data, "to": {"phone": data["to"]}}
        return data

    @field_validator("from_")
    @classmethod
    def _caller_id(cls, value: str) -> str:
        # A number (Routee's first example omits the '+'; both kept as given) or an alphanumeric sender.
        if re.fullmatch(r"\+?[0-9]+", value):
            _e164(value if value.startswith("+") else f"+{value}")
            return value
        try:
            return _sender(value)
        except ValueError:
            raise ValueError("must be a phone number (with or without '+') or up to 11 letters and digits") from None

    @property
    def recipient(self) -> str:
        return self.to.address


Step = Annotated[ViberStep | SmsStep | VoiceStep, Field(discriminator="type")]


class Callback(_Strict):
    url: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_http_url)]
    strategy: Literal["OnChange", "OnCompletion"] = "OnChange"


class FailoverRequest(_Strict):
    flow: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    callback: Callback | None = None
    restrictions: JsonObject | None = None  # Routee's; kept with the flow, not used (docs/routee-compatibility.md)
    scheduledDate: AwareDatetime | None = None  # our extension: the flow stays Queued until then

    @field_validator("scheduledDate")
    @classmethod
    def _not_too_far(cls, value: datetime | None) -> datetime | None:
        if value is not None and value - datetime.now(UTC) > MAX_SCHEDULE_AHEAD:
            raise ValueError(f"must be within {MAX_SCHEDULE_AHEAD.days} days from now")
        return value

    def ordered_steps(self) -> list[_Step]:
        """Steps run in ascending `order`; steps with the same order run in array order (Routee's own example
        repeats an order)."""
        return sorted(self.flow, key=lambda s: s.order)  # sorted() is stable


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
# Search requests: POST /failover/tracking (what matches and how a page is cut: failover.domain)
# ---------------------------------------------------------------------------------------------------------


def _naive_is_utc(value: Any) -> Any:
    """A date without a zone is taken as UTC (Routee writes its own dates in UTC)."""
    if isinstance(value, str) and value and not re.search(r"(Z|[+-]\d\d:?\d\d)$", value.strip()):
        return value.strip() + "Z"
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


SearchDate = Annotated[AwareDatetime, BeforeValidator(_naive_is_utc)]


class TrackingFilter(_Strict):
    """The body of POST /failover/tracking: Routee's filter; our older body form (the range, paging, status and
    to in the body) is still read, the query string winning."""

    fieldName: SearchField | None = None
    searchOperator: SearchOperator = SearchOperator.IS
    searchTerm: Annotated[str, StringConstraints(max_length=200)] | None = None
    dateStart: SearchDate | None = None
    dateEnd: SearchDate | None = None
    page: Integer | None = Field(default=None, ge=0, le=100_000)
    size: Integer | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE)
    status: FlowStatus | None = None
    to: E164 | None = None

    @field_validator("fieldName", "searchOperator", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        if isinstance(value, str):
            wanted = value.strip().casefold()
            names = [*SearchField, *SearchOperator]
            return next((n.value for n in names if n.value.casefold() == wanted), value)
        return value

    @model_validator(mode="after")
    def _term_with_field(self) -> TrackingFilter:
        if (self.fieldName is None) != (self.searchTerm is None):
            raise ValueError("fieldName and searchTerm go together")
        return self


class TrackingSearch(_Strict):
    """Flows of the caller created between dateStart and dateEnd (inclusive), newest first, one page of them."""

    dateStart: SearchDate
    dateEnd: SearchDate
    page: Integer = Field(default=0, ge=0, le=100_000)
    size: Integer = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    filters: list[tuple[SearchField, SearchOperator, str]] = Field(default_factory=list)
    pageToken: Annotated[str, StringConstraints(min_length=1, max_length=cursors.MAX_TOKEN_LENGTH)] | None = None

    @model_validator(mode="after")
    def _ordered_range(self) -> TrackingSearch:
        if self.dateStart > self.dateEnd:
            raise ValueError("dateStart must not be after dateEnd")
        if self.pageToken is None and self.page * self.size > MAX_SEARCH_OFFSET:
            raise ValueError(f"page x size may not pass {MAX_SEARCH_OFFSET:,}: page on with nextPageToken instead")
        if self.pageToken is not None:
            cursors.decode(self.pageToken, self.fingerprint)  # refused here, as a 400, when it is not ours
        return self

    @property
    def fingerprint(self) -> str:
        """What a page token must belong to: the range and the filter (not the page size)."""
        return cursors.fingerprint([timestamp(self.dateStart), timestamp(self.dateEnd), self.filters])

    @property
    def cursor(self) -> cursors.Cursor | None:
        return cursors.decode(self.pageToken, self.fingerprint) if self.pageToken else None

    @classmethod
    def of(cls, query: dict[str, Any], body: TrackingFilter | None) -> TrackingSearch:
        """The search from the query string (Routee's place for the range and paging) and the body."""
        body = body or TrackingFilter()
        given = {k: v for k, v in query.items() if v is not None}
        for key in ("dateStart", "dateEnd", "page", "size", "pageToken"):
            if key not in given and getattr(body, key, None) is not None:
                given[key] = getattr(body, key)
        filters = []
        if body.fieldName is not None and body.searchTerm is not None:
            filters.append((body.fieldName, body.searchOperator, body.searchTerm))
        if body.status is not None:
            filters.append((SearchField.STATUS, SearchOperator.IS, body.status.value))
        if body.to is not None:
            filters.append((SearchField.TO, SearchOperator.IS, body.to))
        return cls.model_validate({**given, "filters": filters})

    def matches(self, flow: dict[str, Any]) -> bool:
        return all(search_term_matches(search_values(flow, f), op, term) for f, op, term in self.filters)


# ---------------------------------------------------------------------------------------------------------
# Response models: what the API answers, for the OpenAPI document (the snapshot functions above build them)
# ---------------------------------------------------------------------------------------------------------


class StatusReasonModel(BaseModel):
    model_config = ConfigDict(defer_build=True)

    detailedStatus: str | None
    description: str | None


class MessageStatusModel(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str | None
    reason: StatusReasonModel
    updatedDate: str | None


class MessageSnapshotModel(BaseModel):
    """One message; the channel's own fields are present for that channel only (null when not known)."""

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    type: Channel
    trackingId: str | None = Field(description="the provider's id (for SMS our addition: Routee's is messageId)")
    to: str | None
    from_: str | None = Field(alias="from", description="Viber: the sender's name, once Routee reports it")
    country: str | None
    order: int
    ttl: float | None
    failoverOnStatuses: list[str]
    status: MessageStatusModel
    price: float
    createdAt: str | None
    messageId: str | None = Field(default=None, description="SMS: the same for every part")
    smsId: str | None = Field(default=None, description="SMS: the part's id")
    body: str | dict[str, Any] | None = Field(default=None, description="SMS: the text; Viber: the content")
    label: str | None = Field(default=None, description="SMS and Viber")
    operator: str | None = Field(default=None, description="SMS")
    part: int | None = Field(default=None, description="SMS")
    parts: int | None = Field(default=None, description="SMS")
    latency: float | None = Field(default=None, description="SMS")
    senderInfoTrackingId: str | None = Field(default=None, description="Viber, our addition")
    inboundUrl: str | None = Field(default=None, description="Viber")
    expireOnDelivery: bool | None = Field(default=None, description="Viber only")
    expiredOnDeliveryAt: str | None = Field(default=None, description="Viber only")


class FlowSnapshotModel(BaseModel):
    """The tracking answer and the callback body."""

    model_config = ConfigDict(defer_build=True)

    trackingId: str
    status: FlowStatus
    statusCode: StatusCode | None = Field(description="null unless Failed; 4 (cancelled) is our extension")
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


class CreatedFlowModel(BaseModel):
    """The POST /failover answer: Routee's echo of the created flow, plus our status, createdAt, scheduledDate."""

    model_config = ConfigDict(defer_build=True)

    trackingId: str
    flow: list[dict[str, Any]] = Field(description="each step as accepted, defaults filled in, in running order")
    callback: dict[str, Any] | None = None
    restrictions: dict[str, Any] | None = None
    scheduledDate: str | None = None
    status: FlowStatus = Field(description="our addition: Queued")
    createdAt: str = Field(description="our addition")


class FlowPageModel(BaseModel):
    model_config = ConfigDict(defer_build=True)

    content: list[FlowSnapshotModel]
    totalPages: int
    totalElements: int
    number: int
    size: int
    numberOfElements: int
    first: bool
    last: bool
    nextPageToken: str | None = Field(
        default=None, description="Our extension: pass it as pageToken for the next page (present while more follow)"
    )
    totalElementsExact: bool | None = Field(
        default=None, description="Our extension: false when totalElements is a lower bound (a large range)"
    )


class ErrorModel(BaseModel):
    """Routee's error format."""

    model_config = ConfigDict(defer_build=True)

    code: str
    developerMessage: str
    properties: dict[str, str] | None = None


class GatewayMessageModel(BaseModel):
    """API Gateway's own answer (authorizer refusals)."""

    model_config = ConfigDict(defer_build=True)

    message: str | None
