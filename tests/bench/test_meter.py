"""The cost meter charges a global secondary index for the table writes that change what it holds."""

from __future__ import annotations

from bench.meter import index_write_units

KEYS = ["gsi1pk", "gsi1sk"]
FLOW = {"pk": "FLOW#t", "sk": "#FLOW", "gsi1pk": "APP#a#3", "gsi1sk": "2026#t", "status": "Queued"}


def test_creating_an_indexed_item_writes_its_entry():
    assert index_write_units(None, FLOW, KEYS, None) == 1


def test_a_change_of_a_projected_attribute_writes_the_entry_again():
    assert index_write_units(FLOW, {**FLOW, "status": "InProgress"}, KEYS, None) == 1


def test_an_unchanged_item_or_a_refused_write_costs_the_index_nothing():
    assert index_write_units(FLOW, dict(FLOW), KEYS, None) == 0


def test_items_outside_a_sparse_index_cost_it_nothing():
    message = {"pk": "FLOW#t", "sk": "MSG#00", "status": {"name": "Sent"}}
    assert index_write_units(message, {**message, "statusRank": 1}, KEYS, None) == 0


def test_a_change_the_index_does_not_project_costs_it_nothing():
    projected = ["pk", "sk", *KEYS]  # KEYS_ONLY
    assert index_write_units(FLOW, {**FLOW, "status": "InProgress"}, KEYS, projected) == 0


def test_a_moved_index_key_is_a_delete_and_a_put():
    assert index_write_units(FLOW, {**FLOW, "gsi1sk": "2027#t"}, KEYS, None) == 2


def test_a_large_entry_costs_per_started_kilobyte():
    big = {**FLOW, "steps": "x" * 1500}
    assert index_write_units(None, big, KEYS, None) == 2
