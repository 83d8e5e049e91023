"""State machine task: record the task token, send the step through the channel provider."""

from aws_lambda_powertools.utilities.parser import event_parser

from failover.observability import logger, tracer
from failover.tasks import SendStepTask
from failover.wiring import build_service

service = build_service()


@logger.inject_lambda_context(correlation_id_path="trackingId", clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=SendStepTask)
def lambda_handler(task: SendStepTask, context) -> dict:
    service.bind_invocation(context)  # a send retries a provider outage only while the function has time left
    service.send_step(task.trackingId, task.index, task.taskToken)
    return {"trackingId": task.trackingId, "index": task.index}
