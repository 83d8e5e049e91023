"""tests.tables keys its moto tables as template.yaml keys the flows table."""

from failover_local.template import load_template
from tests.tables import KEYS


def test_the_test_tables_are_keyed_as_the_template_s_flows_table():
    (table,) = [r for r in load_template()["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    properties = table["Properties"]
    assert properties["KeySchema"] == KEYS["KeySchema"]
    declared = {d["AttributeName"]: d["AttributeType"] for d in properties["AttributeDefinitions"]}
    assert {d["AttributeName"]: d["AttributeType"] for d in KEYS["AttributeDefinitions"]}.items() <= declared.items()
    assert properties["BillingMode"] == KEYS["BillingMode"]
