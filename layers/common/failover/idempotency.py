"""Idempotency-Key on POST /failover, with Powertools Idempotency on the flows table.

A key is scoped to the application that sends it. The same key with the same body within 24 h answers the
first response again and creates nothing; the same key with another body raises IdempotencyValidationError.
Records live in pk = IDEMPOTENCY, sk = <prefix>#<hash of applicationId and key>; the table's TTL attribute
(expiresAt) removes them.

Powertools Idempotency is imported by the first request that carries a key, not with the api's handler: it
costs every cold start ~6 ms (bench/results.md), and most requests carry no key. Its two refusals come out as
this module's exceptions, so that the handler can name them without importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

IDEMPOTENCY_PK = "IDEMPOTENCY"
KEY_LIFETIME_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255

__all__ = ["IdempotentCalls", "IdempotencyAlreadyInProgressError", "IdempotencyValidationError", "MAX_KEY_LENGTH"]


class IdempotencyValidationError(Exception):
    """The key was used with another body (Powertools' IdempotencyValidationError)."""


class IdempotencyAlreadyInProgressError(Exception):
    """A first request with this key is still running (Powertools' IdempotencyAlreadyInProgressError)."""


class IdempotentCalls:
    """Built lazily: only the api function's POST /failover with an Idempotency-Key pays for Powertools
    Idempotency and its client."""

    def __init__(self, table_name: str, key_prefix: str = "create_flow"):
        self._table_name = table_name
        self._key_prefix = key_prefix
        self._context: Any = None
        self._config: Any = None
        self._run: Callable[..., dict[str, Any]] | None = None

    def _runner(self) -> Callable[..., dict[str, Any]]:
        if self._run is None:
            from aws_lambda_powertools.utilities.idempotency import (
                DynamoDBPersistenceLayer,
                IdempotencyConfig,
                idempotent_function,
            )

            config = IdempotencyConfig(
                event_key_jmespath="[applicationId, key]",
                payload_validation_jmespath="body",
                expires_after_seconds=KEY_LIFETIME_SECONDS,
                hash_function="sha256",
                raise_on_no_idempotency_key=True,
            )
            if self._context is not None:
                config.register_lambda_context(self._context)
            persistence = DynamoDBPersistenceLayer(
                table_name=self._table_name,
                key_attr="pk",
                sort_key_attr="sk",
                static_pk_value=IDEMPOTENCY_PK,
                expiry_attr="expiresAt",  # the table's TTL attribute
            )

            @idempotent_function(
                data_keyword_argument="data",
                persistence_store=persistence,
                config=config,
                key_prefix=self._key_prefix,
            )
            def run(data: dict[str, Any], call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
                return call()

            self._config, self._run = config, run
        return self._run

    def register_lambda_context(self, context: Any) -> None:
        """So that the record of an invocation that dies mid-way stops blocking its key when the invocation ends."""
        self._context = context
        if self._config is not None:
            self._config.register_lambda_context(context)

    def run(self, application_id: str, key: str, body: dict[str, Any], call: Callable[[], dict[str, Any]]) -> dict:
        """call()'s answer, once per (application, key); the stored answer again when the body matches."""
        runner = self._runner()
        from aws_lambda_powertools.utilities.idempotency import exceptions

        try:
            return runner(data={"applicationId": application_id, "key": key, "body": body}, call=call)
        except exceptions.IdempotencyValidationError as error:
            raise IdempotencyValidationError(str(error)) from error
        except exceptions.IdempotencyAlreadyInProgressError as error:
            raise IdempotencyAlreadyInProgressError(str(error)) from error
