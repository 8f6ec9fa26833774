"""Parsing Zoom's dicts into typed events, and the deduplication key (ZOOM.md §2-3)."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from attendance.errors import BadPayload
from attendance.extensions import db
from attendance.models import Meeting, Participant, WebhookEvent
from attendance.zoom.events import (
    canonical_name,
    parse_envelope,
    parse_event,
    raw_meeting_uuid,
)
from attendance.zoom.fields import parse_time
from attendance.zoom.sightings import connection_key
from tests.support import EVENT_NAMES, fixture


def test_parse_participant_joined_fields():
    event = parse_event(fixture("meeting.participant_joined"))
    assert event.name == "meeting.participant_joined"
    assert event.meeting.zoom_meeting_id == 84712639219
    assert event.meeting.uuid == "4444AAAiAAAAAiAiAiiAii=="
    p = event.participant
    assert (p.user_id, p.name, p.zoom_user_id) == (
        "16778240",
        "Jill Chill",
        "iFxeBPYun6SAiWUzBcEkX",
    )
    assert p.registrant_id == "" and p.customer_key == ""
    assert p.join_time == datetime(2026, 11, 23, 10, 0, 5, tzinfo=UTC)
    assert event.occurred_at == p.join_time


def test_parse_left_keeps_free_text_leave_reason():
    event = parse_event(fixture("meeting.participant_left"))
    assert "<br>Reason: left the meeting." in event.participant.leave_reason
    assert event.occurred_at == datetime(2026, 11, 23, 10, 50, tzinfo=UTC)


def test_parse_recording_completed_numeric_id_and_files():
    event = parse_event(fixture("recording.completed"))
    assert event.meeting.zoom_meeting_id == 84712639219
    assert [f.file_type for f in event.recording_files] == ["MP4", "M4A"]
    assert event.download_token.endswith("token-one")


def test_parse_jbh_waiting_has_only_a_name():
    event = parse_event(fixture("meeting.participant_jbh_waiting"))
    assert event.participant.name == "Early Bird"
    assert event.participant.user_id == ""


def test_parse_presence_has_no_meeting():
    event = parse_event(fixture("user.presence_status_updated"))
    assert event.meeting is None
    assert event.presence.status == "Do_Not_Disturb"


def test_canonical_name_resolves_seed_aliases():
    assert (
        canonical_name("meeting.participant_waiting_for_host")
        == "meeting.participant_jbh_waiting"
    )
    assert canonical_name("meeting.recording_started") == "recording.started"
    assert canonical_name("meeting.participant_joined") == "meeting.participant_joined"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021-07-13T21:44:51Z", datetime(2021, 7, 13, 21, 44, 51, tzinfo=UTC)),
        (
            "2021-07-13T21:44:51.250Z",
            datetime(2021, 7, 13, 21, 44, 51, 250000, tzinfo=UTC),
        ),
        ("2021-07-13T23:44:51+02:00", datetime(2021, 7, 13, 21, 44, 51, tzinfo=UTC)),
        ("2021-07-13T21:44:51", datetime(2021, 7, 13, 21, 44, 51, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_parse_time_forms(raw, expected):
    assert parse_time(raw) == expected


@pytest.mark.parametrize("raw", ["yesterday", 1626230691, "2021-13-45T00:00:00Z"])
def test_parse_time_rejects_non_times(raw):
    with pytest.raises(BadPayload):
        parse_time(raw)


@pytest.mark.parametrize(
    "value", ["84712639219", 84712639219, " 84712639219 ", 84712639219.0]
)
def test_meeting_id_string_or_number(value):
    event = fixture("meeting.started")
    event["payload"]["object"]["id"] = value
    assert parse_event(event).meeting.zoom_meeting_id == 84712639219


@pytest.mark.parametrize("value", ["abc", True, [1]])
def test_meeting_id_garbage_is_bad_payload(value):
    event = fixture("meeting.started")
    event["payload"]["object"]["id"] = value
    with pytest.raises(BadPayload):
        parse_event(event)


def test_missing_uuid_is_bad_payload():
    event = fixture("meeting.started")
    del event["payload"]["object"]["uuid"]
    with pytest.raises(BadPayload, match="uuid"):
        parse_event(event)


def test_dedupe_key_ignores_event_ts_and_tokens_but_not_identity():
    base = fixture("meeting.participant_joined")
    key = parse_event(base).dedupe_key
    retry = copy.deepcopy(base)
    retry["event_ts"] += 300000
    assert parse_event(retry).dedupe_key == key
    rejoin = copy.deepcopy(base)
    rejoin["payload"]["object"]["participant"]["user_id"] = "16778241"
    assert parse_event(rejoin).dedupe_key != key
    later = copy.deepcopy(base)
    later["payload"]["object"]["participant"]["join_time"] = "2026-11-23T10:00:06Z"
    assert parse_event(later).dedupe_key != key
    other_instance = copy.deepcopy(base)
    other_instance["payload"]["object"]["uuid"] = "other=="
    assert parse_event(other_instance).dedupe_key != key
    left = copy.deepcopy(base)
    left["event"] = "meeting.participant_left"
    assert parse_event(left).dedupe_key != key


def test_dedupe_key_of_recording_completed_is_its_files():
    first = fixture("recording.completed")
    second = copy.deepcopy(first)
    second["download_token"] = "different"
    second["payload"]["object"]["recording_files"].reverse()
    assert parse_event(first).dedupe_key == parse_event(second).dedupe_key
    third = copy.deepcopy(first)
    third["payload"]["object"]["recording_files"].pop()
    assert parse_event(third).dedupe_key != parse_event(first).dedupe_key


def test_dedupe_key_alias_equals_real_name():
    real = fixture("meeting.participant_jbh_waiting")
    alias = copy.deepcopy(real)
    alias["event"] = "meeting.participant_waiting_for_host"
    assert parse_event(alias).dedupe_key == parse_event(real).dedupe_key


# -- range checks: every value from Zoom fits where it is kept, or is BadPayload -----

INT64_MAX = 2**63 - 1
#: Where a value sits in a body; a tuple path into the fixture's dict.
EVENT_TS = ("event_ts",)
MEETING_ID = ("payload", "object", "id")
UUID = ("payload", "object", "uuid")
PARTICIPANT = ("payload", "object", "participant")
JOIN_TIME = (*PARTICIPANT, "join_time")


def _with(name: str, path: tuple[str, ...], value) -> dict:
    """The fixture ``name`` with the field at ``path`` set to ``value``."""
    event = fixture(name)
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return event


NOT_A_TIMESTAMP = [
    2**63,
    2**64,
    10**30,
    -1,
    0,
    -(2**63) - 1,
    "--5",
    "-5",
    "+5",
    "5" * 25,
    True,
    False,
    1.5,
    float("nan"),
    float("inf"),
    "NaN",
    "Infinity",
    "1e5",
    "0x10",
    "١٢٣",
    "1 2",
    [1],
    {"ms": 1},
    7258118400000,  # 2200-01-01 in milliseconds: past any Zoom event
]


@pytest.mark.parametrize("value", NOT_A_TIMESTAMP, ids=repr)
def test_parse_event_event_ts_out_of_range_is_bad_payload(value):
    event = _with("meeting.participant_joined", EVENT_TS, value)
    with pytest.raises(BadPayload, match="event_ts"):
        parse_event(event)


@pytest.mark.parametrize("value", NOT_A_TIMESTAMP, ids=repr)
def test_parse_envelope_keeps_the_name_of_an_event_with_a_bad_event_ts(value):
    """The log still keeps such an event (as failed): its envelope reads without it."""
    event = _with("meeting.participant_joined", EVENT_TS, value)
    assert parse_envelope(event) == ("meeting.participant_joined", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1763892005000, 1763892005000),
        ("1763892005000", 1763892005000),
        (1763892005000.0, 1763892005000),
        (1, 1),
        (None, None),
        ("", None),
    ],
)
def test_parse_event_event_ts_forms(value, expected):
    event = _with("meeting.participant_joined", EVENT_TS, value)
    assert parse_event(event).event_ts == expected


@pytest.mark.parametrize(
    "value",
    [
        INT64_MAX + 1,
        2**64,
        10**40,
        -1,
        -84712639219,
        0,
        "0",
        "-5",
        "--5",
        "+84712639219",
        "9" * 25,
        "9223372036854775808",
        False,
        1.5,
        1e300,
        float("nan"),
        float("-inf"),
        "NaN",
        "1e10",
        "٨٤٧١٢٦٣٩٢١٩",
        {"id": 1},
    ],
    ids=repr,
)
def test_parse_event_meeting_id_out_of_range_is_bad_payload(value):
    for name in ("meeting.started", "recording.completed", "meeting.participant_left"):
        with pytest.raises(BadPayload, match="meeting id"):
            parse_event(_with(name, MEETING_ID, value))


def test_parse_event_meeting_id_up_to_int64_is_kept():
    event = _with("meeting.started", MEETING_ID, str(INT64_MAX))
    assert parse_event(event).meeting.zoom_meeting_id == INT64_MAX


@pytest.mark.parametrize(
    "raw",
    [
        "0000-01-01T00:00:00Z",
        "99999-01-01T00:00:00Z",
        "0001-01-01T00:00:00+23:59",  # astimezone leaves datetime's range
        "9999-12-31T23:59:59-23:59",
        "9999-12-31T23:59:59Z",  # a datetime, but no meeting's: arithmetic overflows
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "2021-07-13T21:44:51Z\x00",
        "2021-07-13T21:44:51\ud800Z",
        "2021-07-13T21:44:51+99:00",
        "2" * 5000,
        True,
        1e308,
        [2021],
    ],
    ids=repr,
)
def test_parse_time_outside_what_datetime_or_zoom_holds_is_bad_payload(raw):
    with pytest.raises(BadPayload):
        parse_time(raw)
    with pytest.raises(BadPayload):
        parse_event(_with("meeting.participant_joined", JOIN_TIME, raw))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-23T10:00:05+23:59", datetime(2026, 11, 22, 10, 1, 5, tzinfo=UTC)),
        ("2026-11-23T10:00:05-23:59", datetime(2026, 11, 24, 9, 59, 5, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
        ("2199-12-31T23:59:59Z", datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_time_normalizes_odd_offsets_to_utc(raw, expected):
    assert parse_time(raw) == expected


@pytest.mark.parametrize(
    ("event_ts", "expected"),
    [
        (1, datetime(1970, 1, 1, tzinfo=UTC)),
        (1763891900999, datetime(2025, 11, 23, 9, 58, 20, tzinfo=UTC)),
        (7258118399999, datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_envelope_time_holds_every_accepted_event_ts(event_ts, expected):
    event = parse_event(_with("meeting.participant_jbh_waiting", EVENT_TS, event_ts))
    assert event.envelope_time == expected


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (UUID, "4444\x00AAAi=="),
        (UUID, "4444\ud800AAAi=="),
        (UUID, "x" * 256),
        (UUID, ""),
        ((*PARTICIPANT, "user_id"), "1677\x008240"),
        ((*PARTICIPANT, "user_id"), "\udfff"),
        ((*PARTICIPANT, "user_id"), "1" * 256),
        ((*PARTICIPANT, "participant_user_id"), "a" * 101),
        ((*PARTICIPANT, "id"), "\x00"),
        ((*PARTICIPANT, "participant_uuid"), "u" * 101),
        ((*PARTICIPANT, "registrant_id"), "r\ud83d"),
        ((*PARTICIPANT, "customer_key"), "c" * 101),
        ((*PARTICIPANT, "parent_user_id"), "p\x00"),
        (("payload", "object", "breakout_room_uuid"), "b" * 256),
    ],
    ids=repr,
)
def test_parse_event_identifiers_that_cannot_be_kept_whole_are_bad_payload(path, value):
    """A clipped or cleaned id would be someone else's: the event is refused (kept as failed)."""
    with pytest.raises(BadPayload):
        parse_event(_with("meeting.participant_joined", path, value))


