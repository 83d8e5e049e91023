"""State machine task: a step's ttl passed with no final status. Returns the step's verdict."""

from aws_lambda_powertools.utilities.parser import event_parser

from failover.observability import logger, tracer
from failover.tasks import StepTask
from failover.wiring import build_service

service = build_service()


@logger.inject_lambda_context(correlation_id_path="trackingId", clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=StepTask)
def lambda_handler(task: StepTask, context) -> dict:
    return service.expire_step(task.trackingId, task.index)
