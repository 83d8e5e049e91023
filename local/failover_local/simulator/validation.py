"""Request checks, as Routee makes them for the fields our adapter sends: pydantic models of the SMS, Viber and
Voice requests, and Routee's way of naming each problem (400000000, "properties": {path: problem})."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
NUMERIC_SENDER = re.compile(r"^\d{1,16}$")
ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
HTTP_URL = re.compile(r"^https?://[^\s/]+\S*$")
HTTPS_URL = re.compile(r"^https://[^\s/]+\S*$")
SIP_URI = re.compile(r"^sips?:[^\s@]+@[^\s@]+$")
VIBER_NUMBER = re.compile(r"^\+?[1-9]\d{6,14}$")
MAX_VERBS = 10
SAY_LANGUAGES = Literal[
    "en-US", "de-DE", "fr-FR", "it-IT", "pt-BR", "es-ES", "es-LA",
    "en-GB", "el-GR", "bg-BG", "pl-PL", "hu-HU", "sv-SE", "ru-RU",
]  # fmt: skip

VALIDATION_CODE = "400000000"
SENDER_CODE = "400005000"
INVALID_SENDER = "invalid_sender"


@dataclass
class Problems:
    properties: dict[str, str] = field(default_factory=dict)
    code: str = VALIDATION_CODE
    message: str = "Validation Error"

    def __bool__(self) -> bool:
        return bool(self.properties)


# --- field types: pydantic's, with Routee's wording where a rule is Routee's own --------------------------------


def _refuse(problem: str, kind: str = "routee") -> Any:
    raise PydanticCustomError(kind, problem)


def _matching(pattern: re.Pattern[str], problem: str, max_len: int = 10_000, null: str | None = None):
    def check(value: Any) -> Any:
        if value is None and null:
            _refuse(null)
        if not isinstance(value, str) or len(value) > max_len or not pattern.match(value):
            _refuse(problem)
        return value

    return BeforeValidator(check)


def _between(low: int, high: int):
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            _refuse("must be an integer")
        if not low <= value <= high:
            _refuse(f"must be between {low} and {high}")
        return value

    return BeforeValidator(check)


def _wav(url: str) -> str:
    if not url.lower().split("?")[0].endswith(".wav"):
        _refuse("must be the URL of a .wav file")
    return url


def _object_or_none(value: Any) -> Any:
    """Routee reports a required object given as something else as missing ("may not be null")."""
    return value if isinstance(value, dict) else None


def Text(max_len: int) -> Any:  # noqa: N802 - a type
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_len)]


Phone = Annotated[str, _matching(E164, "must be a valid phone number in E.164 format", null="may not be null")]
Url = Annotated[str, _matching(HTTP_URL, "must be a valid URL")]
HttpsUrl = Annotated[str, _matching(HTTPS_URL, "must be an https URL of at most 1000 characters", 1000)]
WavUrl = Annotated[str, _matching(HTTP_URL, "must be the URL of a .wav file"), AfterValidator(_wav)]


class _Routee(BaseModel):
    # Routee ignores fields it does not know; a default stands for an absent field and is checked like one.
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_default=True)


class Callback(_Routee):
    url: Url = None  # type: ignore[assignment] - missing is refused as "must be a valid URL"
    strategy: Literal["OnChange", "OnCompletion"] = "OnChange"


def _object_or_boolean(value: Any) -> Any:
    if value is not None and not isinstance(value, dict | bool):
        _refuse("must be an object or a boolean")
    return value


# --- SMS ---------------------------------------------------------------------------------------------------------


def _sender(value: Any) -> Any:
    if value is not None and not (
        isinstance(value, str)
        and (NUMERIC_SENDER.match(value) or (ALPHANUMERIC_SENDER.match(value) and not value.isdigit()))
    ):
        _refuse("invalid sender id", INVALID_SENDER)
    return value


class SmsRequest(_Routee):
    sender: Annotated[str, BeforeValidator(_sender)] = Field(alias="from")
    to: Phone
    body: Text(10_000)
    flash: StrictBool = Field(None, validate_default=False)  # absent is fine, null is not a boolean
    transcode: StrictBool = Field(None, validate_default=False)
    label: Text(350) | None = None
    ttl: Annotated[int, _between(1, 4320)] | None = None
    urlShortener: Annotated[Any, BeforeValidator(_object_or_boolean)] = None
    callback: Callback | None = None


# --- Viber -------------------------------------------------------------------------------------------------------

# (text, imageURL, action, viberFile, viberVideo) present → the content Routee allows.
VIBER_CONTENT = {
    (True, False, False, False, False): "text",
    (False, True, False, False, False): "image",
    (True, False, True, False, False): "text+button",
    (True, True, True, False, False): "text+image+button",
    (False, False, False, True, False): "file",
    (False, False, False, False, True): "video",
    (True, False, False, False, True): "video+text",
    (True, False, True, False, True): "video+text+button",
}


class ViberAction(_Routee):
    caption: Text(30)
    targetUrl: Url = None  # type: ignore[assignment] - missing is refused as "must be a valid URL"


class ViberFile(_Routee):
    fileName: Text(25)
    fileType: Text(10)
    fileUrl: HttpsUrl = None  # type: ignore[assignment]


class ViberVideo(_Routee):
    videoUrl: HttpsUrl = None  # type: ignore[assignment]
    thumbnailUrl: HttpsUrl | None = None

    @model_validator(mode="before")
    @classmethod
    def _either_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict) and "videoUrl" not in data and "videoURL" in data:
            return {**data, "videoUrl": data["videoURL"]}
        return data


class ViberContent(_Routee):
    text: Text(1000) | None = None
    imageURL: HttpsUrl | None = None
    action: ViberAction | None = None
    viberFile: ViberFile | None = None
    viberVideo: ViberVideo | None = None

    @model_validator(mode="after")
    def _allowed_combination(self) -> ViberContent:
        present = self.model_fields_set | set(self.model_extra or {})
        shape = tuple(name in present for name in ("text", "imageURL", "action", "viberFile", "viberVideo"))
        if shape not in VIBER_CONTENT:
            _refuse("allowed content: " + "; ".join(VIBER_CONTENT.values()))
        return self


class ViberRequest(_Routee):
    senderInfoTrackingId: Text(100)
    to: Phone
    body: Annotated[ViberContent, BeforeValidator(_object_or_none)]
    ttl: Annotated[int, _between(30, 86400)] | None = None
    label: Text(350) | None = None
    callbackUrl: Url | None = None
    inboundUrl: Url | None = None


# --- Voice -------------------------------------------------------------------------------------------------------


def _address(pattern: re.Pattern[str], problem: str):
    """Only an address given (not empty) is checked, against its own form."""

    def check(value: Any) -> Any:
        if value and not (isinstance(value, str) and pattern.match(value)):
            _refuse(problem)
        return value

    return BeforeValidator(check)


class VoiceTo(_Routee):
    phone: Annotated[Any, _address(E164, "must be a valid phone number in E.164 format")] = None
    viber: Annotated[Any, _address(VIBER_NUMBER, "must be a phone number")] = None
    sip: Annotated[Any, _address(SIP_URI, "must be a SIP URI")] = None

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {}

    @model_validator(mode="after")
    def _one_address(self) -> VoiceTo:
        if not (self.phone or self.viber or self.sip):
            _refuse("needs one of phone, viber, sip")
        return self


class SayMessage(_Routee):
    text: Text(1000)
    language: SAY_LANGUAGES = None  # type: ignore[assignment]
    gender: Literal["male", "female"] = None  # type: ignore[assignment]


def _repeat(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        _refuse("must be between 1 and 10")
    return value


class _Verb(_Routee):
    repeat: Annotated[int, BeforeValidator(_repeat)] = 1
    bargeIn: StrictBool = Field(None, validate_default=False)  # absent is fine, null is not a boolean


class SayVerb(_Verb):
    type: Literal["SAY"]
    message: Annotated[SayMessage, BeforeValidator(_object_or_none)]


class PlayVerb(_Verb):
    type: Literal["PLAY"]
    fileURL: WavUrl = None  # type: ignore[assignment]


class OtherVerb(_Routee):
    type: Literal["SAY", "PLAY"] = None  # type: ignore[assignment] - always refused: the verb is neither


def _verb_type(verb: Any) -> str:
    kind = verb.get("type") if isinstance(verb, dict) else None
    return kind if kind in ("SAY", "PLAY") else "OTHER"


Verb = Annotated[
    Annotated[SayVerb, Tag("SAY")] | Annotated[PlayVerb, Tag("PLAY")] | Annotated[OtherVerb, Tag("OTHER")],
    Discriminator(_verb_type),
]


def _verbs(value: Any) -> Any:
    if not (isinstance(value, list) and 1 <= len(value) <= MAX_VERBS and all(isinstance(v, dict) for v in value)):
        _refuse(f"must hold 1 to {MAX_VERBS} SAY or PLAY verbs")
    return value


class DialPlan(_Routee):
    verbs: Annotated[list[Verb], BeforeValidator(_verbs)] = None  # type: ignore[assignment]


class MachineDetection(_Routee):
    strategy: Literal["Hangup", "Continue"] = None  # type: ignore[assignment]


def _alphanumeric_sender_or_phone(value: Any) -> Any:
    if isinstance(value, str) and ALPHANUMERIC_SENDER.match(value) and not value.isdigit():
        return value  # an alphanumeric sender id
    if value is not None and not (isinstance(value, str) and E164.match(value)):
        _refuse("must be a valid phone number in E.164 format")
    return value


class VoiceRequest(_Routee):
    sender: Annotated[str, BeforeValidator(_alphanumeric_sender_or_phone)] = Field(alias="from")
    to: VoiceTo = None  # type: ignore[assignment]
    dialPlan: Annotated[DialPlan, BeforeValidator(lambda plan: plan if isinstance(plan, dict) else {})] = None  # type: ignore[assignment]
    machineDetection: (
        Annotated[MachineDetection, BeforeValidator(lambda d: d if isinstance(d, dict) else {})] | None
    ) = None
    callback: Callback | None = None


# --- Routee's error properties -------------------------------------------------------------------------------------

_TAGS = {"SAY", "PLAY", "OTHER"}  # a discriminated union's member, in an error's location; not part of Routee's path


def _path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in _TAGS:
            path += f".{part}" if path else str(part)
    return path


def _problem(error: Any) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind in ("routee", INVALID_SENDER):
        return error["msg"]
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", context["expected"])
        return "unsupported language" if "en-US" in choices else "must be one of " + ", ".join(choices)
    if kind == "bool_type":
        return "must be a boolean"
    if kind == "missing" or error["input"] is None:
        return "may not be null"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object"
    if kind in ("string_type", "string_too_short"):
        return "may not be empty"
    if kind == "string_too_long":
        return f"size must be between 1 and {context['max_length']}"
    if kind.startswith("int_"):
        return "must be an integer"
    return error["msg"]


def _check(model: type[BaseModel], body: dict[str, Any]) -> Problems:
    try:
        model.model_validate(body)
    except ValidationError as invalid:
        problems = Problems()
        for error in invalid.errors():
            if error["type"] == INVALID_SENDER:
                return Problems({"from": "invalid sender id"}, SENDER_CODE, "Invalid sender id")
            problems.properties.setdefault(_path(error["loc"]), _problem(error))
        return problems
    return Problems()


def sms(body: dict[str, Any]) -> Problems:
    return _check(SmsRequest, body)


def viber(body: dict[str, Any]) -> Problems:
    return _check(ViberRequest, body)


def voice(body: dict[str, Any]) -> Problems:
    return _check(VoiceRequest, body)


def voice_address(to: dict[str, Any]) -> str:
    """Where the call goes: phone, else viber, else sip (validated by voice())."""
    return to.get("phone") or to.get("viber") or to.get("sip")
