"""Search at volume, against moto's DynamoDB with the table template.yaml defines: the ByApplication index is
write-sharded, and a search merges the shards newest first, pages by an opaque cursor (nextPageToken) without
duplicates or gaps (flows created in the same millisecond included), and reads about one page per page."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from failover import domain
from failover.domain import TrackingFilter, TrackingSearch
from failover.service import SEARCH_READ_AT_LEAST, FailoverService
from failover.store import SEARCH_INDEX, FlowStore, search_key, shard_of
from failover_local.template import load_template

SHARDS = 8  # the template's default is 16; fewer keep moto (which scans the table per Query) quick
APP = "bank-app"
FLOWS = 2_000
RANGE = {"dateStart": datetime(2025, 1, 1, tzinfo=UTC), "dateEnd": datetime(2025, 1, 2, tzinfo=UTC)}


def _flow(index: int, rng_id: uuid.UUID) -> dict:
    # 200 distinct milliseconds for 2,000 flows: ten flows share each millisecond, across shards.
    millisecond = index // 10
    return {
        "trackingId": str(rng_id),
        "applicationId": APP,
        "createdAt": f"2025-01-01T10:00:{millisecond // 1000:02d}.{millisecond % 1000:03d}Z",
        "updatedAt": "2025-01-01T12:00:00.000Z",
        "status": "Succeeded" if index % 3 else "Failed",
        "statusCode": None if index % 3 else "2",
        "steps": [{"type": "Sms", "to": f"+3069{index:08d}", "body": "PIN 1234"}],
    }


@pytest.fixture(scope="module")
def world():
    with mock_aws():
        properties = load_template()["Resources"]["FlowsTable"]["Properties"]
        table = boto3.resource("dynamodb", region_name="eu-west-1").create_table(
            TableName="flows",
            **{k: properties[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")},
            GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
        )
        store = FlowStore(table, search_shards=SHARDS)
        ids = [uuid.UUID(int=(1 << 100) + 7919 * n) for n in range(FLOWS)]  # fixed and distinct
        flows = [_flow(n, ids[n]) for n in range(FLOWS)]
        for flow in flows:
            store.create_flow(flow)
        other = {**_flow(0, uuid.UUID(int=1)), "applicationId": "someone-else"}
        store.create_flow(other)
        service = FailoverService(store=store, workflow=None, signer=None, public_api_url="", provider_name="routee")
        newest_first = sorted(flows, key=search_key, reverse=True)
        yield table, store, service, newest_first


def _search(**query) -> TrackingSearch:
    body = query.pop("body", {})
    return TrackingSearch.of({**RANGE, **query}, TrackingFilter.model_validate(body))


def test_an_applications_flows_spread_over_every_shard(world):
    table, _, _, flows = world
    per_shard = Counter(shard_of(f["trackingId"], SHARDS) for f in flows)
    assert set(per_shard) == set(range(SHARDS))
    assert max(per_shard.values()) < 2 * FLOWS / SHARDS  # no shard takes twice its share
    stored = table.get_item(Key={"pk": f"FLOW#{flows[0]['trackingId']}", "sk": "#FLOW"})["Item"]
    assert stored["gsi1pk"] == f"APP#{APP}#{shard_of(flows[0]['trackingId'], SHARDS)}"
    assert stored["gsi1sk"] == search_key(flows[0])
    assert table.global_secondary_indexes[0]["IndexName"] == SEARCH_INDEX


def test_cursor_pages_cover_every_flow_once_newest_first_reading_about_one_page(world):
    _, store, _, flows = world
    size, seen, before, pages, reads = 200, [], None, 0, []
    while True:
        found = store.search(APP, "2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", limit=size, before=before)
        pages += 1
        seen += found.flows
        # A page reads its own flows plus a few items per shard (each shard's share, rounded up, and the
        # refills of the shards the merge drains first), whatever the range holds.
        reads.append(found.items_read)
        assert found.items_read <= 1.5 * size + 2 * SHARDS, found.items_read
        if not found.more:
            break
        before = search_key(found.flows[-1])
    assert [f["trackingId"] for f in seen] == [f["trackingId"] for f in flows]
    assert pages == FLOWS // size
    assert sum(reads) <= 1.4 * FLOWS, reads  # within a small factor of what the pages returned


def _since(flows: list[dict], count: int) -> tuple[datetime, list[dict]]:
    """A range holding the newest `count` flows (and any sharing the oldest one's millisecond)."""
    start = domain.parse_timestamp(flows[count - 1]["createdAt"])
    return start, [f for f in flows if domain.parse_timestamp(f["createdAt"]) >= start]


def test_the_api_pages_by_token_with_exact_totals_at_the_end(world):
    _, _, service, flows = world
    start, expected = _since(flows, 600)
    answers, token = [], None
    while True:
        size = 50 if token is None else 100  # the size may change from page to page
        answer = service.search(_search(dateStart=start, size=size, pageToken=token), APP)
        answers.append(answer)
        token = answer.get("nextPageToken")
        if token is None:
            break
    got = [f["trackingId"] for a in answers for f in a["content"]]
    assert got == [f["trackingId"] for f in expected]
    assert [a["number"] for a in answers] == list(range(len(answers)))
    assert answers[0]["first"] and not answers[0]["last"] and answers[-1]["last"]
    # A large range: the first page's total is a lower bound, and says so; the last page's is exact.
    assert answers[0]["totalElementsExact"] is False and answers[0]["totalElements"] == 51
    assert "totalElementsExact" not in answers[-1]
    assert answers[-1]["totalElements"] == len(expected)


def test_routee_page_and_size_still_work(world):
    _, _, service, flows = world
    answer = service.search(_search(page=3, size=50), APP)
    assert [f["trackingId"] for f in answer["content"]] == [f["trackingId"] for f in flows[150:200]]
    assert (answer["number"], answer["first"], answer["last"]) == (3, False, False)
    # and a token from it goes on where it stopped
    after = service.search(_search(size=50, pageToken=answer["nextPageToken"]), APP)
    assert [f["trackingId"] for f in after["content"]] == [f["trackingId"] for f in flows[200:250]]
    assert after["number"] == 4


def test_routee_paging_cost_is_capped():
    with pytest.raises(ValidationError, match="nextPageToken"):
        _search(page=101, size=100)
    assert _search(page=99, size=100).page == 99


def test_a_filter_pages_without_gaps(world):
    _, _, service, flows = world
    failed = [f["trackingId"] for f in flows if f["status"] == "Failed"]
    body = {"fieldName": "status", "searchTerm": "failed"}
    got, token = [], None
    for _ in range(3):
        answer = service.search(_search(size=100, pageToken=token, body=body), APP)
        got += [f["trackingId"] for f in answer["content"]]
        token = answer["nextPageToken"]
    assert got == failed[:300]


def test_a_small_range_has_exact_totals(world):
    _, _, service, flows = world
    start, expected = _since(flows, 50)
    answer = service.search(_search(dateStart=start, size=20), APP)
    assert len(expected) <= SEARCH_READ_AT_LEAST
    assert "totalElementsExact" not in answer
    assert (answer["totalElements"], answer["totalPages"]) == (len(expected), math.ceil(len(expected) / 20))


def test_a_token_belongs_to_its_search(world):
    _, _, service, _ = world
    token = service.search(_search(size=10), APP)["nextPageToken"]
    with pytest.raises(ValidationError, match="pageToken"):
        _search(size=10, pageToken=token, body={"fieldName": "status", "searchTerm": "Failed"})
    with pytest.raises(ValidationError, match="pageToken"):
        _search(size=10, pageToken="not-a-token")
    with pytest.raises(ValidationError, match="pageToken"):
        _search(size=10, pageToken=token[:-4])


def test_only_the_callers_flows(world):
    _, _, service, _ = world
    answer = service.search(_search(size=100, body={"fieldName": "to", "searchTerm": "+306900000000"}), "someone-else")
    assert answer["totalElements"] == 1 and answer["content"][0]["applicationId"] == "someone-else"


def test_a_made_up_position_outside_the_range_reads_nothing_and_never_fails(world):
    _, store, _, flows = world
    start, end = "2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z"
    assert store.search(APP, start, end, limit=10, before="2024").flows == []
    beyond = store.search(APP, start, "2025-01-01T10:00:00.100Z", limit=5, before="2026")
    assert [f["trackingId"] for f in beyond.flows] == [
        f["trackingId"] for f in flows if f["createdAt"] <= "2025-01-01T10:00:00.100Z"
    ][:5]
