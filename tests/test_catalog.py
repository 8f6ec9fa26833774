"""The event catalog: one row per Zoom event, and everything derived from it agrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from attendance.core.model import Kind
from attendance.core.sessions import ordered
from attendance.ingest.handlers import HANDLERS
from attendance.ingest.participants import record_participant_event
from attendance.zoom import catalog

LIVE_JS = Path(__file__).resolve().parent.parent / "static" / "js" / "live.js"


def test_every_catalog_row_has_exactly_one_handler():
    assert set(HANDLERS) == set(catalog.SPECS)
    for spec in catalog.CATALOG:
        is_participant = HANDLERS[spec.name] is record_participant_event
        assert is_participant == (spec.kind is not None), spec.name


def test_names_are_unique_and_aliases_point_at_real_rows():
    names = [spec.name for spec in catalog.CATALOG]
    assert len(names) == len(set(names))
    assert not set(catalog.ALIASES) & set(names)
    assert set(catalog.ALIASES.values()) <= set(names)


@pytest.mark.parametrize(
    ("name", "handled"),
    [
        ("meeting.participant_joined", True),
        ("meeting.participant_waiting_for_host", True),  # a seed-era alias
        ("meeting.recording_started", True),
        ("recording.completed", True),
        ("webinar.participant_joined", True),
        ("webinar.registration_created", False),
        ("meeting.chat_message_sent", False),
        ("", False),
    ],
)
def test_is_handled(name, handled):
    assert catalog.is_handled(name) is handled


def test_every_kind_is_recorded_by_one_event_and_has_a_sweep_rule():
    # Webinar rows are twins of meeting rows (same kind): counted once, by the meeting's.
    kinds = [
        spec.kind
        for spec in catalog.CATALOG
        if spec.kind is not None and not spec.webinar
    ]
    assert sorted(kinds) == sorted(Kind)
    # The sweep orders every kind (a kind without a rule raises KeyError there).
    from datetime import UTC, datetime

    from attendance.core.model import ConnectionEvent

    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert len(ordered(ConnectionEvent(kind=k, at=at) for k in Kind)) == len(Kind)


def test_the_live_page_listens_to_every_room_event():
    script = LIVE_JS.read_text()
    for room_event in set(catalog.ROOM_EVENTS.values()):
        assert f'"{room_event}"' in script or f"'{room_event}'" in script, room_event
