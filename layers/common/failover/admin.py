"""Manage the applications of a deployed stack.

    python -m failover.admin --stack failover create [--id bank-app] [--rate-limit 600]
    python -m failover.admin --stack failover list
    python -m failover.admin --stack failover disable bank-app
    python -m failover.admin --stack failover callback-secret bank-app [--rotate [--overlap-hours 24]]
    python -m failover.admin --stack failover redeliver [--application bank-app] [--tracking-id ID]
    python -m failover.admin --stack failover recapture

It uses your AWS credentials (the usual AWS_PROFILE / AWS_REGION) and finds the table from the stack's outputs.
The secret is printed once, at creation; only its scrypt hash is stored. The callback secret (Standard Webhooks,
whsec_...) is derived, never stored: callback-secret shows it, and --rotate moves to a new one while the old one
keeps signing (next to the new) for the overlap.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime

import boto3

from failover.access import AccessService
from failover.auth import TokenIssuer
from failover.callback_store import CallbackEventStore
from failover.callbacks import CallbackService, Poster, Queue
from failover.recapture import recapture
from failover.store import ApplicationStore, FlowStore
from failover.webhooks import SecretRotation, secret_text, signing_key


def outputs_of(stack: str, region: str | None) -> dict[str, str]:
    described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def callback_key(outputs: dict[str, str], region: str | None) -> str:
    client = boto3.client("secretsmanager", region_name=region)
    return client.get_secret_value(SecretId=outputs["CallbackKeySecretArn"])["SecretString"]


def callback_secrets(deployment_key: str, application_id: str, application: dict | None, now: float) -> dict:
    """What signs an application's callbacks now, in the whsec_ form a receiver configures."""
    rotation = SecretRotation.of(application)
    shown: dict = {
        "applicationId": application_id,
        "callbackSecret": secret_text(signing_key(deployment_key, application_id, rotation.generation)),
    }
    if rotation.previous is not None and now < rotation.previous_until:
        shown["previousCallbackSecret"] = secret_text(signing_key(deployment_key, application_id, rotation.previous))
        shown["previousSignsUntil"] = datetime.fromtimestamp(rotation.previous_until, UTC).isoformat()
    return shown


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # a command line, not a Lambda: no EMF on stdout
    parser = argparse.ArgumentParser(prog="python -m failover.admin", description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the CloudFormation stack name of the deployment")
    where.add_argument("--table", help="the DynamoDB table name, instead of --stack")
    parser.add_argument("--region")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an application and print its secret once")
    create.add_argument("--id", dest="application_id")
    create.add_argument("--rate-limit", type=int, help="requests per minute (default: the stack's RateLimitPerMinute)")
    commands.add_parser("list", help="list applications")
    disable = commands.add_parser("disable", help="disable an application: no new tokens; its tokens stop working")
    disable.add_argument("application_id")
    secret = commands.add_parser(
        "callback-secret", help="print the secret(s) an application's callbacks are signed with"
    )
    secret.add_argument("application_id")
    secret.add_argument("--rotate", action="store_true", help="move to a new secret; the old one signs too, meanwhile")
    secret.add_argument("--overlap-hours", type=float, default=24.0, help="how long the old secret still signs")
    redeliver = commands.add_parser("redeliver", help="send dead-lettered callbacks again")
    redeliver.add_argument("--application", dest="application_id")
    redeliver.add_argument("--tracking-id")
    commands.add_parser(
        "recapture", help="capture again the stream batches the callback capture gave up on (within 24 hours)"
    )
    args = parser.parse_args(argv)

    outputs = outputs_of(args.stack, args.region) if args.stack else {"FlowsTableName": args.table}
    if args.command in ("callback-secret", "redeliver", "recapture") and not args.stack:
        parser.error(f"{args.command} needs --stack")
    if args.command == "callback-secret":
        applications = ApplicationStore(
            boto3.resource("dynamodb", region_name=args.region).Table(outputs["FlowsTableName"])
        )
        now = time.time()
        if args.rotate:
            application = applications.rotate_callback_secret(args.application_id, now + args.overlap_hours * 3600)
        else:
            application = applications.get(args.application_id)
        if application is None:
            print(f"no application {args.application_id}", file=sys.stderr)
            return 1
        print(json.dumps(callback_secrets(callback_key(outputs, args.region), args.application_id, application, now)))
        return 0
    if args.command == "redeliver":
        sqs = boto3.client("sqs", region_name=args.region)
        queue = Queue(sqs, outputs["CallbackQueueUrl"], outputs["CallbackDeadLetterQueueUrl"])
        callbacks = CallbackService(None, None, queue, Poster(), deployment_key=lambda: "")  # type: ignore[arg-type]
        total, complete = 0, False
        while not complete:  # each call scans for a bounded time; go on until the whole queue was scanned
            moved, complete = callbacks.redeliver(args.application_id, args.tracking_id)
            total += moved
        print(json.dumps({"redelivered": total}))
        return 0
    if args.command == "recapture":
        sqs = boto3.client("sqs", region_name=args.region)
        table = boto3.resource("dynamodb", region_name=args.region).Table(outputs["FlowsTableName"])
        queue = Queue(sqs, outputs["CallbackQueueUrl"], outputs["CallbackDeadLetterQueueUrl"])
        callbacks = CallbackService(FlowStore(table), CallbackEventStore(table), queue, Poster(), lambda: "")
        streams = boto3.client("dynamodbstreams", region_name=args.region)
        done = recapture(callbacks, sqs, outputs["CallbackCaptureFailureQueueUrl"], streams)
        print(json.dumps({"batches": done.batches, "records": done.records, "expired": done.expired}))
        return 0 if not done.expired else 1

    table_name = outputs["FlowsTableName"]
    table = boto3.resource("dynamodb", region_name=args.region).Table(table_name)
    # Administration issues no tokens, so the issuer never needs its key.
    access = AccessService(ApplicationStore(table), TokenIssuer(key=lambda: ""))
    if args.command == "create":
        application_id, secret = access.create_application(args.application_id, None, args.rate_limit)
        created = {"applicationId": application_id, "applicationSecret": secret}
        if args.stack:
            key = callback_key(outputs, args.region)
            created["callbackSecret"] = secret_text(signing_key(key, application_id))
        print(json.dumps(created))
    elif args.command == "list":
        print(json.dumps(access.list_applications(), indent=2))
    elif not access.disable_application(args.application_id):
        print(f"no application {args.application_id}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
