"""template.yaml as CloudFormation sees it: after the AWS::Serverless transform, which is the SAM translator.

`cfn-lint template.yaml` and `sam validate --lint` read the template before the transform, so a dependency cycle
that only the generated resources close (an API's definition referring to its functions, say) passes them and
fails the deploy. Here the translator runs locally, the state machine's ASL is inlined (as `sam deploy` uploads
it) and code URIs become placeholders (as `sam package` rewrites them), and cfn-lint reads the result.

    python -m failover_local.transformed [template.yaml]   # exit 1 on any cfn-lint error or a second API stage

Dev-only (never shipped in a Lambda artifact).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from failover_local.template import TEMPLATE

REGION = "eu-west-1"
ACCOUNT = "123456789012"
PLACEHOLDER_CODE = "s3://placeholder-bucket/code.zip"


def _placeholders(template: dict[str, Any], base: Path) -> dict[str, Any]:
    """What `sam package` would hand CloudFormation: S3 URIs for code, the ASL inline."""
    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = PLACEHOLDER_CODE
        elif kind == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = PLACEHOLDER_CODE
        elif kind == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            properties["Definition"] = json.loads((base / properties.pop("DefinitionUri")).read_text())
    return template


class _NoManagedPolicies:
    """The translator asks IAM for managed policies named without an ARN; the template names none."""

    def load(self) -> dict[str, str]:
        return {}


def transform(template_path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml → the CloudFormation template that the AWS::Serverless-2016-10-31 transform produces."""
    return copy.deepcopy(_transform_cached(str(template_path), template_path.read_text()))


@lru_cache(maxsize=4)
def _transform_cached(path: str, text: str) -> dict[str, Any]:
    from samtranslator.translator.transform import transform as sam_transform
    from samtranslator.yaml_helper import yaml_parse

    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # "Feature ... not available in Feature Toggle"
    template = _placeholders(yaml_parse(text), Path(path).parent)
    saved = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = REGION  # pseudo parameters need a region
    try:
        return sam_transform(template, {}, _NoManagedPolicies())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def api_stages(transformed: dict[str, Any]) -> list[str]:
    """Every API Gateway stage the template creates: Stage resources, and Deployments that name a StageName.

    SAM's implicit "Stage" stage (a Deployment with StageName "Stage") is the classic second stage.
    """
    stages = []
    for logical_id, resource in transformed.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::ApiGateway::Stage":
            stages.append(logical_id)
        elif resource.get("Type") == "AWS::ApiGateway::Deployment" and properties.get("StageName"):
            stages.append(f"{logical_id} (StageName {properties['StageName']!r})")
    return stages


def problems(template_path: Path = TEMPLATE) -> list[str]:
    """cfn-lint errors in the transformed template, and more than one API stage. Empty: deployable as far as
    static checks can tell."""
    found: list[str] = []
    try:
        transformed = transform(template_path)
    except Exception as error:  # noqa: BLE001 - the translator's own refusals (InvalidDocumentException, ...)
        return [f"SAM transform failed: {error}"]
    stages = api_stages(transformed)
    if len(stages) > 1:
        found.append(f"more than one API stage after the transform: {', '.join(stages)} (set OpenApiVersion)")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "transformed.json"
        path.write_text(json.dumps(transformed, indent=1))
        cfn_lint = Path(sys.executable).parent / "cfn-lint"
        result = subprocess.run(
            [str(cfn_lint), str(path), "--format", "parseable", "--regions", REGION],
            capture_output=True,
            text=True,
            check=False,
        )
    # cfn-lint's exit code is bit flags: 2 errors, 4 warnings, 8 informational; anything else: it could not run.
    errors = [line.replace(str(path), "transformed") for line in result.stdout.splitlines() if ":E" in line]
    found.extend(errors)
    if result.returncode & ~(2 | 4 | 8) or (result.returncode & 2 and not errors):
        found.append(f"cfn-lint failed: {result.stdout}{result.stderr}")
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    template_path = Path(args[0]) if args else TEMPLATE
    found = problems(template_path)
    for problem in found:
        print(problem)
    if not found:
        print(f"{template_path.name}: the transformed template lints clean, one API stage")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
