"""Issue 15: each function's handler import loads only what that function uses. No timings: the modules in
sys.modules after a fresh interpreter imports the handler, as Lambda's init phase does (the function's CodeUri as
the working directory, the layer's package on the path, the function's environment from template.yaml).

Each heavy module below is allowed only in the functions that list it. A module that appears anywhere else fails
the test, naming the function and the module; so does a boto3 *resource* built during the import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from failover_local.template import ROOT, load_template, resources_of
from tests.deploy.layer import handler_import_environment

# What no handler may load at import: the X-Ray SDK (Tracing: Active traces without it), Powertools' parser
# (the task events are three fields), a boto3 resource (clients only), and the dev-only code.
NOWHERE = {
    "aws_xray_sdk": "the X-Ray SDK: Tracing: Active traces invocations without it",
    "aws_lambda_powertools.utilities.parser": "Powertools' parser: task events are read as plain dataclasses",
    "boto3.dynamodb.table": "a boto3 DynamoDB resource: the stores use failover.dynamo on a client",
    "phonenumbers": "libphonenumber: loaded by the first request that validates a number, not at import",
    "aws_lambda_powertools.event_handler.openapi.models": "the OpenAPI document's models (~100 ms): loaded by"
    " GET /openapi.json, as Powertools loads them for its own schema",
    "moto": "dev-only",
    "failover_local": "dev-only",
}

# Heavy or function-specific modules, and the functions that may load them at import.
ONLY_IN = {
    "jwt": {"AuthorizerFunction", "OAuthTokenFunction"},
    "cryptography": {"AuthorizerFunction", "OAuthTokenFunction"},  # PyJWT loads it when it is installed
    # Loaded by the api's first POST /failover with an Idempotency-Key (failover.idempotency).
    "aws_lambda_powertools.utilities.idempotency": set(),
    "aws_lambda_powertools.event_handler": {"ApiFunction", "OAuthTokenFunction", "StatusIngestFunction"},
    "aws_lambda_powertools.utilities.batch": {"CallbackCaptureFunction", "CallbackDeliverFunction"},
    "requests": set(),  # the provider's HTTP client: loaded with the provider, at the first send
    "failover.tasks": {"SendStepFunction", "ExpireStepFunction", "FailFlowFunction"},
    "failover.access": {"ApiFunction", "AuthorizerFunction", "OAuthTokenFunction"},
    "failover.auth": {"ApiFunction", "AuthorizerFunction", "OAuthTokenFunction"},
    # The api builds its callback service at the first POST /callbacks/redeliver, its only user.
    "failover.callbacks": {"CallbackCaptureFunction", "CallbackDeliverFunction"},
    "failover.service": {
        "ApiFunction",
        "SendStepFunction",
        "StatusIngestFunction",
        "ExpireStepFunction",
        "FailFlowFunction",
    },
    "failover.providers.routee": set(),  # the provider registry imports it at first use
    "failover.idempotency": {"ApiFunction"},
    "failover.bodies": {"ApiFunction", "OAuthTokenFunction", "StatusIngestFunction"},  # request bodies
    # Request validation and the OpenAPI document: only the api validates requests with models. The vocabulary
    # and flow rules (failover.domain) load no pydantic, so neither do the task, callback and auth functions.
    "pydantic": {"ApiFunction"},
    "failover.models": {"ApiFunction"},
}

FUNCTIONS = resources_of(load_template(), "AWS::Serverless::Function")

# Prints the modules loaded, and every boto3 resource built, while the handler module is imported.
PROBE = """
import importlib, json, sys
import boto3.session
built = []
original = boto3.session.Session.resource
def resource(self, name, *args, **kwargs):
    built.append(name)
    return original(self, name, *args, **kwargs)
boto3.session.Session.resource = resource
module = importlib.import_module(sys.argv[1])
assert callable(getattr(module, sys.argv[2]))
print(json.dumps({"modules": sorted(sys.modules), "resources": built}))
"""


def loaded_by(logical_id: str) -> tuple[set[str], list[str]]:
    properties = FUNCTIONS[logical_id]["Properties"]
    module, handler = properties["Handler"].rsplit(".", 1)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, handler],
        cwd=ROOT / properties["CodeUri"],  # /var/task
        env=handler_import_environment(logical_id, ROOT / "layers" / "common"),  # /opt/python
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{logical_id}: {done.stderr[-3000:]}"
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return set(found["modules"]), found["resources"]


def present(heavy: str, modules: set[str]) -> bool:
    return any(m == heavy or m.startswith(heavy + ".") for m in modules)


def unexpected(logical_id: str, modules: set[str], resources: list[str]) -> list[str]:
    problems = [f"{heavy}: {why}" for heavy, why in NOWHERE.items() if present(heavy, modules)]
    problems += [
        f"{heavy}: only {', '.join(sorted(allowed)) or 'no function'} may load it at import"
        for heavy, allowed in ONLY_IN.items()
        if logical_id not in allowed and present(heavy, modules)
    ]
    problems += [f"boto3.resource({name!r}) built at import: use a client" for name in resources]
    return problems


def test_every_function_is_covered():
    assert FUNCTIONS, "template.yaml has no functions"
    listed = {f for allowed in ONLY_IN.values() for f in allowed}
    assert listed <= set(FUNCTIONS), f"the guard names functions template.yaml lacks: {listed - set(FUNCTIONS)}"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_the_handler_import_loads_only_what_the_function_uses(logical_id):
    modules, resources = loaded_by(logical_id)
    assert "failover.observability" in modules, "the probe did not import the handler's module"
    assert not unexpected(logical_id, modules, resources), f"{logical_id} loads at import: " + "; ".join(
        unexpected(logical_id, modules, resources)
    )


def test_the_guard_fails_when_a_handler_loads_what_it_should_not(tmp_path):
    """A check must be able to fail: a copy of the send_step handler that imports PyJWT, builds a DynamoDB
    resource (as the wiring did before issue 15) and asks failover.domain for a request model (which loads
    pydantic) is caught on every count."""
    properties = FUNCTIONS["SendStepFunction"]["Properties"]
    source = (ROOT / properties["CodeUri"] / "app.py").read_text()
    (tmp_path / "app.py").write_text(
        source + "\nimport boto3 as _boto3\nimport jwt as _jwt  # noqa: F401\n"
        "_table = _boto3.resource('dynamodb').Table('x')\n"
        "from failover.domain import FailoverRequest as _request  # noqa: F401,E402\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "app", "lambda_handler"],
        cwd=tmp_path,
        env=handler_import_environment("SendStepFunction", ROOT / "layers" / "common"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    problems = unexpected("SendStepFunction", set(found["modules"]), found["resources"])
    assert any(p.startswith("jwt:") for p in problems), problems
    assert any(p.startswith("boto3.dynamodb.table:") for p in problems), problems
    assert any(p.startswith("boto3.resource('dynamodb')") for p in problems), problems
    assert any(p.startswith("pydantic:") for p in problems), problems
    assert any(p.startswith("failover.models:") for p in problems), problems
