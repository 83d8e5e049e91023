"""The application admin command, against a moto table."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from failover import auth
from failover.admin import main
from failover.store import APPS_PK
from tests.tables import create_keyed_table


def create_table():
    return create_keyed_table(boto3.resource("dynamodb", region_name="eu-west-1"))


def test_create_list_disable(capsys, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        table = create_table()
        assert main(["--table", "flows", "create", "--id", "bank-app", "--rate-limit", "30"]) == 0
        created = json.loads(capsys.readouterr().out)
        assert created["applicationId"] == "bank-app" and len(created["applicationSecret"]) >= 32
        stored = table.get_item(Key={"pk": APPS_PK, "sk": "bank-app"})["Item"]
        assert created["applicationSecret"] not in json.dumps(stored, default=str)
        assert auth.verify_secret(created["applicationSecret"], stored["secretHash"])

        assert main(["--table", "flows", "list"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed == [
            {
                "applicationId": "bank-app",
                "status": "active",
                "createdAt": stored["createdAt"],
                "rateLimitPerMinute": 30,
            }
        ]
        assert main(["--table", "flows", "disable", "bank-app"]) == 0
        assert table.get_item(Key={"pk": APPS_PK, "sk": "bank-app"})["Item"]["status"] == "disabled"
        assert main(["--table", "flows", "disable", "nobody"]) == 1


STACK_TEMPLATE = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "deliveries"}},
        "Dead": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "dead-letters"}},
    },
    "Outputs": {
        "CallbackKeySecretArn": {"Value": "KEY-ARN"},  # moto's CloudFormation makes no secrets: one is made below
        "CallbackQueueUrl": {"Value": {"Ref": "Queue"}},
        "CallbackDeadLetterQueueUrl": {"Value": {"Ref": "Dead"}},
        "FlowsTableName": {"Value": "flows"},
    },
}


def deployed_stack_with_an_application(capsys) -> None:
    """A stack (its secret, queues and table) as the admin command finds it, and the application bank-app."""
    key = boto3.client("secretsmanager").create_secret(Name="key", SecretString="deployment-key")["ARN"]
    template = json.dumps(STACK_TEMPLATE).replace("KEY-ARN", key)
    boto3.client("cloudformation").create_stack(StackName="failover", TemplateBody=template)
    create_table()
    assert main(["--table", "flows", "create", "--id", "bank-app"]) == 0
    capsys.readouterr()


def test_callback_secret_and_redeliver_against_a_stack(capsys, monkeypatch):
    import base64
    import hashlib
    import hmac

    from failover.callbacks import Delivery

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        deployed_stack_with_an_application(capsys)
        assert main(["--stack", "failover", "callback-secret", "nobody"]) == 1
        assert main(["--stack", "failover", "callback-secret", "bank-app"]) == 0
        key = hmac.new(b"deployment-key", b"callback:bank-app", hashlib.sha256).digest()
        expected = "whsec_" + base64.b64encode(key).decode()  # Standard Webhooks' form
        assert json.loads(capsys.readouterr().out) == {"applicationId": "bank-app", "callbackSecret": expected}

        sqs = boto3.client("sqs")
        dead = sqs.get_queue_url(QueueName="dead-letters")["QueueUrl"]
        for app in ("bank-app", "bank-app", "shop-app"):
            letter = Delivery(
                eventId=app, trackingId="t", applicationId=app, sequence=1, url="u", body="{}", attempt=13
            )
            sqs.send_message(QueueUrl=dead, MessageBody=letter.to_message())
        assert main(["--stack", "failover", "redeliver", "--application", "bank-app"]) == 0
        assert json.loads(capsys.readouterr().out) == {"redelivered": 2}
        queued = sqs.receive_message(
            QueueUrl=sqs.get_queue_url(QueueName="deliveries")["QueueUrl"], MaxNumberOfMessages=10
        )
        assert [Delivery.from_message(m["Body"]).attempt for m in queued["Messages"]] == [0, 0]


def test_rotating_the_callback_secret_keeps_the_old_one_signing_for_the_overlap(capsys, monkeypatch):
    from failover.admin import callback_secrets

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        deployed_stack_with_an_application(capsys)
        assert main(["--stack", "failover", "callback-secret", "bank-app"]) == 0
        original = json.loads(capsys.readouterr().out)["callbackSecret"]

        assert main(["--stack", "failover", "callback-secret", "bank-app", "--rotate", "--overlap-hours", "2"]) == 0
        rotated = json.loads(capsys.readouterr().out)
        assert rotated["previousCallbackSecret"] == original != rotated["callbackSecret"]
        assert main(["--stack", "failover", "callback-secret", "bank-app", "--rotate"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["previousCallbackSecret"] == rotated["callbackSecret"]
        assert len({original, rotated["callbackSecret"], again["callbackSecret"]}) == 3

        stored = boto3.resource("dynamodb").Table("flows").get_item(Key={"pk": APPS_PK, "sk": "bank-app"})["Item"]
        assert (stored["callbackSecretGeneration"], stored["callbackSecretPrevious"]) == (2, 1)
        assert "whsec_" not in json.dumps(stored, default=str)  # only generation numbers are stored
        after_overlap = float(stored["callbackSecretPreviousUntil"]) + 1
        assert "previousCallbackSecret" not in callback_secrets("deployment-key", "bank-app", stored, after_overlap)
        assert main(["--stack", "failover", "callback-secret", "nobody", "--rotate"]) == 1