def test_parse_event_recording_file_id_too_long_is_bad_payload():
    event = fixture("recording.completed")
    event["payload"]["object"]["recording_files"][0]["id"] = "f" * 101
    with pytest.raises(BadPayload, match="recording file id"):
        parse_event(event)


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("NUL", "meeting.started\x00"),
        ("surrogate", "meeting.\ud800started"),
        ("long", "meeting." + "x" * 100),
        ("not a string", 5),
        ("bool", True),
        ("blank", "  "),
    ],
)
def test_parse_envelope_refuses_an_event_name_the_log_cannot_keep(name, event):
    with pytest.raises(BadPayload, match="event"):
        parse_envelope({"event": event, "payload": {}})


def test_parse_envelope_keeps_a_name_of_exactly_the_column_width():
    name = "x." + "y" * 98
    assert parse_envelope({"event": name}) == (name, None)


@pytest.mark.parametrize(
    ("path", "value", "read", "expected"),
    [
        ((*PARTICIPANT, "user_name"), "Jill\x00 Chill", "name", "Jill Chill"),
        ((*PARTICIPANT, "user_name"), "Jill \ud800", "name", "Jill \ufffd"),
        ((*PARTICIPANT, "user_name"), "J" * 1000, "name", "J" * 300),
        ((*PARTICIPANT, "user_name"), "𝓙𝓲𝓵𝓵 🧑‍🎓", "name", "𝓙𝓲𝓵𝓵 🧑‍🎓"),
        ((*PARTICIPANT, "email"), "a" * 300 + "@x.edu", "email", "a" * 254),
        ((*PARTICIPANT, "email"), "j\x00@x.edu", "email", "j@x.edu"),
        ((*PARTICIPANT, "leave_reason"), "\x00" * 10, "leave_reason", ""),
        ((*PARTICIPANT, "new_role"), "r" * 500, "new_role", "r" * 100),
        ((*PARTICIPANT, "user_name"), 12345, "name", "12345"),
        ((*PARTICIPANT, "user_name"), True, "name", ""),
        ((*PARTICIPANT, "user_name"), {"first": "Jill"}, "name", ""),
        ((*PARTICIPANT, "user_name"), None, "name", ""),
    ],
    ids=repr,
)
def test_parse_event_free_text_is_made_storable(path, value, read, expected):
    event = parse_event(_with("meeting.participant_joined", path, value))
    assert getattr(event.participant, read) == expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("topic", "T" * 1000, "T" * 300),
        ("topic", "\x00Bio\udc80", "Bio\ufffd"),
        ("host_id", "h" * 500, "h" * 100),
        ("timezone", "America/" + "X" * 100, ("America/" + "X" * 100)[:64]),
        ("timezone", "Europe\x00/Paris", "Europe/Paris"),
    ],
    ids=repr,
)
def test_parse_event_meeting_text_is_made_storable(field, value, expected):
    event = parse_event(_with("meeting.started", ("payload", "object", field), value))
    assert getattr(event.meeting, field) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (8, 8),
        ("8", 8),
        (True, None),
        (-1, None),
        ("-1", None),
        (2**31, None),
        (2**70, None),
        (1.5, None),
        (float("nan"), None),
        ("eight", None),
    ],
    ids=repr,
)
def test_parse_event_meeting_type_outside_an_integer_column_is_dropped(value, expected):
    event = parse_event(_with("meeting.started", ("payload", "object", "type"), value))
    assert event.meeting.type == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(246560, 246560), (INT64_MAX, INT64_MAX), (2**63, None), (-5, None), (True, None)],
    ids=repr,
)
def test_parse_event_recording_file_size_outside_bigint_is_dropped(value, expected):
    event = fixture("recording.completed")
    event["payload"]["object"]["recording_files"][0]["file_size"] = value
    (first, _second) = parse_event(event).recording_files
    assert first.file_size == expected


