"""The application admin command, against a moto table."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from failover import auth
from failover.admin import main
from failover.store import APPS_PK


def test_create_list_disable(capsys, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").create_table(
            TableName="flows",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
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
