"""Composition root: builds the service from the environment. Handlers call build_service() once per cold start."""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities import parameters

from failover.access import AccessService
from failover.auth import TokenIssuer
from failover.callback_store import CallbackEventStore
from failover.callbacks import TIMEOUT_SECONDS, CallbackService, Poster, Queue, url_problem
from failover.idempotency import IdempotentCalls
from failover.service import FailoverService
from failover.settings import Settings
from failover.signing import CallbackSigner
from failover.store import ApplicationStore, FlowStore
from failover.workflow import StepFunctionsWorkflow


def build_service(settings: Settings | None = None) -> FailoverService:
    settings = settings or Settings.from_env()
    table = boto3.resource("dynamodb").Table(settings.table_name)
    return FailoverService(
        store=FlowStore(table, settings.retention_days, settings.search_shards),
        workflow=StepFunctionsWorkflow(boto3.client("stepfunctions"), settings.state_machine_arn),
        signer=CallbackSigner(lambda: parameters.get_secret(settings.callback_secret_id, max_age=300)),
        public_api_url=settings.public_api_url,
        provider_name=settings.provider,
        time_scale=settings.time_scale,
        callback_url_problem=lambda url: url_problem(url, settings.callback_allow_loopback),
        idempotency=IdempotentCalls(settings.table_name),
    )


def build_access(settings: Settings | None = None) -> AccessService:
    settings = settings or Settings.from_env()
    table = boto3.resource("dynamodb").Table(settings.table_name)
    return AccessService(
        applications=ApplicationStore(table),
        issuer=TokenIssuer(
            key=lambda: parameters.get_secret(settings.token_signing_secret_id, max_age=300),
            lifetime=settings.token_lifetime,
        ),
        rate_limit_per_minute=settings.rate_limit_per_minute,
        failures_per_application=settings.token_failures_per_application,
        failures_per_address=settings.token_failures_per_address,
        failure_window_seconds=settings.token_failure_window_seconds,
    )


def build_callbacks(settings: Settings | None = None) -> CallbackService:
    settings = settings or Settings.from_env()
    table = boto3.resource("dynamodb").Table(settings.table_name)
    return CallbackService(
        flows=FlowStore(table, settings.retention_days),
        events=CallbackEventStore(table, settings.retention_days),
        queue=Queue(boto3.client("sqs"), settings.callback_queue_url, settings.callback_dead_letter_url),
        poster=Poster(allow_loopback=settings.callback_allow_loopback, timeout=TIMEOUT_SECONDS),
        deployment_key=lambda: parameters.get_secret(settings.callback_key_secret_id, max_age=300),
        time_scale=settings.time_scale,
        allow_loopback=settings.callback_allow_loopback,
    )
