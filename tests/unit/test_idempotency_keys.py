"""failover.idempotency: Powertools Idempotency, loaded by the first keyed call, refuses a reused key and a key
still in progress with this module's own exceptions (the api's handler maps them to 422 and 409)."""

import boto3
import pytest
from moto import mock_aws

from failover.idempotency import IdempotencyAlreadyInProgressError, IdempotencyValidationError, IdempotentCalls
from tests.tables import create_keyed_table


@pytest.fixture
def calls(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        create_keyed_table(boto3.client("dynamodb"))
        yield IdempotentCalls("flows")


def test_the_same_key_and_body_answer_the_first_response_again(calls):
    answers = iter([{"trackingId": "first"}, {"trackingId": "second"}])
    assert calls.run("app", "k1", {"a": 1}, lambda: next(answers)) == {"trackingId": "first"}
    assert calls.run("app", "k1", {"a": 1}, lambda: next(answers)) == {"trackingId": "first"}


def test_a_key_reused_with_another_body_is_refused(calls):
    calls.run("app", "k1", {"a": 1}, lambda: {"trackingId": "first"})
    with pytest.raises(IdempotencyValidationError):
        calls.run("app", "k1", {"a": 2}, lambda: {"trackingId": "second"})


def test_a_key_still_in_progress_is_refused(calls):
    def first():  # while the first call runs, its record is INPROGRESS: a second call with the key must wait
        with pytest.raises(IdempotencyAlreadyInProgressError):
            calls.run("app", "k1", {"a": 1}, lambda: {"trackingId": "second"})
        return {"trackingId": "first"}

    assert calls.run("app", "k1", {"a": 1}, first) == {"trackingId": "first"}
