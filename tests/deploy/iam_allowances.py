"""Grants that the test suite does not exercise, each kept on purpose: (principal, action) → why.

The IAM check (tests/conftest.py) lists every other unexercised grant as a least-privilege finding.
"""

KEPT_FOR_UNREACHABLE_PATHS: dict[tuple[str, str], str] = {
    ("ApiFunction", "dynamodb:DeleteItem"): (
        "Powertools Idempotency deletes a request's record when the handler raises, so that a retry can run; "
        "no test makes POST /failover raise after the record is written"
    ),
    ("ApiFunction", "sqs:ChangeMessageVisibility"): (
        "POST /callbacks/redeliver puts back at once the dead letters it received but does not redeliver "
        "(another application's, or another trackingId's); the tests redeliver from a queue holding only "
        "matching letters"
    ),
}
