"""`make capacity`: docs/capacity.md is exactly what bench/results.json, quotas.json, prices.json and template.yaml
give, so the capacity model follows the code; and the model's key claims hold."""

from __future__ import annotations

import dataclasses
import json

from bench import capacity


def test_the_document_is_what_the_inputs_give():
    assert capacity.main(["--check"]) == 0, "docs/capacity.md is out of date: run `make capacity`"


def test_the_check_fails_when_an_input_changes():
    inputs = capacity.load()
    quotas = json.loads(json.dumps(inputs.quotas))
    quotas["sfn_start_execution"]["refill_per_second"] = 150
    changed = capacity.markdown(dataclasses.replace(inputs, quotas=quotas))
    assert changed != capacity.DOC.read_text()
    assert "| 150 calls/s |" in changed


def test_no_index_partition_reaches_its_write_limit_at_1000_flows_a_second():
    inputs = capacity.load()
    flow = capacity.per_flow(inputs)
    shard = capacity.rows_by(capacity.limits(inputs, flow), "index_shard")
    assert 1000 * shard.demand_per_flow < shard.capacity
    unsharded = capacity.rows_by(capacity.limits(inputs, flow, shards=1), "index_shard")
    assert 1000 * unsharded.demand_per_flow > unsharded.capacity, "the sharding must be what keeps it under"


def test_the_simulation_is_seeded_and_finds_the_first_limit():
    inputs = capacity.load()
    flow = capacity.per_flow(inputs)
    first = capacity.simulate(inputs, flow, peak=1000)
    assert first == capacity.simulate(inputs, flow, peak=1000)
    # 1,500 transitions a second over 6 per flow: 250 flows/s, as SendTaskSuccess (500 over 2); the transitions'
    # bucket (5,000, 833 flows) empties before SendTaskSuccess's (3,000, 1,500 flows) and StartExecution's
    assert first["first_growth"][1] == "sfn_state_transition"
    assert capacity.simulate(inputs, flow, peak=100)["first_growth"] is None
    # The window around it, in 0.1 s steps: the first wait falls within that second, for the same limit.
    second, limit = first["first_growth"]
    at, fine_limit = first["fine"]["first_growth"]
    assert second - 1 < at < second + 1 and fine_limit == limit
    assert 0 < first["fine"]["wait_p50"] <= first["fine"]["wait_max"]
