"""Status vocabulary per channel: kinds, canonical spelling, ranks, failover candidates and multi-part SMS."""

import pytest

from failover.domain import (
    DEFAULT_FAILOVER_ON,
    EXPIRY_RANK,
    EXPIRY_STATUS,
    FAILED_STATUS,
    FINAL_RANK,
    NO_BALANCE_STATUS,
    STATUSES,
    Channel,
    Kind,
    canonical_status,
    combine_parts,
    failover_candidates,
    is_final,
    status_kind,
    status_rank,
)

VIBER, SMS, VOICE = Channel.VIBER, Channel.SMS, Channel.VOICE

# The status model of the reference (routee-api.md), the seed (000_*.txt) and Routee's status pages (SMS "Network
# Error" from docs.routee.net/reference/send-single-sms, Voice "Unknown" from docs/voice-messaging-statuses), one row
# per status.
STATUS_TABLE = [
    (VIBER, "QUEUED", Kind.PENDING),
    (VIBER, "DELIVERED", Kind.SUCCESS),
    (VIBER, "SEEN", Kind.SUCCESS),
    (VIBER, "UNDELIVERED", Kind.FAILURE),
    (VIBER, "EXPIRED", Kind.FAILURE),
    (VIBER, "FAILED", Kind.FAILURE),
    (VIBER, "UNSENT", Kind.NO_BALANCE),
    (SMS, "Queued", Kind.PENDING),
    (SMS, "Sent", Kind.PENDING),
    (SMS, "Delivered", Kind.SUCCESS),
    (SMS, "Undelivered", Kind.FAILURE),
    (SMS, "Failed", Kind.FAILURE),
    (SMS, "Network Error", Kind.FAILURE),
    (SMS, "Unsent", Kind.NO_BALANCE),
    (VOICE, "Queued", Kind.PENDING),
    (VOICE, "Initiated", Kind.PENDING),
    (VOICE, "Ringing", Kind.PENDING),
    (VOICE, "InProgress", Kind.PENDING),
    (VOICE, "Completed", Kind.SUCCESS),
    (VOICE, "Busy", Kind.FAILURE),
    (VOICE, "NoAnswer", Kind.FAILURE),
    (VOICE, "Failed", Kind.FAILURE),
    (VOICE, "Unknown", Kind.FAILURE),
    (VOICE, "Unsent", Kind.NO_BALANCE),
    (VOICE, "Terminated", Kind.NO_BALANCE),
]


def test_channel_wire_names():
    assert [c.value for c in Channel] == ["Viber", "Sms", "Voice"]


@pytest.mark.parametrize("channel", list(Channel))
def test_vocabulary_is_exactly_the_reference_status_model(channel):
    expected = {status: kind for c, status, kind in STATUS_TABLE if c is channel}
    assert STATUSES[channel] == expected


@pytest.mark.parametrize(("channel", "status", "kind"), STATUS_TABLE)
def test_kind_and_finality(channel, status, kind):
    assert status_kind(channel, status) is kind
    assert is_final(channel, status) is (kind is not Kind.PENDING)


@pytest.mark.parametrize(
    ("channel", "status"),
    [(VIBER, "Delivered"), (SMS, "DELIVERED"), (SMS, "SEEN"), (VIBER, "Completed"), (VOICE, "Sent"), (SMS, "nope")],
)
def test_status_lookups_are_exact_and_per_channel(channel, status):
    # Only canonical spellings of the channel's own statuses are statuses; callers canonicalise first.
    with pytest.raises(KeyError):
        status_kind(channel, status)


# --- canonical_status -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "status", "_kind"), STATUS_TABLE)
def test_canonical_status_is_identity_on_canonical_spelling(channel, status, _kind):
    assert canonical_status(channel, status) == status


@pytest.mark.parametrize(
    ("channel", "name", "expected"),
    [
        (VIBER, "delivered", "DELIVERED"),
        (VIBER, "Expired", "EXPIRED"),
        (VIBER, "  undelivered ", "UNDELIVERED"),
        (SMS, "DELIVERED", "Delivered"),
        (SMS, "undelivered", "Undelivered"),
        (SMS, "fAiLeD", "Failed"),
        (VOICE, "noanswer", "NoAnswer"),
        (VOICE, "BUSY", "Busy"),
        (VOICE, "inprogress", "InProgress"),
        (VOICE, "TERMINATED", "Terminated"),
        (SMS, "network error", "Network Error"),
        (VOICE, "UNKNOWN", "Unknown"),
    ],
)
def test_canonical_status_is_case_insensitive(channel, name, expected):
    assert canonical_status(channel, name) == expected


@pytest.mark.parametrize(
    ("channel", "name"),
    [
        (SMS, "SEEN"),  # Viber-only
        (SMS, "Busy"),  # Voice-only
        (VIBER, "Sent"),  # SMS-only
        (VIBER, "Completed"),
        (VOICE, "Delivered"),
        (VOICE, "Undelivered"),
        (SMS, "NoAnswer"),
        (SMS, ""),
        (SMS, "Deliver"),
        (VOICE, "No Answer"),
    ],
)
def test_canonical_status_unknown_for_the_channel_is_none(channel, name):
    assert canonical_status(channel, name) is None


# --- ranks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", list(Channel))
def test_pending_statuses_rank_by_progress_below_any_expiry_and_final(channel):
    pending = [s for s, kind in STATUSES[channel].items() if kind is Kind.PENDING]
    ranks = [status_rank(channel, s) for s in pending]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)
    assert max(ranks) < EXPIRY_RANK < FINAL_RANK


