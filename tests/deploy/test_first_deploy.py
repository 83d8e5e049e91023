"""The first deploy works, or says why: what `sam deploy --guided` asks, missing credentials, SendStep's timeout."""

from __future__ import annotations

import math
import re

from failover.providers import routee
from failover.providers.routee import RouteeProvider
from failover_local.template import ROOT, load_template

TEMPLATE = load_template()
PARAMETERS = TEMPLATE["Parameters"]
# RouteeProvider._call: a token (fetched, or cached), the send; on 401/403 one new token and the send once more.
HTTP_CALLS_PER_SEND = 4
MARGIN = 1.2


def test_a_stack_without_routee_credentials_is_refused_at_deploy_time():
    """No default, MinLength 1: `sam deploy --guided` asks for both, and CloudFormation refuses an empty value
    instead of deploying a stack whose every flow would end Failed "0"."""
    for name in ("RouteeApplicationId", "RouteeApplicationSecret"):
        assert "Default" not in PARAMETERS[name], name
        assert int(PARAMETERS[name]["MinLength"]) >= 1, name
    assert PARAMETERS["RouteeApplicationSecret"]["NoEcho"] is True


def test_every_other_parameter_has_a_working_default():
    required = {name for name, spec in PARAMETERS.items() if "Default" not in spec}
    assert required == {"RouteeApplicationId", "RouteeApplicationSecret"}


def worst_case_send_seconds(provider: RouteeProvider) -> float:
    """The longest one SendStep invocation can spend in the adapter, from the adapter's own session settings."""
    connect, read = provider._timeout  # noqa: SLF001 - the settings under test
    retry = provider._session.get_adapter("https://connect.routee.net").max_retries  # noqa: SLF001
    retries = [r for r in (retry.connect, retry.read, retry.status, retry.other) if isinstance(r, int)]
    total = retry.total if isinstance(retry.total, int) else sum(retries)
    attempts = 1 + min(total, sum(retries)) if retries else 1 + total
    backoff = min(retry.backoff_factor * 2 ** max(total - 1, 0), getattr(retry, "backoff_max", 120))
    retry_after = getattr(retry, "cap", math.inf) if retry.respect_retry_after_header else 0.0
    per_call = attempts * (connect + read) + (attempts - 1) * max(backoff, retry_after)
    # If the adapter also retries a whole send while Routee is surely unavailable (issue 13), its last attempt
    # may start just before that window closes.
    outage_window = float(getattr(routee, "SEND_RETRY_WINDOW_SECONDS", 0.0))
    return outage_window + HTTP_CALLS_PER_SEND * per_call


def test_send_step_timeout_covers_the_providers_worst_case_with_margin():
    worst = worst_case_send_seconds(RouteeProvider(application_id="id", application_secret="secret"))
    assert math.isfinite(worst), "a Retry-After without a cap makes the send unbounded"
    timeout = TEMPLATE["Resources"]["SendStepFunction"]["Properties"]["Timeout"]
    assert timeout >= worst * MARGIN, f"SendStepFunction Timeout {timeout} s < {worst:.1f} s worst case × {MARGIN}"
    assert timeout <= 900  # Lambda's maximum


def test_the_deploy_docs_name_every_parameter_and_the_guided_prompts():
    deploy = (ROOT / "docs/deploy.md").read_text()
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploy") :]
    section = section[: section.index("\n## ", 3)]
    for name in PARAMETERS:
        assert f"`{name}`" in deploy, f"docs/deploy.md does not explain {name}"
        assert name in section or "docs/deploy.md" in section, name
    for prompt in ("Stack Name", "AWS Region", "Confirm changes before deploy", "Allow SAM CLI IAM role creation"):
        assert prompt in deploy, prompt
    assert re.search(r"curl .*?/failover", deploy, re.S), "docs/deploy.md verifies a deployed stack with curl"
