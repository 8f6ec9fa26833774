"""Meeting instances from lifecycle events; order-independent (earliest start, latest end)."""

from __future__ import annotations

from sqlalchemy import select

from attendance.extensions import db
from attendance.models import Meeting, MeetingStatus
from attendance.services.dispatch import ApplyContext
from attendance.services.sql import insert_ignoring_conflicts
from attendance.zoom.events import MeetingInfo, ZoomEvent


def upsert_meeting(info: MeetingInfo, ctx: ApplyContext) -> Meeting:
    """The meeting row for ``info.uuid``, created if new, with non-empty details merged in.

    Created with ``INSERT … ON CONFLICT DO NOTHING`` so two workers seeing the
    first event of a meeting at once cannot both create it; looked up once per batch.
    """
    meeting = ctx.meetings.get(info.uuid)
    if meeting is None:
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == info.uuid))
    if meeting is None:
        db.session.execute(
            insert_ignoring_conflicts(Meeting.__table__, "uuid").values(
                uuid=info.uuid, status=MeetingStatus.LIVE.value
            )
        )
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == info.uuid))
    assert meeting is not None  # noqa: S101 - inserted just above
    ctx.meetings[info.uuid] = meeting
    ctx.touched.add(meeting.id)
    if info.zoom_meeting_id is not None:
        meeting.zoom_meeting_id = info.zoom_meeting_id
    if info.topic:
        meeting.topic = info.topic[:300]
    if info.host_id:
        meeting.host_id = info.host_id
    if info.type is not None:
        meeting.meeting_type = info.type
    if info.timezone:
        meeting.timezone = info.timezone
    return meeting


def record_meeting_started(event: ZoomEvent, ctx: ApplyContext) -> None:
    """``meeting.started``: the instance exists; S is the earliest start_time seen."""
    assert event.meeting is not None  # noqa: S101 - parse_event guarantees it
    meeting = upsert_meeting(event.meeting, ctx)
    start = event.meeting.start_time
    if start is not None and (meeting.start_time is None or start < meeting.start_time):
        meeting.start_time = start


def record_meeting_ended(event: ZoomEvent, ctx: ApplyContext) -> None:
    """``meeting.ended``: E is the latest end_time seen, whatever order they came in."""
    assert event.meeting is not None  # noqa: S101 - parse_event guarantees it
    meeting = upsert_meeting(event.meeting, ctx)
    start, end = event.meeting.start_time, event.meeting.end_time
    if start is not None and (meeting.start_time is None or start < meeting.start_time):
        meeting.start_time = start
    if end is not None and (meeting.end_time is None or end > meeting.end_time):
        meeting.end_time = end
    meeting.status = MeetingStatus.ENDED
