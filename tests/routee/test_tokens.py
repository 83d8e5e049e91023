"""OAuth2 client credentials: one token for many sends, renewed before it expires, refreshed once on 401."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from moto import mock_aws

from failover.domain import Channel
from failover.providers.routee import RouteeProvider
from failover_local.simulator import Simulator

from .conftest import Receiver, definition, make_provider, make_simulator, outbound, wait_until


def test_one_token_serves_many_sends(sim: Simulator, provider: RouteeProvider, receiver: Receiver) -> None:
    for channel in Channel:
        provider.send(outbound(channel, definition(channel, "+306900000000"), receiver))
    provider.send(outbound(Channel.SMS, definition(Channel.SMS, "+306900000000"), receiver))

    assert sim.count("POST", "/oauth/token") == 1
    assert len(sim.messages()) == 4


def test_token_is_renewed_before_it_expires(receiver: Receiver) -> None:
    # expires_in 1 s: the adapter keeps it for half of that, then fetches a new one without a 401.
    with make_simulator(token_lifetime=1.5) as sim:
        provider = make_provider(sim)
        message = outbound(Channel.SMS, definition(Channel.SMS, "+306900000000"), receiver)
        provider.send(message)
        provider.send(message)
        assert sim.count("POST", "/oauth/token") == 1

        renewal = time.monotonic() + 0.6
        wait_until(lambda: time.monotonic() > renewal)
        provider.send(message)

        assert sim.count("POST", "/oauth/token") == 2
        assert sim.count("POST", "/sms", status=401) == 0
        assert sim.count("POST", "/sms", status=200) == 3


def test_token_expired_at_routee_is_refreshed_once(
    sim: Simulator, provider: RouteeProvider, receiver: Receiver
) -> None:
    message = outbound(Channel.VIBER, definition(Channel.VIBER, "+306900000000"), receiver)
    provider.send(message)
    sim.expire_tokens()  # Routee forgets the token before the adapter expects it

    accepted = provider.send(message)

    assert accepted.provider_message_id
    assert [r.status for r in sim.requests if r.path == "/viber"] == [200, 401, 200]
    assert sim.count("POST", "/oauth/token") == 2


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(parameters_base, "DEFAULT_PROVIDERS", {})  # Powertools caches its boto3 clients
    with mock_aws():
        yield


def test_credentials_from_secrets_manager(
    aws: None, sim: Simulator, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = {"applicationId": sim.application_id, "applicationSecret": sim.application_secret}
    boto3.client("secretsmanager").create_secret(Name="routee/credentials", SecretString=json.dumps(secret))
    monkeypatch.delenv("ROUTEE_APPLICATION_ID", raising=False)
    monkeypatch.delenv("ROUTEE_APPLICATION_SECRET", raising=False)
    monkeypatch.setenv("ROUTEE_CREDENTIALS_SECRET", "routee/credentials")
    monkeypatch.setenv("ROUTEE_AUTH_URL", sim.base_url)
    monkeypatch.setenv("ROUTEE_API_URL", sim.base_url)

    accepted = RouteeProvider().send(outbound(Channel.SMS, definition(Channel.SMS, "+306900000000"), receiver))

    assert accepted.provider_message_id == sim.messages()[0].tracking_id
    assert sim.count("POST", "/oauth/token", status=200) == 1


def test_unreadable_credentials_secret_is_authentication_failed(aws: None, sim: Simulator, receiver: Receiver) -> None:
    from failover.providers import AuthenticationFailed

    provider = RouteeProvider(credentials_secret="no/such/secret", auth_url=sim.base_url, api_url=sim.base_url)
    with pytest.raises(AuthenticationFailed, match="could not be read"):
        provider.send(outbound(Channel.SMS, definition(Channel.SMS, "+306900000000"), receiver))
    assert sim.requests == []


def test_env_configuration(monkeypatch: pytest.MonkeyPatch, sim: Simulator, receiver: Receiver) -> None:
    env: dict[str, Any] = {
        "ROUTEE_APPLICATION_ID": sim.application_id,
        "ROUTEE_APPLICATION_SECRET": sim.application_secret,
        "ROUTEE_AUTH_URL": sim.base_url + "/",
        "ROUTEE_API_URL": sim.base_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ROUTEE_CREDENTIALS_SECRET", raising=False)

    RouteeProvider().send(outbound(Channel.VOICE, definition(Channel.VOICE, "+306900000000"), receiver))

    assert [r.path for r in sim.requests] == ["/oauth/token", "/voice/conversation"]
