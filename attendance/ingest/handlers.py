"""The handler of each event of the catalog (CONTRACT §2): which use case applies it.

Every participant event (a catalog row with a ``kind``) is applied by the one
participant handler; every other row names its handler here (a webinar row is
handled by its meeting twin's). A catalog row without a handler fails at
import, so the two tables cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from attendance.ingest import meetings, participants
from attendance.ingest.context import ApplyContext
from attendance.zoom.catalog import CATALOG
from attendance.zoom.events import ZoomEvent

Handler = Callable[[ZoomEvent, ApplyContext], None]

#: Handlers of the events that are not participant events, by real Zoom name.
_BY_NAME: dict[str, Handler] = {
    "meeting.started": meetings.record_meeting_started,
    "meeting.ended": meetings.record_meeting_ended,
    "recording.started": meetings.record_recording_state,
    "recording.stopped": meetings.record_recording_state,
    "recording.completed": meetings.record_recording_completed,
    "user.presence_status_updated": meetings.record_presence,
}

#: Real Zoom event name -> its handler (aliases are resolved before lookup).
HANDLERS: dict[str, Handler] = {
    spec.name: (
        participants.record_participant_event
        if spec.kind is not None
        else _BY_NAME[spec.handled_as or spec.name]
    )
    for spec in CATALOG
}
