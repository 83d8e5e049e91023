"""A DynamoDB table on a low-level client, with the interface of a boto3 Table resource (plain Python values in
and out, condition objects from boto3.dynamodb.conditions), without building the resource.

A resource loads its resource model and builds its classes at run time; the Table resource's own work is only to
register boto3's DynamoDB transformation handlers on its client. The same handlers on a plain client give the
stores the same behaviour, client calls included (`table.meta.client.transact_write_items` with plain values).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from boto3.dynamodb.transform import TransformationInjector, copy_dynamodb_params


def document_client(client: Any) -> Any:
    """`client` (a boto3 DynamoDB client) serializing plain values and condition objects as a Table's does. The
    client is then only for document-style calls: give it to nothing that passes typed AttributeValues."""
    events = client.meta.events
    injector = TransformationInjector()
    events.register("provide-client-params.dynamodb", copy_dynamodb_params, unique_id="dynamodb-create-params-copy")
    events.register(
        "before-parameter-build.dynamodb",
        injector.inject_condition_expressions,
        unique_id="dynamodb-condition-expression",
    )
    events.register(
        "before-parameter-build.dynamodb", injector.inject_attribute_value_input, unique_id="dynamodb-attr-value-input"
    )
    events.register(
        "after-call.dynamodb", injector.inject_attribute_value_output, unique_id="dynamodb-attr-value-output"
    )
    return client


class ClientTable:
    """The Table operations the stores use, on a client prepared by document_client()."""

    def __init__(self, client: Any, name: str):
        self.name = name
        self.meta = SimpleNamespace(client=client)

    def _call(self, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return getattr(self.meta.client, operation)(TableName=self.name, **kwargs)

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("get_item", kwargs)

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("put_item", kwargs)

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("update_item", kwargs)

    def delete_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("delete_item", kwargs)

    def query(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("query", kwargs)

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("scan", kwargs)
