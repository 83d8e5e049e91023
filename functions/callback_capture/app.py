"""DynamoDB Streams → the flow's snapshot queued for its callback URL, for each status change it wants.

A record that fails is reported by its sequence number; the mapping resumes the batch from it, so the records
after it come again, and capture recognises them by their eventID.
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from failover.callbacks import StreamChange
from failover.observability import logger
from failover.wiring import build_callbacks

callbacks = build_callbacks()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def capture(record: DynamoDBRecord) -> None:
    stream = record.dynamodb
    event_id = record.event_id or f"{record.event_source_arn}#{stream.sequence_number}"  # AWS always sets eventID
    callbacks.capture(StreamChange(event_id, stream.old_image, stream.new_image))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=capture, processor=processor, context=context)
