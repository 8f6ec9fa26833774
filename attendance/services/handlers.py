"""The handler table: which service applies which Zoom event."""

from __future__ import annotations

from attendance.services import meetings


def register(table: dict) -> None:
    """Fill the dispatcher's table (real Zoom names; aliases are resolved before lookup)."""
    table.update(
        {
            "meeting.started": meetings.record_meeting_started,
            "meeting.ended": meetings.record_meeting_ended,
        }
    )
