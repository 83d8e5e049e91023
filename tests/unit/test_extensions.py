"""The domain rules of the extensions (docs/extensions.md): expireOnDelivery, the late-delivery flag, search."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from failover.domain import (
    EXPIRED_ON_DELIVERY_RANK,
    EXPIRY_RANK,
    FINAL_RANK,
    Channel,
    StatusCode,
    TrackingSearch,
    awaits_seen,
    error_properties,
    flow_snapshot,
    is_decisive,
    page_of,
    status_rank,
)
from failover.http import openapi_document

VIBER, SMS = Channel.VIBER, Channel.SMS
STAMP = "2025-01-01T00:00:00.000Z"


def test_cancelled_is_status_code_4():
    assert StatusCode.CANCELLED.value == "4"


@pytest.mark.parametrize(
    ("channel", "status", "expire_on_delivery", "decisive"),
    [
        (VIBER, "DELIVERED", True, False),  # waits for SEEN until the ttl
        (VIBER, "SEEN", True, True),
        (VIBER, "UNDELIVERED", True, True),
        (VIBER, "DELIVERED", False, True),
        (VIBER, "QUEUED", True, False),
        (SMS, "Delivered", True, True),  # a Viber option only
        (VIBER, None, False, False),
    ],
)
def test_expire_on_delivery_delivered_is_not_decisive(channel, status, expire_on_delivery, decisive):
    assert is_decisive(channel, status, expire_on_delivery) is decisive
    assert awaits_seen(channel, status, expire_on_delivery) is (
        channel is VIBER and status == "DELIVERED" and expire_on_delivery
    )


def test_expiry_on_delivery_overwrites_delivered_and_seen_overwrites_it():
    assert EXPIRY_RANK < FINAL_RANK == status_rank(VIBER, "DELIVERED") < EXPIRED_ON_DELIVERY_RANK
    assert status_rank(VIBER, "SEEN") > EXPIRED_ON_DELIVERY_RANK


def _flow(*types: str) -> dict:
    steps = [{"type": t, "order": i + 1, "to": "+306912345678", "failoverOnStatuses": []} for i, t in enumerate(types)]
    return {"trackingId": "t", "status": "Succeeded", "createdAt": STAMP, "updatedAt": STAMP, "steps": steps}


def _message(index: int, name: str) -> dict:
    return {"index": index, "status": {"name": name, "reason": {}, "updatedDate": STAMP}}


@pytest.mark.parametrize(
    ("names", "multiple"),
    [
        (["DELIVERED", "Delivered"], True),  # a late Viber delivery after SMS succeeded
        (["SEEN", "Delivered"], True),
        (["EXPIRED", "Delivered"], False),
        (["UNDELIVERED", "Delivered"], False),
        (["DELIVERED"], False),
    ],
)
def test_delivered_on_multiple_channels_is_derived_from_the_messages(names, multiple):
    flow = _flow(*["Viber", "Sms"][: len(names)])
    snapshot = flow_snapshot(flow, [_message(i, n) for i, n in enumerate(names)])
    assert snapshot["deliveredOnMultipleChannels"] is multiple


def test_search_defaults_and_limits():
    search = TrackingSearch.model_validate({"dateStart": "2025-01-01T00:00:00Z", "dateEnd": "2025-01-02T00:00:00Z"})
    assert (search.page, search.size, search.filters) == (0, 10, [])  # Routee's (Spring's) default size: 10
    bad = {"dateStart": "2025-01-02T00:00:00Z", "dateEnd": "2025-01-01T00:00:00Z"}
    with pytest.raises(ValidationError, match="dateStart must not be after dateEnd"):
        TrackingSearch.model_validate(bad)
    for field, value in [("size", 0), ("size", 101), ("page", -1)]:
        with pytest.raises(ValidationError):
            TrackingSearch.model_validate({**bad, "dateEnd": "2025-01-03T00:00:00Z", field: value})
    with pytest.raises(ValidationError):
        TrackingSearch.model_validate({"dateStart": "2025-01-01T00:00:00Z"})
    # a date without a zone is UTC
    naive = TrackingSearch.model_validate({"dateStart": "2025-01-01T00:00:00", "dateEnd": "2025-01-02T00:00:00Z"})
    assert naive.dateStart.utcoffset() is not None


@pytest.mark.parametrize(
    ("total", "page", "size", "expected"),
    [
        (5, 0, 2, ([0, 1], 3, True, False)),
        (5, 2, 2, ([4], 3, False, True)),
        (5, 7, 2, ([], 3, False, True)),
        (0, 0, 20, ([], 0, True, True)),
    ],
)
def test_page_of_is_springs_page(total, page, size, expected):
    answer = page_of(list(range(total)), page, size)
    assert (answer["content"], answer["totalPages"], answer["first"], answer["last"]) == expected
    assert (answer["totalElements"], answer["number"], answer["size"]) == (total, page, size)
    assert answer["numberOfElements"] == len(answer["content"])


def test_header_and_query_errors_name_the_parameter_as_sent():
    errors = [
        {"loc": ("header", "idempotency-key"), "msg": "String should have at least 1 character", "type": "x"},
        {"loc": ("query", "size"), "msg": "Input should be less than or equal to 100", "type": "x"},
    ]
    assert error_properties(errors) == {
        "Idempotency-Key": "String should have at least 1 character",
        "size": "Input should be less than or equal to 100",
    }


def test_openapi_document_drops_powertools_default_422():
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
    own = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorModel"}}}}
    schema = {
        "paths": {"/a": {"get": {"responses": {"200": {}, "422": ref}}}, "/b": {"post": {"responses": {"422": own}}}},
        "components": {"schemas": {"HTTPValidationError": {}, "ValidationError": {}, "ErrorModel": {}}},
    }
    out = json.loads(openapi_document(json.dumps(schema)))
    assert out["paths"]["/a"]["get"]["responses"] == {"200": {}}
    assert out["paths"]["/b"]["post"]["responses"] == {"422": own}
    assert set(out["components"]["schemas"]) == {"ErrorModel"}
