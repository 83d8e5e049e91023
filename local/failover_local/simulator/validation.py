"""Request checks, as Routee makes them for the fields our adapter sends. Each returns the problems found."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
NUMERIC_SENDER = re.compile(r"^\d{1,16}$")
ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
HTTP_URL = re.compile(r"^https?://[^\s/]+\S*$")
HTTPS_URL = re.compile(r"^https://[^\s/]+\S*$")
SIP_URI = re.compile(r"^sips?:[^\s@]+@[^\s@]+$")
VIBER_NUMBER = re.compile(r"^\+?[1-9]\d{6,14}$")
MAX_VERBS = 10
SAY_LANGUAGES = {
    "en-US", "de-DE", "fr-FR", "it-IT", "pt-BR", "es-ES", "es-LA",
    "en-GB", "el-GR", "bg-BG", "pl-PL", "hu-HU", "sv-SE", "ru-RU",
}  # fmt: skip
STRATEGIES = {"OnChange", "OnCompletion"}

VALIDATION_CODE = "400000000"
SENDER_CODE = "400005000"


@dataclass
class Problems:
    properties: dict[str, str] = field(default_factory=dict)
    code: str = VALIDATION_CODE
    message: str = "Validation Error"

    def add(self, name: str, problem: str) -> None:
        self.properties.setdefault(name, problem)

    def __bool__(self) -> bool:
        return bool(self.properties)


def _text(problems: Problems, body: dict[str, Any], name: str, path: str, *, required: bool, max_len: int) -> None:
    value = body.get(name)
    if value is None:
        if required:
            problems.add(path, "may not be null")
    elif not isinstance(value, str) or not value.strip():
        problems.add(path, "may not be empty")
    elif len(value) > max_len:
        problems.add(path, f"size must be between 1 and {max_len}")


def _phone(problems: Problems, value: Any, path: str) -> None:
    if value is None:
        problems.add(path, "may not be null")
    elif not isinstance(value, str) or not E164.match(value):
        problems.add(path, "must be a valid phone number in E.164 format")


def _bool(problems: Problems, body: dict[str, Any], name: str) -> None:
    if name in body and not isinstance(body[name], bool):
        problems.add(name, "must be a boolean")


def _int_range(problems: Problems, body: dict[str, Any], name: str, low: int, high: int) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        problems.add(name, "must be an integer")
    elif not low <= value <= high:
        problems.add(name, f"must be between {low} and {high}")


def _callback(problems: Problems, body: dict[str, Any]) -> None:
    callback = body.get("callback")
    if callback is None:
        return
    if not isinstance(callback, dict):
        problems.add("callback", "must be an object")
        return
    if not isinstance(callback.get("url"), str) or not HTTP_URL.match(callback["url"]):
        problems.add("callback.url", "must be a valid URL")
    if callback.get("strategy", "OnChange") not in STRATEGIES:
        problems.add("callback.strategy", "must be one of OnChange, OnCompletion")


def sms(body: dict[str, Any]) -> Problems:
    problems = Problems()
    sender = body.get("from")
    if sender is None:
        problems.add("from", "may not be null")
    elif not isinstance(sender, str) or not (
        NUMERIC_SENDER.match(sender) or (ALPHANUMERIC_SENDER.match(sender) and not sender.isdigit())
    ):
        return Problems({"from": "invalid sender id"}, SENDER_CODE, "Invalid sender id")
    _phone(problems, body.get("to"), "to")
    _text(problems, body, "body", "body", required=True, max_len=10_000)
    _bool(problems, body, "flash")
    _bool(problems, body, "transcode")
    _text(problems, body, "label", "label", required=False, max_len=350)
    _int_range(problems, body, "ttl", 1, 4320)
    shortener = body.get("urlShortener")
    if shortener is not None and not isinstance(shortener, dict | bool):
        problems.add("urlShortener", "must be an object or a boolean")
    _callback(problems, body)
    return problems


def viber(body: dict[str, Any]) -> Problems:
    problems = Problems()
    _text(problems, body, "senderInfoTrackingId", "senderInfoTrackingId", required=True, max_len=100)
    _phone(problems, body.get("to"), "to")
    content = body.get("body")
    if not isinstance(content, dict):
        problems.add("body", "may not be null")
    else:
        _text(problems, content, "text", "body.text", required=False, max_len=1000)
        image = content.get("imageURL")
        if image is not None and (not isinstance(image, str) or len(image) > 1000 or not HTTPS_URL.match(image)):
            problems.add("body.imageURL", "must be an https URL of at most 1000 characters")
        action = content.get("action")
        if action is not None:
            if not isinstance(action, dict):
                problems.add("body.action", "must be an object")
            else:
                _text(problems, action, "caption", "body.action.caption", required=True, max_len=30)
                if not isinstance(action.get("targetUrl"), str) or not HTTP_URL.match(action["targetUrl"]):
                    problems.add("body.action.targetUrl", "must be a valid URL")
        _viber_attachments(problems, content)
        shape = tuple(key in content for key in ("text", "imageURL", "action", "viberFile", "viberVideo"))
        if shape not in VIBER_CONTENT:
            problems.add("body", "allowed content: " + "; ".join(VIBER_CONTENT.values()))
    _int_range(problems, body, "ttl", 30, 86400)
    _text(problems, body, "label", "label", required=False, max_len=350)
    for name in ("callbackUrl", "inboundUrl"):
        url = body.get(name)
        if url is not None and (not isinstance(url, str) or not HTTP_URL.match(url)):
            problems.add(name, "must be a valid URL")
    return problems


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


def _https(problems: Problems, value: Any, path: str, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or len(value) > 1000 or not HTTPS_URL.match(value):
        problems.add(path, "must be an https URL of at most 1000 characters")


def _viber_attachments(problems: Problems, content: dict[str, Any]) -> None:
    file = content.get("viberFile")
    if file is not None:
        if not isinstance(file, dict):
            problems.add("body.viberFile", "must be an object")
        else:
            _text(problems, file, "fileName", "body.viberFile.fileName", required=True, max_len=25)
            _text(problems, file, "fileType", "body.viberFile.fileType", required=True, max_len=10)
            _https(problems, file.get("fileUrl"), "body.viberFile.fileUrl", required=True)
    video = content.get("viberVideo")
    if video is not None:
        if not isinstance(video, dict):
            problems.add("body.viberVideo", "must be an object")
        else:
            _https(problems, video.get("videoUrl", video.get("videoURL")), "body.viberVideo.videoUrl", required=True)
            _https(problems, video.get("thumbnailUrl"), "body.viberVideo.thumbnailUrl", required=False)


def voice_address(to: dict[str, Any]) -> str:
    """Where the call goes: phone, else viber, else sip (validated by voice())."""
    return to.get("phone") or to.get("viber") or to.get("sip")


def voice(body: dict[str, Any]) -> Problems:
    problems = Problems()
    sender = body.get("from")
    if not (isinstance(sender, str) and ALPHANUMERIC_SENDER.match(sender) and not sender.isdigit()):
        _phone(problems, sender, "from")  # a number, or an alphanumeric sender id
    to = body.get("to")
    if not isinstance(to, dict) or not any(to.get(k) for k in ("phone", "viber", "sip")):
        problems.add("to", "needs one of phone, viber, sip")
    else:
        if to.get("phone"):
            _phone(problems, to["phone"], "to.phone")
        if to.get("viber") and not (isinstance(to["viber"], str) and VIBER_NUMBER.match(to["viber"])):
            problems.add("to.viber", "must be a phone number")
        if to.get("sip") and not (isinstance(to["sip"], str) and SIP_URI.match(to["sip"])):
            problems.add("to.sip", "must be a SIP URI")
    plan = body.get("dialPlan")
    verbs = plan.get("verbs") if isinstance(plan, dict) else None
    if not isinstance(verbs, list) or not 1 <= len(verbs) <= MAX_VERBS or not all(isinstance(v, dict) for v in verbs):
        problems.add("dialPlan.verbs", f"must hold 1 to {MAX_VERBS} SAY or PLAY verbs")
    else:
        for number, verb in enumerate(verbs):
            _verb(problems, verb, f"dialPlan.verbs[{number}]")
    detection = body.get("machineDetection")
    if detection is not None and (
        not isinstance(detection, dict) or detection.get("strategy") not in {"Hangup", "Continue"}
    ):
        problems.add("machineDetection.strategy", "must be one of Hangup, Continue")
    _callback(problems, body)
    return problems


def _verb(problems: Problems, verb: dict[str, Any], path: str) -> None:
    if verb.get("type") == "SAY":
        message = verb.get("message")
        if not isinstance(message, dict):
            problems.add(f"{path}.message", "may not be null")
        else:
            _text(problems, message, "text", f"{path}.message.text", required=True, max_len=1000)
            if message.get("language") not in SAY_LANGUAGES:
                problems.add(f"{path}.message.language", "unsupported language")
            if message.get("gender") not in {"male", "female"}:
                problems.add(f"{path}.message.gender", "must be one of male, female")
    elif verb.get("type") == "PLAY":
        url = verb.get("fileURL")
        if not isinstance(url, str) or not HTTP_URL.match(url) or not url.lower().split("?")[0].endswith(".wav"):
            problems.add(f"{path}.fileURL", "must be the URL of a .wav file")
    else:
        problems.add(f"{path}.type", "must be one of SAY, PLAY")
        return
    repeat = verb.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 10:
        problems.add(f"{path}.repeat", "must be between 1 and 10")
    if "bargeIn" in verb and not isinstance(verb["bargeIn"], bool):
        problems.add(f"{path}.bargeIn", "must be a boolean")
