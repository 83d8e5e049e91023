"""template.yaml through cfn-lint's decoder: short forms in their long forms, plain data, parse errors named."""

from __future__ import annotations

import pytest

from failover_local.template import load_template


def test_short_forms_become_long_forms(tmp_path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n"
        "  Queue:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      QueueName: !Sub '${AWS::StackName}-q'\n"
        "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: !Ref Count}\n"
    )
    properties = load_template(path)["Resources"]["Queue"]["Properties"]
    assert properties == {
        "QueueName": {"Fn::Sub": "${AWS::StackName}-q"},
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dead", "Arn"]}, "maxReceiveCount": {"Ref": "Count"}},
    }
    assert type(properties) is dict and type(properties["QueueName"]["Fn::Sub"]) is str


def test_a_broken_template_is_refused_with_the_reason(tmp_path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Queue: [unclosed\n")
    with pytest.raises(ValueError, match="template.yaml"):
        load_template(path)


def test_the_project_template_loads() -> None:
    assert load_template()["Transform"] == "AWS::Serverless-2016-10-31"
