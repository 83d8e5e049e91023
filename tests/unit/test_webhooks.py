"""Standard Webhooks signing (failover.webhooks), checked against the spec's own library, not our code."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from failover.webhooks import SecretRotation, headers, secret_text, signing_key

BODY = b'{"trackingId":"t-1","status":"Succeeded"}'


def test_a_secret_is_in_the_specs_whsec_form_and_within_its_key_sizes():
    key = signing_key("deployment-key", "bank-app")
    text = secret_text(key)
    assert text.startswith("whsec_") and base64.b64decode(text.removeprefix("whsec_")) == key
    assert 24 <= len(key) <= 64


def test_each_application_and_generation_has_its_own_secret():
    keys = {signing_key("k", app, generation) for app in ("a", "b") for generation in (0, 1, 2)}
    assert len(keys) == 6
    assert signing_key("other-deployment", "a") not in keys


def test_the_library_verifies_our_headers_and_refuses_a_changed_body_or_secret():
    key = signing_key("deployment-key", "bank-app")
    stamp = str(int(time.time()))
    signed = headers([key], "event-1", stamp, BODY)
    assert set(signed) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert signed["webhook-id"] == "event-1" and signed["webhook-signature"].startswith("v1,")
    assert Webhook(secret_text(key)).verify(BODY, signed)["status"] == "Succeeded"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_text(key)).verify(BODY.replace(b"Succeeded", b"Failed"), signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_text(signing_key("deployment-key", "shop-app"))).verify(BODY, signed)


def test_several_secrets_sign_in_one_space_separated_header():
    old, new = signing_key("k", "a", 0), signing_key("k", "a", 1)
    signed = headers([new, old], "event-1", str(int(time.time())), BODY)
    assert len(signed["webhook-signature"].split(" ")) == 2
    for key in (old, new):
        Webhook(secret_text(key)).verify(BODY, signed)


@pytest.mark.parametrize(
    ("application", "now", "generations"),
    [
        (None, 100.0, [0]),
        ({}, 100.0, [0]),
        (
            {"callbackSecretGeneration": 2, "callbackSecretPrevious": 1, "callbackSecretPreviousUntil": 200},
            100.0,
            [2, 1],
        ),
        ({"callbackSecretGeneration": 2, "callbackSecretPrevious": 1, "callbackSecretPreviousUntil": 200}, 200.0, [2]),
    ],
)
def test_which_generations_sign(application, now, generations):
    assert SecretRotation.of(application).signing_generations(now) == generations