def test_connection_key_of_a_long_name_fits_the_column_and_stays_distinct():
    def key(name):
        event = parse_event(
            _with("meeting.participant_jbh_waiting", (*PARTICIPANT, "user_name"), name)
        )
        return connection_key(event.participant)

    one, other = key("N" * 299 + "1"), key("N" * 299 + "2")
    assert len(one) <= 255 and len(other) <= 255
    assert one != other and one.startswith("name:NNN")
    assert key("Early Bird") == "name:Early Bird"


def test_raw_meeting_uuid_only_when_it_can_be_kept():
    assert raw_meeting_uuid({"payload": {"object": {"uuid": "ab=="}}}) == "ab=="
    assert raw_meeting_uuid({"payload": {"object": {"uuid": 12}}}) == "12"
    for body in (
        {"payload": {"object": {"uuid": "a\x00b"}}},
        {"payload": {"object": {"uuid": "\ud800"}}},
        {"payload": {"object": {"uuid": "u" * 256}}},
        {"payload": {"object": {"uuid": ["x"]}}},
        {"payload": {"object": "x"}},
        {"payload": ["x"]},
        {"payload": "x"},
        {},
        [],
    ):
        assert raw_meeting_uuid(body) is None


# -- property: whatever the values, BadPayload or an event every column can hold -----

