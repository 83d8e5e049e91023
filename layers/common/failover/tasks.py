"""The payloads the state machine hands its Lambda tasks (see statemachine/failover.asl.json)."""

from __future__ import annotations

import hashlib
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


def token_digest(task_token: str) -> str:
    """What the message item keeps of a resumed task token (resumedToken): only its equality with the step's
    taskToken matters, and AWS's tokens run to 2 KB, so 32 hex characters instead of the token (SHA-256)."""
    return hashlib.sha256(task_token.encode()).hexdigest()[:32]