def test_voice_call_progress_order():
    order = ["Queued", "Initiated", "Ringing", "InProgress"]
    assert sorted(order, key=lambda s: status_rank(VOICE, s)) == order
    assert status_rank(SMS, "Queued") < status_rank(SMS, "Sent")


@pytest.mark.parametrize(("channel", "status", "kind"), [row for row in STATUS_TABLE if row[2] is not Kind.PENDING])
def test_final_statuses_share_the_final_rank_except_seen(channel, status, kind):
    expected = FINAL_RANK if (channel, status) != (VIBER, "SEEN") else status_rank(VIBER, "SEEN")
    assert status_rank(channel, status) == expected
    assert status_rank(channel, status) >= FINAL_RANK > EXPIRY_RANK


def test_seen_may_follow_delivered_and_outranks_every_viber_status():
    seen = status_rank(VIBER, "SEEN")
    assert seen > status_rank(VIBER, "DELIVERED")
    assert all(seen > status_rank(VIBER, s) for s in STATUSES[VIBER] if s != "SEEN")


# --- failover candidates and per-channel constants ---------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (VIBER, {"UNDELIVERED", "EXPIRED", "FAILED"}),
        (SMS, {"Undelivered", "Failed", "Network Error"}),
        # Routee documents every final Voice status as a possible failover status
        (VOICE, {"Completed", "Busy", "NoAnswer", "Failed", "Unknown", "Unsent", "Terminated"}),
    ],
)
def test_failover_candidates(channel, expected):
    candidates = failover_candidates(channel)
    assert isinstance(candidates, tuple)
    assert set(candidates) == expected
    assert len(candidates) == len(expected)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (VIBER, {"EXPIRED", "FAILED", "UNDELIVERED"}),
        (SMS, {"Undelivered", "Failed", "Network Error"}),  # Routee's two, and the failure its list predates
        (VOICE, {"Busy", "NoAnswer", "Unknown"}),
    ],
)
def test_default_failover_statuses_follow_the_reference(channel, expected):
    assert set(DEFAULT_FAILOVER_ON[channel]) == expected
    assert set(DEFAULT_FAILOVER_ON[channel]) <= set(failover_candidates(channel))


@pytest.mark.parametrize(
    ("channel", "status", "detailed"),
    [(VIBER, "EXPIRED", "TTL Expired"), (SMS, "Undelivered", "Expired"), (VOICE, "Failed", "Timed out")],
)
def test_expiry_status_is_a_final_failure_of_the_channel(channel, status, detailed):
    assert EXPIRY_STATUS[channel] == (status, detailed)
    assert status_kind(channel, status) is Kind.FAILURE


@pytest.mark.parametrize("channel", list(Channel))
def test_refusal_statuses_have_the_right_kind(channel):
    assert status_kind(channel, NO_BALANCE_STATUS[channel]) is Kind.NO_BALANCE
    assert status_kind(channel, FAILED_STATUS[channel]) is Kind.FAILURE
    assert FAILED_STATUS[channel] in failover_candidates(channel)


# --- multi-part SMS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        # Delivered only when every part is Delivered
        ({1: "Delivered"}, "Delivered"),
        ({1: "Delivered", 2: "Delivered"}, "Delivered"),
        ({1: "Delivered", 2: "Delivered", 3: "Delivered"}, "Delivered"),
        ({1: "Delivered", 2: None}, "Queued"),  # a part not heard of yet is not delivered
        ({1: "Delivered", 2: "Sent"}, "Sent"),
        ({1: "Sent", 2: "Delivered", 3: "Queued"}, "Queued"),
        # a failure of any part wins, whatever the others say
        ({1: "Delivered", 2: "Undelivered"}, "Undelivered"),
        ({1: "Failed", 2: "Delivered"}, "Failed"),
        ({1: "Sent", 2: "Failed"}, "Failed"),
        ({1: None, 2: "Undelivered"}, "Undelivered"),
        ({1: "Delivered", 2: "Unsent"}, "Unsent"),
        ({1: "Undelivered", 2: "Failed"}, "Undelivered"),  # the first failing part, by part number
        ({2: "Failed", 1: "Undelivered"}, "Undelivered"),
        # otherwise the least advanced pending status
        ({1: "Sent", 2: "Sent"}, "Sent"),
        ({1: "Queued", 2: "Sent"}, "Queued"),
        ({1: "Sent", 2: "Queued"}, "Queued"),
        ({1: None, 2: None}, "Queued"),
        ({1: None, 2: "Sent"}, "Sent"),
    ],
)
def test_combine_sms_parts(parts, expected):
    assert combine_parts(SMS, parts) == expected


@pytest.mark.parametrize(
    "parts",
    [{1: "Delivered", 2: "Sent"}, {1: "Sent", 2: "Delivered"}, {1: None, 2: "Delivered"}, {1: "Queued", 2: None}],
)
def test_combined_status_is_never_final_while_a_part_is_outstanding(parts):
    assert not is_final(SMS, combine_parts(SMS, parts))


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ({1: "DELIVERED", 2: "DELIVERED"}, "DELIVERED"),
        ({1: "SEEN", 2: "SEEN"}, "SEEN"),
        ({1: "DELIVERED", 2: "EXPIRED"}, "EXPIRED"),
        ({1: "QUEUED", 2: "DELIVERED"}, "QUEUED"),
    ],
)
def test_combine_parts_on_viber_vocabulary(parts, expected):
    assert combine_parts(VIBER, parts) == expected
