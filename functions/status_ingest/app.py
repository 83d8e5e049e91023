"""Provider receipts: POST /webhooks/{provider}/{token}. The signed token in the URL authenticates the receipt."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from failover.http import body_too_large, routee_error
from failover.observability import logger
from failover.providers import InvalidReceipt
from failover.service import Conflict, NotFound, Unauthorized
from failover.wiring import build_service

app = APIGatewayRestResolver()
service = build_service()


@app.post("/webhooks/<provider>/<token>")
def receive(provider: str, token: str) -> dict:
    body = app.current_event.decoded_body or ""
    result = service.ingest_receipt(provider, token, body.encode())
    return {"result": result.value}


@app.exception_handler(Unauthorized)
def unauthorized(error: Unauthorized):
    return routee_error(401, "Unauthorized")


@app.exception_handler(NotFound)
def not_found(error: NotFound):
    return routee_error(404, "Unknown callback")


@app.exception_handler(InvalidReceipt)
def invalid(error: InvalidReceipt):
    return routee_error(400, f"Invalid receipt: {error}")


@app.exception_handler(Conflict)
def conflict(error: Conflict):
    return routee_error(409, str(error))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    return body_too_large(event) or app.resolve(event, context)