_HOSTILE_TEXT = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), max_size=400
) | st.sampled_from(["\x00", "\ud800", "a\udfffb", "—Ñ🧑‍🎓", "", " ", "x" * 300])


def _nested(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=5), children, max_size=3
    )


_HOSTILE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _HOSTILE_TEXT
    | st.sampled_from(["2026-11-23T10:00:05Z", "0000-01-01T00:00:00Z", "--5"]),
    lambda children: _nested(children),
    max_leaves=6,
)
_FIXTURES = [
    "meeting.started",
    "meeting.ended",
    "meeting.participant_joined",
    "meeting.participant_left",
    "meeting.participant_jbh_waiting",
    "recording.completed",
    "user.presence_status_updated",
]


def _paths(value, prefix=()):
    """Every path to a leaf or container in a decoded body."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _storable(value, where="event"):
    """Assert every text in a parsed event encodes to UTF-8 without NUL, every
    int fits a BIGINT and every time lies in Zoom's window."""
    if isinstance(value, str):
        assert "\x00" not in value, where
        value.encode("utf-8")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        assert -(2**63) <= value <= INT64_MAX, where
    elif isinstance(value, datetime):
        assert (
            datetime(1970, 1, 1, tzinfo=UTC) <= value < datetime(2200, 1, 1, tzinfo=UTC)
        )
        value.isoformat()
    elif isinstance(value, tuple):
        for item in value:
            _storable(item, where)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _storable(getattr(value, f.name), f"{where}.{f.name}")


