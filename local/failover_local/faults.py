"""The local stack's fault mode: the failures AWS produces, injected at a seeded rate, shaped as AWS sends them.

    FAILOVER_LOCAL_FAULTS="dynamodb_conflict=0.1,dynamodb_throttle=0.05,sfn_throttle=0.1,stream_replay=0.2"
    FAILOVER_LOCAL_FAULT_SEED=7

Each fault is raised inside moto's backend, so it travels moto's HTTP response and botocore's parser, and the
product receives exactly the ClientError it would receive from AWS (Error.Code, CancellationReasons), after
botocore's own retries, which apply to throttling and 5xx as they do in AWS. The faults (docs/faults.md):

  dynamodb_conflict   a TransactWriteItems is cancelled with reason TransactionConflict; a PutItem, UpdateItem or
                      DeleteItem of an item that transactions write fails with TransactionConflictException
  dynamodb_throttle   any DynamoDB item call fails with ProvisionedThroughputExceededException (botocore retries)
  sfn_throttle        SendTaskSuccess or StartExecution fails with ThrottlingException (botocore retries)
  sfn_failure         SendTaskSuccess or StartExecution fails with ServiceUnavailable, HTTP 503 (botocore retries)
  stream_replay       a stream batch the function processed is handed to it again
  sqs_redeliver       an SQS message the function processed is not deleted, and is received again
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from moto.core.exceptions import JsonRESTError
from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException

KINDS = (
    "dynamodb_conflict",
    "dynamodb_throttle",
    "sfn_throttle",
    "sfn_failure",
    "stream_replay",
    "sqs_redeliver",
)
_DYNAMODB = "com.amazonaws.dynamodb.v20120810#"


@dataclass
class FaultPlan:
    """Rates per fault kind (0..1), drawn from one seeded generator; `injected` counts what was injected."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 1
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(KINDS)
        if unknown:
            raise ValueError(
                f"FAILOVER_LOCAL_FAULTS: unknown fault {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}"
            )
        if any(not 0 <= rate <= 1 for rate in self.rates.values()):
            raise ValueError("FAILOVER_LOCAL_FAULTS: each rate is between 0 and 1")
        self._random = random.Random(self.seed)  # noqa: S311 - reproducible faults, not secrets
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, spec: str, seed: int = 1) -> FaultPlan:
        rates: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, rate = part.partition("=")
            try:
                rates[name.strip()] = float(rate)
            except ValueError:
                raise ValueError(f"FAILOVER_LOCAL_FAULTS: {part!r} is not name=rate") from None
        return cls(rates, seed)

    @classmethod
    def from_environment(cls) -> FaultPlan | None:
        spec = os.environ.get("FAILOVER_LOCAL_FAULTS", "")
        if not spec.strip():
            return None
        return cls.parse(spec, int(os.environ.get("FAILOVER_LOCAL_FAULT_SEED", "1")))

    def reseed(self, seed: int) -> None:
        """Start the sequence of draws again from `seed`."""
        with self._lock:
            self.seed = seed
            self._random.seed(seed)

    def hit(self, kind: str) -> bool:
        """Whether this call meets the fault: one draw from the seeded generator."""
        rate = self.rates.get(kind, 0.0)
        if rate <= 0:
            return False
        with self._lock:
            hit = self._random.random() < rate
            if hit:
                self.injected[kind] += 1
        return hit

    def pick(self, count: int) -> int:
        with self._lock:
            return self._random.randrange(count)

    def describe(self) -> str:
        return ", ".join(f"{kind}={rate:g}" for kind, rate in sorted(self.rates.items())) + f" (seed {self.seed})"


# --- errors as AWS sends them (moto serializes these; botocore parses them into ClientError) --------------------


class _ServiceError(JsonRESTError):
    def __init__(self, error_type: str, message: str, status: int):
        super().__init__(error_type, message)
        self.code = status


def dynamodb_throttled(table_arn: str, write: bool) -> DynamodbException:
    """What an on-demand table answers a hot partition; the SDKs retry it with backoff."""
    error = DynamodbException(
        _DYNAMODB + "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your "
        "provisioning level with the UpdateTable API.",
    )
    reason = f"Table{'Write' if write else 'Read'}KeyRangeThroughputExceeded"
    error.description = json.dumps(
        {
            "__type": _DYNAMODB + "ProvisionedThroughputExceededException",
            "message": error.message,
            "ThrottlingReasons": [{"reason": reason, "resource": table_arn}],
        }
    )
    return error


def transaction_conflict() -> DynamodbException:
    """A PutItem, UpdateItem or DeleteItem of an item inside an ongoing transaction. Neither retried by botocore."""
    return DynamodbException(_DYNAMODB + "TransactionConflictException", "Transaction is ongoing for the item")


def transaction_cancelled(count: int, conflicting: int) -> TransactionCanceledException:
    """A TransactWriteItems that met another transaction on one of its items: reason TransactionConflict there,
    None elsewhere (DynamoDB lists one reason per item, in request order)."""
    reasons = [
        ("TransactionConflict", "Transaction is ongoing for the item", None) if n == conflicting else (None, None, None)
        for n in range(count)
    ]
    return TransactionCanceledException(reasons)


def sfn_throttled() -> JsonRESTError:
    return _ServiceError("ThrottlingException", "Rate exceeded", 400)


def sfn_unavailable() -> JsonRESTError:
    return _ServiceError("ServiceUnavailable", "Service is unavailable", 503)
