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

# Digits that stand alone (not inside an ARN or an id): phone numbers with or without their "+".
_PHONE = re.compile(r"(?<![\w:.-])\+?\d{7,15}(?![\w-])")


def mask_phone(text: str) -> str:
    """+306912345678 → +3069*****678: enough to tell numbers apart in a log, not enough to call one."""

    def mask(match: re.Match[str]) -> str:
        digits = match.group()
        head = min(5, len(digits) - 4)  # a short number keeps fewer leading digits, never all of them
        return digits[:head] + "*" * (len(digits) - head - 3) + digits[-3:]

    return _PHONE.sub(mask, text)


class MaskingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:
        return mask_phone(super().serialize(log))


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