@settings(max_examples=400, deadline=None)
@given(
    name=st.sampled_from(_FIXTURES),
    picks=st.lists(st.tuples(st.integers(min_value=0), _HOSTILE), max_size=4),
    event_name=st.sampled_from([None, *EVENT_NAMES]),
)
def test_parse_event_is_bad_payload_or_storable_whatever_the_values(
    name, picks, event_name
):
    event = fixture(name)
    if event_name is not None:
        event["event"] = event_name
    for index, value in picks:
        paths = [p for p in _paths(event) if p]
        path = paths[index % len(paths)]
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    try:
        parsed = parse_event(event)
    except BadPayload:
        return
    _storable(parsed)
    assert len(parsed.dedupe_key) == 64
    if parsed.meeting is not None:
        assert 0 < len(parsed.meeting.uuid) <= 255
        assert len(parsed.meeting.topic) <= 300
    if parsed.participant is not None:
        assert len(connection_key(parsed.participant)) <= 255
        assert len(parsed.participant.name) <= 300
    if parsed.event_ts is not None:
        assert parsed.envelope_time is not None


# -- through the route into the database (SQLite, and PostgreSQL via TEST_DATABASE_URL) --


def _hostile(name: str, path: tuple[str, ...], value) -> bytes:
    """A signed-ready body; ``json.dumps`` escapes NUL and lone surrogates as Zoom's
    JSON would (``\\u0000``), so the bytes themselves are valid UTF-8."""
    return json.dumps(_with(name, path, value)).encode("ascii")


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("meeting.participant_joined", EVENT_TS, 2**70),
        ("meeting.participant_joined", EVENT_TS, "--5"),
        ("meeting.participant_joined", EVENT_TS, True),
        ("meeting.ended", EVENT_TS, -(2**63) - 1),
        ("meeting.started", MEETING_ID, 2**64),
        ("meeting.started", MEETING_ID, "-84712639219"),
        ("recording.completed", MEETING_ID, 1e300),
        ("meeting.started", UUID, "4444\x00AAAi=="),
        ("meeting.started", UUID, "4444\ud800AAAi=="),
        ("meeting.started", UUID, "u" * 300),
        ("meeting.participant_joined", JOIN_TIME, "0000-01-01T00:00:00Z"),
        ("meeting.participant_joined", JOIN_TIME, "9999-12-31T23:59:59-23:59"),
        ("meeting.participant_joined", (*PARTICIPANT, "user_id"), "1\x002"),
    ],
    ids=repr,
)
def test_webhook_out_of_range_event_is_kept_as_failed(app, zoom, name, path, value):
    """Signed, handled, unstorable as an event: kept as failed with its reason, 200.

    The failed row's uuid is the raw one only if the log can keep it
    (``raw_meeting_uuid``): a NUL is refused by PostgreSQL, a lone surrogate by
    every driver.
    """
    response = zoom.post(_hostile(name, path, value))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"status": "queued"}
    row = _only_row(app)
    assert row.status == "failed"
    assert row.error.startswith("BadPayload: ")
    assert row.event == name
    assert row.event_ts is None or 0 < row.event_ts < 2**63
    # Storable on every backend (PostgreSQL refuses NUL): the raw uuid of a body
    # that did not parse is kept only if it can be (zoom.events.raw_meeting_uuid).
    assert row.meeting_uuid is None or _storable_text(row.meeting_uuid, 255)


