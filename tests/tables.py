"""A moto table with the flows table's keys (pk, sk), for tests below the local stack."""

from __future__ import annotations

from typing import Any

KEYS: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def create_keyed_table(dynamodb: Any, name: str = "flows", **extra: Any) -> Any:
    """A table keyed as template.yaml's FlowsTable, through a boto3 resource (a Table) or client (its answer)."""
    return dynamodb.create_table(TableName=name, **KEYS, **extra)
