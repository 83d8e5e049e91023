"""The template as CloudFormation sees it: the SAM transform, then cfn-lint (what `make lint` runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from failover_local.template import ROOT, TEMPLATE
from failover_local.transformed import api_stages, problems, transform

STATE_MACHINE_ARN_BY_NAME = (
    "STATE_MACHINE_ARN: !Sub arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    ":stateMachine:${AWS::StackName}-failover"
)


def _copy(tmp_path: Path, text: str) -> Path:
    """template.yaml, edited, beside a copy of the ASL it names."""
    shutil.copytree(ROOT / "statemachine", tmp_path / "statemachine")
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def test_the_transformed_template_lints_clean_with_one_api_stage():
    assert problems(TEMPLATE) == []
    assert api_stages(transform(TEMPLATE)) == ["FailoverApiStage"]


def test_the_lint_catches_a_dependency_cycle_that_only_the_transform_closes(tmp_path):
    text = TEMPLATE.read_text()
    assert STATE_MACHINE_ARN_BY_NAME in text
    # The defect of issue 12: ApiFunction → state machine → SendStepFunction → API → ApiFunction.
    cyclic = _copy(tmp_path, text.replace(STATE_MACHINE_ARN_BY_NAME, "STATE_MACHINE_ARN: !Ref FailoverStateMachine"))
    found = problems(cyclic)
    assert any("E3004" in line and "ApiFunction" in line for line in found), found


def test_the_lint_catches_a_second_api_stage(tmp_path):
    text = TEMPLATE.read_text()
    assert 'OpenApiVersion: "3.0.1"' in text
    found = problems(_copy(tmp_path, text.replace('OpenApiVersion: "3.0.1"', "")))
    assert any("more than one API stage" in line for line in found), found


@pytest.mark.parametrize("broken", ["Resources: [", "Resources:\n  Nothing:\n    Type: AWS::Serverless::Function\n"])
def test_a_template_the_transform_refuses_is_a_problem(tmp_path, broken):
    assert problems(_copy(tmp_path, f"Transform: AWS::Serverless-2016-10-31\n{broken}")) != []
