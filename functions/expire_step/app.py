"""State machine task: a step's ttl passed with no final status. Returns the step's verdict."""

from failover.observability import logger
from failover.tasks import StepTask
from failover.wiring import build_service

service = build_service()


@logger.inject_lambda_context(correlation_id_path="trackingId", clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    task = StepTask.of(event)
    return service.expire_step(task.trackingId, task.index)
