"""The payloads the state machine hands its Lambda tasks (see statemachine/failover.asl.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class StepTask(BaseModel):
    trackingId: str = Field(min_length=1)
    index: int = Field(ge=0)


class SendStepTask(StepTask):
    taskToken: str = Field(min_length=1)


class FailFlowTask(BaseModel):
    trackingId: str = Field(min_length=1)
    error: dict[str, Any] | None = None
