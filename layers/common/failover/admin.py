"""Manage the applications of a deployed stack.

    python -m failover.admin --stack failover create [--id bank-app] [--rate-limit 600]
    python -m failover.admin --stack failover list
    python -m failover.admin --stack failover disable bank-app

It uses your AWS credentials (the usual AWS_PROFILE / AWS_REGION) and finds the table from the stack's outputs.
The secret is printed once, at creation; only its scrypt hash is stored.
"""

from __future__ import annotations

import argparse
import json
import sys

import boto3

from failover.access import AccessService
from failover.auth import TokenIssuer
from failover.store import ApplicationStore


def table_of(stack: str, region: str | None) -> str:
    outputs = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"][0]
    return next(o["OutputValue"] for o in outputs.get("Outputs", []) if o["OutputKey"] == "FlowsTableName")


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)

    table_name = args.table or table_of(args.stack, args.region)
    table = boto3.resource("dynamodb", region_name=args.region).Table(table_name)
    # Administration issues no tokens, so the issuer never needs its key.
    access = AccessService(ApplicationStore(table), TokenIssuer(key=lambda: ""))
    if args.command == "create":
        application_id, secret = access.create_application(args.application_id, None, args.rate_limit)
        print(json.dumps({"applicationId": application_id, "applicationSecret": secret}))
    elif args.command == "list":
        print(json.dumps(access.list_applications(), indent=2))
    elif not access.disable_application(args.application_id):
        print(f"no application {args.application_id}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
