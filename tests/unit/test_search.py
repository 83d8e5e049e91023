"""POST /failover/tracking as Routee documents it: the range and paging in the query string, the body a filter
(fieldName / searchOperator / searchTerm), matched case-insensitively."""

import pytest
from pydantic import ValidationError

from failover.domain import SearchField, SearchOperator, TrackingFilter, TrackingSearch

RANGE = {"dateStart": "2025-01-01T00:00:00Z", "dateEnd": "2025-01-02T00:00:00Z"}


def flow(status="Succeeded", termination="Sms", steps=(("Viber", "+306912345678"), ("Sms", "+306912345678"))):
    return {
        "status": status,
        "terminationChannel": termination,
        "steps": [{"type": t, "to": to} for t, to in steps],
    }


def search(**body) -> TrackingSearch:
    return TrackingSearch.of(RANGE, TrackingFilter.model_validate(body))


@pytest.mark.parametrize(
    ("body", "matches"),
    [
        ({}, True),
        ({"fieldName": "status", "searchTerm": "succeeded"}, True),  # default operator: is, any case
        ({"fieldName": "status", "searchOperator": "is", "searchTerm": "Failed"}, False),
        ({"fieldName": "status", "searchOperator": "IS_NOT", "searchTerm": "Failed"}, True),
        ({"fieldName": "type", "searchOperator": "is", "searchTerm": "viber"}, True),  # any step's channel
        ({"fieldName": "type", "searchOperator": "is_not", "searchTerm": "Voice"}, True),
        ({"fieldName": "type", "searchOperator": "is_not", "searchTerm": "Sms"}, False),  # none may be
        ({"fieldName": "to", "searchOperator": "starts_with", "searchTerm": "+3069"}, True),
        ({"fieldName": "to", "searchOperator": "ends_with", "searchTerm": "678"}, True),
        ({"fieldName": "to", "searchOperator": "contains", "searchTerm": "1234"}, True),
        ({"fieldName": "to", "searchOperator": "contains", "searchTerm": "999"}, False),
        ({"fieldName": "terminationChannel", "searchTerm": "SMS"}, True),
        ({"fieldName": "TerminationChannel", "searchOperator": "Starts_With", "searchTerm": "v"}, False),
    ],
)
def test_routee_filter(body, matches):
    assert search(**body).matches(flow()) is matches


def test_no_termination_channel_yet_matches_only_negatively():
    running = flow(status="InProgress", termination=None)
    assert not search(fieldName="terminationChannel", searchTerm="Sms").matches(running)
    assert search(fieldName="terminationChannel", searchOperator="is_not", searchTerm="Sms").matches(running)


def test_voice_sip_recipient_is_searchable():
    voice = {"status": "Queued", "steps": [{"type": "Voice", "to": {"sip": "sip:alice@example.com"}}]}
    assert search(fieldName="to", searchOperator="contains", searchTerm="ALICE").matches(voice)


@pytest.mark.parametrize(
    "body",
    [
        {"fieldName": "price", "searchTerm": "1"},
        {"fieldName": "status", "searchOperator": "like", "searchTerm": "x"},
        {"fieldName": "status"},  # a field without a term
        {"searchTerm": "Failed"},
        {"unknown": 1},
    ],
)
def test_bad_filters_are_refused(body):
    with pytest.raises(ValidationError):
        TrackingFilter.model_validate(body)


def test_query_string_wins_over_the_body_form():
    body = TrackingFilter.model_validate({**RANGE, "page": 3, "size": 50, "status": "Failed", "to": "+306912345678"})
    found = TrackingSearch.of({"page": 1, "size": None, "dateStart": None, "dateEnd": None}, body)
    assert (found.page, found.size) == (1, 50)
    assert found.filters == [
        (SearchField.STATUS, SearchOperator.IS, "Failed"),
        (SearchField.TO, SearchOperator.IS, "+306912345678"),
    ]
    assert not found.matches(flow())


def test_the_range_is_required_somewhere():
    with pytest.raises(ValidationError) as caught:
        TrackingSearch.of({"dateStart": None, "dateEnd": None}, None)
    assert {error["loc"] for error in caught.value.errors()} == {("dateStart",), ("dateEnd",)}
