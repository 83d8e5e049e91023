"""State machine task: record the task token, send the step through the channel provider."""

from failover.observability import logger
from failover.tasks import SendStepTask
from failover.wiring import build_service

service = build_service()


@logger.inject_lambda_context(correlation_id_path="trackingId", clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    task = SendStepTask.of(event)
    service.bind_invocation(context)  # a send retries a provider outage only while the function has time left
    service.send_step(task.trackingId, task.index, task.taskToken)
    return {"trackingId": task.trackingId, "index": task.index}
