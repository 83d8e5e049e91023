"""State machine task: an unexpected error ends the flow Failed with statusCode "0"."""

from failover.observability import logger
from failover.tasks import FailFlowTask
from failover.wiring import build_service

service = build_service()


@logger.inject_lambda_context(correlation_id_path="trackingId", clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    task = FailFlowTask.of(event)
    service.fail_flow(task.trackingId, task.error)
    return {"trackingId": task.trackingId}
