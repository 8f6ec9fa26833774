"""Parsing Zoom's dicts into typed events, and the deduplication key (ZOOM.md §2-3)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from attendance.errors import BadPayload
from attendance.zoom.events import canonical_name, parse_event, parse_time
from tests.support import fixture


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
