"""The local stack for tests: moto running template.yaml's resources, the real handlers, a scripted provider."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3

from failover import providers
from failover.signing import CallbackSigner, step_id
from failover_local.aws import REGION, LocalAws
from failover_local.polling import wait_for
from tests.fakes.scripted_provider import ScriptedProvider

PUBLIC_URL = "http://failover.test"
TIME_SCALE = 0.02  # Viber ttl 0.5 min → 1 s; SMS or Voice ttl 1 min → 2 s
FINAL = ("Succeeded", "Failed")
JSON = {"Content-Type": "application/json"}


APPLICATIONS = {"local-app": "local-secret", "other-app": "other-secret"}


def basic(application_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{application_id}:{secret}".encode()).decode()


@dataclass
class Harness:
    aws: LocalAws
    provider: ScriptedProvider
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, application_id: str = "local-app") -> str:
        """A bearer token, fetched as a Routee client would: POST /oauth/token with Basic credentials."""
        if application_id not in self.tokens:
            status, _, payload = self.aws.handle_http(
                "POST",
                "/oauth/token",
                {
                    "Authorization": basic(application_id, APPLICATIONS[application_id]),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                b"grant_type=client_credentials",
            )
            assert status == 200, payload
            self.tokens[application_id] = json.loads(payload)["access_token"]
        return self.tokens[application_id]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        application: str | None = "local-app",
    ):
        """A request as `application` (None: without a token)."""
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        auth = {"Authorization": f"Bearer {self.token(application)}"} if application else {}
        status, _, payload = self.aws.handle_http(method, path, {**JSON, **auth, **(headers or {})}, raw)
        return status, json.loads(payload) if payload else None

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        status, body = self.request("POST", "/failover", request)
        assert status == 200, body
        return body

    def track(self, tracking_id: str) -> dict[str, Any]:
        status, body = self.request("GET", f"/failover/tracking/{tracking_id}")
        assert status == 200, body
        return body

    def execution(self, tracking_id: str) -> dict[str, Any]:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = self.aws.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{tracking_id}"
        return sfn.describe_execution(executionArn=arn)

    def history(self, tracking_id: str) -> list[dict[str, Any]]:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = self.aws.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{tracking_id}"
        return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]

    def finish(self, request: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
        """Create a flow and return its snapshot once both the flow and its execution have ended."""
        tracking_id = self.create(request)["trackingId"]
        return self.wait_final(tracking_id, timeout)

    def wait_final(self, tracking_id: str, timeout: float = 20.0) -> dict[str, Any]:
        wait_for(lambda: self.execution(tracking_id)["status"] != "RUNNING", timeout, what="the execution to end")
        return wait_for(
            lambda: (snapshot := self.track(tracking_id))["status"] in FINAL and snapshot,
            timeout,
            what="a final flow status",
        )

    def signed_callback(self, tracking_id: str, index: int) -> str:
        secret_id = self.aws.environment["CALLBACK_SECRET_ID"]
        secret = boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=secret_id)
        signer = CallbackSigner(lambda: secret["SecretString"])
        return f"/webhooks/{self.provider.name}/{signer.sign(step_id(tracking_id, index))}"


def start_harness() -> Harness:
    aws: LocalAws | None = None

    def post(url: str, body: bytes) -> int:
        assert aws is not None
        status, _, _ = aws.handle_http("POST", urlsplit(url).path, JSON, body)
        return status

    provider = ScriptedProvider(post)
    providers.register("scripted", lambda: provider)
    aws = LocalAws(
        applications=APPLICATIONS,
        environment={
            "FAILOVER_PROVIDER": "scripted",
            "PUBLIC_API_URL": PUBLIC_URL,
            "CALLBACK_ALLOW_LOOPBACK": "true",
            "FAILOVER_TIME_SCALE": str(TIME_SCALE),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        },
    ).start()
    return Harness(aws, provider)


def stop_harness(harness: Harness) -> None:
    harness.provider.cancel()
    harness.aws.stop()


def final_over_http(session: Any, url: str, tracking_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll GET /failover/tracking/{id} over HTTP until the flow ends, as a client would: every 0.2 s (one client
    stays under the application's rate limit, 600 a minute) and asking again after a 429."""

    def ended() -> dict[str, Any] | None:
        response = session.get(f"{url}/failover/tracking/{tracking_id}", timeout=10)
        if response.status_code == 429:
            return None
        assert response.status_code == 200, response.text
        snapshot = response.json()
        return snapshot if snapshot["status"] in FINAL else None

    return wait_for(ended, timeout, interval=0.2, what=f"flow {tracking_id} to end")
