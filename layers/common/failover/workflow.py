"""The Step Functions adapter: start a flow's execution, resume a waiting step, stop a cancelled flow."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from failover.observability import count, logger
from failover.ports import Contention

# A resume that finds the task gone is a fact to record, not an error: the step already timed out, the
# execution already moved on, or another writer's SendTaskSuccess already closed it ("TaskTimedOut: the task
# token has either expired or the task associated with the token has already been closed",
# https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html). So a resume may be
# attempted any number of times: Step Functions completes a task once.
_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}
# Step Functions throttles SendTaskSuccess and StartExecution per account and region (token buckets,
# https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-api-action-throttling-general);
# a throttled call did nothing and is retried by failover.retries.
_THROTTLED = {"ThrottlingException"}


def _throttled(exc: ClientError, call: str) -> None:
    if exc.response["Error"]["Code"] in _THROTTLED:
        raise Contention(f"{call}: {exc.response['Error']['Code']}") from exc


class StepFunctionsWorkflow:
    def __init__(self, client: Any, state_machine_arn: str):
        self._client = client
        self._arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        """Start the execution called `name`; False if it already exists (a flow never runs twice)."""
        try:
            self._client.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        except ClientError as exc:
            _throttled(exc, "StartExecution")
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise
        return True

    def stop(self, name: str, cause: str) -> bool:
        """Stop the execution called `name`; False when it does not exist or has already ended."""
        arn = self._arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        try:
            self._client.stop_execution(executionArn=arn, error="Cancelled", cause=cause)
        except ClientError as exc:
            _throttled(exc, "StopExecution")
            if exc.response["Error"]["Code"] not in ("ExecutionDoesNotExist", "ExecutionAlreadyStopped"):
                raise
            return False
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Hand a step's verdict to the waiting task; False when the task no longer waits."""
        try:
            self._client.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as exc:
            _throttled(exc, "SendTaskSuccess")
            code = exc.response["Error"]["Code"]
            if code not in _GONE:
                raise
            logger.info("Resume found no waiting task", extra={"reason": code})
            count("ResumeIgnored")
            return False
        return True
