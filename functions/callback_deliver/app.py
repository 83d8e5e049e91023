"""SQS → one POST of a signed snapshot; failures are queued again on Routee's schedule, then dead-lettered."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from failover.callbacks import Delivery
from failover.observability import logger
from failover.wiring import build_callbacks

callbacks = build_callbacks()
processor = BatchProcessor(event_type=EventType.SQS)


def deliver(record: SQSRecord) -> None:
    callbacks.deliver(Delivery.from_message(record.body))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)
