"""One Logger, Tracer and Metrics for the whole product. Phone numbers never reach a log line in full.

Metrics are per channel, so each is emitted on its own (single_metric, CloudWatch EMF) as it happens.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = "failover"
NAMESPACE = "Failover"

# Phone numbers are masked by field, exactly: the keys below hold recipients and senders wherever they appear
# (nested too), and no other value is touched, so "expiresAt": 1712345678 stays as it is. Powertools' data
# masking (utilities.data_masking) would do the walking, but it needs jsonpath-ng in the layer, deep-copies and
# parses a JSONPath on every call, and its masks cannot keep a number's first and last digits; a formatter
# over known field names is exact and costs nothing to ship.
PHONE_FIELDS = frozenset({"to", "from", "phone", "viber", "recipient", "recipients", "msisdn"})
_NUMBER = re.compile(r"^\+?\d{7,15}$")
# In free text (a message, an exception) only what can only be a phone number: E.164 with its "+", or a phone
# field's value quoted in JSON ('"to": "306912345678"'); a bare run of digits there is a time or a count.
_E164_IN_TEXT = re.compile(r"(?<![\w+])\+\d{7,15}(?![\w-])")
_FIELD_IN_TEXT = re.compile(r'("(?:' + "|".join(sorted(PHONE_FIELDS)) + r')"\s*:\s*")(\+?\d{7,15})(")')


def mask_phone(number: str) -> str:
    """+306912345678 → +3069*****678: enough to tell numbers apart in a log, not enough to call one.
    A value that is not a phone number (a sender name, a SIP address) comes back as it is."""
    if not _NUMBER.match(number):
        return number
    head = min(5, len(number) - 4)  # a short number keeps fewer leading digits, never all of them
    return number[:head] + "*" * (len(number) - head - 3) + number[-3:]


def mask_text(text: str) -> str:
    """Free text: E.164 numbers and quoted phone fields masked, every other number left alone."""
    text = _FIELD_IN_TEXT.sub(lambda m: m.group(1) + mask_phone(m.group(2)) + m.group(3), text)
    return _E164_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)


def mask_fields(value: Any, phone: bool = False) -> Any:
    """A copy of a log value with every phone field's value masked (inside dicts and lists, at any depth)."""
    if isinstance(value, dict):
        return {key: mask_fields(item, phone or key in PHONE_FIELDS) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_fields(item, phone) for item in value]
    if phone and isinstance(value, str | int) and not isinstance(value, bool):
        return mask_phone(str(value))
    return mask_text(value) if isinstance(value, str) else value


class MaskingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:
        return super().serialize(mask_fields(log))


logger = Logger(service=SERVICE, logger_formatter=MaskingFormatter())
# No X-Ray SDK (Powertools Tracer): it cost each cold start about 130 ms (bench/results.md). Tracing: Active in
# template.yaml traces every invocation, API Gateway stage and execution without it; an execution is named after
# its trackingId, so each flow's trace carries it.


def count(name: str, channel: str | None = None, value: int = 1) -> None:
    """A count metric, per channel when one is given (sent, delivered, failed over, ...)."""
    if is_metrics_disabled():
        return
    dimensions = {"service": SERVICE, **({"channel": channel} if channel else {})}
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE, default_dimensions=dimensions
    ):
        pass
