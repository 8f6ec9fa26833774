"""The handler table: which service applies which Zoom event (CONTRACT §2)."""

from __future__ import annotations

from attendance.services import meetings, participants
from attendance.zoom.sightings import KINDS


def register(table: dict) -> None:
    """Fill the dispatcher's table (real Zoom names; aliases are resolved before lookup)."""
    table.update(
        {
            "meeting.started": meetings.record_meeting_started,
            "meeting.ended": meetings.record_meeting_ended,
            "recording.started": meetings.record_recording_state,
            "recording.stopped": meetings.record_recording_state,
            "recording.completed": meetings.record_recording_completed,
            "user.presence_status_updated": meetings.record_presence,
        }
    )
    # Every participant event, the seed-era participant_updated included.
    table.update(dict.fromkeys(KINDS, participants.record_participant_event))