@pytest.mark.parametrize(
    "event",
    ["meeting.started\x00", "meeting.\ud800started", "meeting." + "x" * 200, 7, None],
    ids=repr,
)
def test_webhook_event_name_the_log_cannot_keep_is_400(app, zoom, event):
    response = zoom.post(_hostile("meeting.started", ("event",), event))
    assert response.status_code == 400
    assert _rows(app) == []


def test_webhook_unknown_event_with_an_unstorable_uuid_is_kept_as_ignored(app, zoom):
    body = {
        "event": "meeting.participant_feedback",
        "event_ts": 1,
        "payload": {"object": {"uuid": "bad\x00\ud800", "id": 2**80}},
    }
    response = zoom.post(json.dumps(body).encode("ascii"))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored"}
    row = _only_row(app)
    assert (row.status, row.meeting_uuid) == ("ignored", None)


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("meeting.participant_joined", (*PARTICIPANT, "user_name"), "Jill\x00 \ud800"),
        ("meeting.participant_joined", (*PARTICIPANT, "user_name"), "J" * 5000),
        ("meeting.participant_joined", (*PARTICIPANT, "email"), "j" * 400 + "@x.edu"),
        ("meeting.participant_joined", (*PARTICIPANT, "new_role"), "\x00" * 300),
        ("meeting.participant_jbh_waiting", (*PARTICIPANT, "user_name"), "N" * 400),
        ("meeting.started", ("payload", "object", "topic"), "T\x00" * 2000),
        ("meeting.started", ("payload", "object", "host_id"), "h\ud800" * 300),
        ("meeting.started", ("payload", "object", "timezone"), "Z" * 500),
        ("meeting.started", ("payload", "object", "type"), 2**40),
        ("meeting.started", ("payload", "object", "type"), True),
        ("recording.completed", ("payload", "object", "share_url"), "\x00" * 9000),
        (
            "user.presence_status_updated",
            ("payload", "object", "presence_status"),
            "s" * 99,
        ),
    ],
    ids=repr,
)
def test_webhook_odd_free_text_and_codes_are_stored_cleaned(
    app, zoom, name, path, value
):
    """Normalized where parsed, so applying them raises nothing (PostgreSQL refuses NUL,
    a lone surrogate is no UTF-8, a column has a width, an INTEGER has 32 bits)."""
    response = zoom.post(_hostile(name, path, value))
    assert response.status_code == 200, response.get_data(as_text=True)
    row = _only_row(app)
    assert (row.status, row.error) == ("processed", None)
    with app.app_context():
        for participant in db.session.scalars(select(Participant)):
            assert "\x00" not in participant.name and len(participant.user_key) <= 255
        for meeting in db.session.scalars(select(Meeting)):
            assert "\x00" not in meeting.topic + meeting.host_id + meeting.timezone


def _storable_text(text: str, limit: int) -> bool:
    return "\x00" not in text and len(text) <= limit and bool(text.encode("utf-8"))


def _rows(app) -> list[WebhookEvent]:
    with app.app_context():
        rows = db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        db.session.expunge_all()
        return rows


def _only_row(app) -> WebhookEvent:
    (row,) = _rows(app)
    return row
