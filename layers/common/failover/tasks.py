"""The payloads the state machine hands its Lambda tasks (see statemachine/failover.asl.json).

Three fields each, read as plain frozen dataclasses: pydantic and Powertools' parser would cost a task
function's cold start far more than they check here. A payload that does not fit raises InvalidTask, which the
state machine's Catch (States.ALL) turns into FailFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class InvalidTask(ValueError):
    """The state machine handed a task a payload it does not produce."""


def _text(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidTask(f"{name}: a non-empty string is required")
    return value


def _index(event: dict[str, Any]) -> int:
    value = event.get("index")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidTask("index: an integer >= 0 is required")
    return value


def _object(event: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidTask("the task payload must be a JSON object")
    return event


@dataclass(frozen=True)
class StepTask:
    trackingId: str
    index: int

    @classmethod
    def of(cls, event: Any) -> StepTask:
        event = _object(event)
        return cls(trackingId=_text(event, "trackingId"), index=_index(event))


@dataclass(frozen=True)
class SendStepTask:
    trackingId: str
    index: int
    taskToken: str

    @classmethod
    def of(cls, event: Any) -> SendStepTask:
        event = _object(event)
        return cls(trackingId=_text(event, "trackingId"), index=_index(event), taskToken=_text(event, "taskToken"))


@dataclass(frozen=True)
class FailFlowTask:
    trackingId: str
    error: dict[str, Any] | None = None

    @classmethod
    def of(cls, event: Any) -> FailFlowTask:
        event = _object(event)
        error = event.get("error")
        if error is not None and not isinstance(error, dict):
            raise InvalidTask("error: an object is required")
        return cls(trackingId=_text(event, "trackingId"), error=error)
