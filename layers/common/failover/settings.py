"""Deployment settings, read from each function's environment (template.yaml sets them)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    table_name: str
    state_machine_arn: str
    public_api_url: str  # base URL of this deployment's API; callback URLs handed to providers start with it
    callback_secret_id: str  # Secrets Manager secret that signs callback URLs
    provider: str
    time_scale: float  # FAILOVER_TIME_SCALE: multiplies every ttl and wait (1 in production)
    retention_days: int
    token_signing_secret_id: str  # Secrets Manager secret that signs access tokens
    token_lifetime: int  # seconds
    rate_limit_per_minute: int  # per application, unless its item sets its own
    token_failures_per_application: int  # failed POST /oauth/token per applicationId per window
    token_failures_per_address: int  # failed POST /oauth/token per source address per window
    token_failure_window_seconds: int
    callback_queue_url: str
    callback_dead_letter_url: str
    callback_key_secret_id: str  # Secrets Manager secret each application's callback secret derives from
    callback_allow_loopback: bool  # the local stack only: http to 127.0.0.1 is a fine callback URL there
    search_shards: int = 16  # SEARCH_SHARDS: write shards of the ByApplication index (template: SearchShards)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        scale = float(env.get("FAILOVER_TIME_SCALE", "1"))
        if scale <= 0:
            raise ValueError("FAILOVER_TIME_SCALE must be positive")
        return cls(
            table_name=env.get("TABLE_NAME", ""),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            public_api_url=env.get("PUBLIC_API_URL", "").rstrip("/"),
            callback_secret_id=env.get("CALLBACK_SECRET_ID", ""),
            provider=env.get("FAILOVER_PROVIDER", "routee"),
            time_scale=scale,
            retention_days=int(env.get("RETENTION_DAYS", "90")),
            token_signing_secret_id=env.get("TOKEN_SIGNING_SECRET_ID", ""),
            token_lifetime=int(env.get("TOKEN_LIFETIME_SECONDS", "3600")),
            rate_limit_per_minute=int(env.get("RATE_LIMIT_PER_MINUTE", "600")),
            token_failures_per_application=int(env.get("TOKEN_FAILURES_PER_APPLICATION", "10")),
            token_failures_per_address=int(env.get("TOKEN_FAILURES_PER_ADDRESS", "30")),
            token_failure_window_seconds=int(env.get("TOKEN_FAILURE_WINDOW_SECONDS", "300")),
            callback_queue_url=env.get("CALLBACK_QUEUE_URL", ""),
            callback_dead_letter_url=env.get("CALLBACK_DEAD_LETTER_URL", ""),
            callback_key_secret_id=env.get("CALLBACK_KEY_SECRET_ID", ""),
            callback_allow_loopback=env.get("CALLBACK_ALLOW_LOOPBACK", "false").lower() == "true",
            search_shards=int(env.get("SEARCH_SHARDS", "16")),
        )
