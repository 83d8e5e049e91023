"""State machine task: an unexpected error ends the flow Failed with statusCode "0"."""

from aws_lambda_powertools.utilities.parser import event_parser

from failover.observability import logger, tracer
from failover.tasks import FailFlowTask
from failover.wiring import build_service

service = build_service()


@logger.inject_lambda_context(correlation_id_path="trackingId", clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=FailFlowTask)
def lambda_handler(task: FailFlowTask, context) -> dict:
    service.fail_flow(task.trackingId, task.error)
    return {"trackingId": task.trackingId}
