"""Composition root: builds what a function uses from the environment. Handlers call their builder once per
cold start.

Each builder imports its adapters inside, so a handler module loads only what its own builder needs (the api
never loads jwt, the task functions never load the access or callback modules; tests/lean checks this). The
boto3 clients are low-level clients, one per service and sandbox (a DynamoDB *resource* costs its resource
model at import; failover.dynamo gives the stores the Table interface on a client).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from failover.settings import Settings

if TYPE_CHECKING:
    from failover.access import AccessService
    from failover.callbacks import CallbackService
    from failover.service import FailoverService


class LazyClient:
    """A boto3 client created at its first call, not at import: creating one loads botocore's endpoint data and
    the service's model (60-80 ms each on Python 3.13, bench/results.md), which a sandbox pays only once it
    calls that service."""

    def __init__(self, create: Callable[[], Any]):
        self._create = create
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._create()
        return getattr(self._client, name)


def client(service: str) -> Any:
    """A boto3 client, created at its first call. Each handler module builds its adapters once, at import: one
    client per adapter per sandbox. (No process-wide cache: tests and the local stack start new mocks and
    sessions, and a client must belong to the session it was made in.)"""

    def create() -> Any:
        import boto3

        return boto3.client(service)

    return LazyClient(create)


def table(name: str) -> Any:
    """The table, on its own document client (it serializes plain values, which no other caller expects)."""
    from failover.dynamo import ClientTable

    def create() -> Any:
        import boto3

        from failover.dynamo import document_client

        return document_client(boto3.client("dynamodb"))

    return ClientTable(LazyClient(create), name)


def _secret(secret_id: str) -> Any:
    """A secret's value, fetched at first use and cached by Powertools for 5 minutes."""

    def fetch() -> Any:
        from aws_lambda_powertools.utilities import parameters

        return parameters.get_secret(secret_id, max_age=300)

    return fetch


def build_service(settings: Settings | None = None, *, idempotent_creates: bool = False) -> FailoverService:
    """idempotent_creates: the api function's POST /failover honours Idempotency-Key (Powertools Idempotency);
    the other functions create no flows and do not load it."""
    from failover.service import FailoverService
    from failover.signing import CallbackSigner
    from failover.store import FlowStore
    from failover.url_policy import url_problem
    from failover.workflow import StepFunctionsWorkflow

    settings = settings or Settings.from_env()
    return FailoverService(
        store=FlowStore(table(settings.table_name), settings.retention_days, settings.search_shards),
        workflow=StepFunctionsWorkflow(client("stepfunctions"), settings.state_machine_arn),
        signer=CallbackSigner(_secret(settings.callback_secret_id)),
        public_api_url=settings.public_api_url,
        provider_name=settings.provider,
        time_scale=settings.time_scale,
        callback_url_problem=lambda url: url_problem(url, settings.callback_allow_loopback),
        idempotency=_idempotency(settings.table_name) if idempotent_creates else None,
    )


def _idempotency(table_name: str) -> Any:
    from failover.idempotency import IdempotentCalls

    return IdempotentCalls(table_name)


def build_access(settings: Settings | None = None) -> AccessService:
    from failover.access import AccessService
    from failover.auth import TokenIssuer
    from failover.store import ApplicationStore

    settings = settings or Settings.from_env()
    return AccessService(
        applications=ApplicationStore(table(settings.table_name)),
        issuer=TokenIssuer(key=_secret(settings.token_signing_secret_id), lifetime=settings.token_lifetime),
        rate_limit_per_minute=settings.rate_limit_per_minute,
        failures_per_application=settings.token_failures_per_application,
        failures_per_address=settings.token_failures_per_address,
        failure_window_seconds=settings.token_failure_window_seconds,
    )


def build_callbacks(settings: Settings | None = None) -> CallbackService:
    from failover.callback_store import CallbackEventStore
    from failover.callbacks import TIMEOUT_SECONDS, CallbackService, Poster, Queue
    from failover.store import ApplicationStore, FlowStore

    settings = settings or Settings.from_env()
    shared = table(settings.table_name)
    return CallbackService(
        flows=FlowStore(shared, settings.retention_days),
        events=CallbackEventStore(shared, settings.retention_days),
        queue=Queue(client("sqs"), settings.callback_queue_url, settings.callback_dead_letter_url),
        poster=Poster(allow_loopback=settings.callback_allow_loopback, timeout=TIMEOUT_SECONDS),
        deployment_key=_secret(settings.callback_key_secret_id),
        time_scale=settings.time_scale,
        allow_loopback=settings.callback_allow_loopback,
        applications=ApplicationStore(shared),
    )
