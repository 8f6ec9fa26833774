"""Meeting instances from lifecycle events; order-independent (earliest start, latest end)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from attendance.extensions import db
from attendance.ingest.context import ApplyContext, PresenceChange
from attendance.models import (
    Meeting,
    MeetingRecording,
    MeetingStatus,
    ParticipantEvent,
    Student,
)
from attendance.models.types import from_micros, utcnow
from attendance.services.courses import course_for_meeting_number
from attendance.services.sql import insert_ignoring_conflicts
from attendance.zoom.events import MeetingInfo, ZoomEvent


def upsert_meeting(info: MeetingInfo, ctx: ApplyContext) -> Meeting:
    """The meeting row for ``info.uuid``, created if new, with non-empty details merged in.

    Created with ``INSERT … ON CONFLICT DO NOTHING`` so two workers seeing the
    first event of a meeting at once cannot both create it; looked up once per
    batch. A new instance joins the course that owns its meeting number. A
    webinar event marks it a webinar for good; it records the connection of the
    event's webhook URL (see ``_claim_connection``).
    """
    meeting = ctx.meetings.get(info.uuid)
    if meeting is None:
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == info.uuid))
    if meeting is None:
        db.session.execute(
            insert_ignoring_conflicts(Meeting.__table__, "uuid").values(
                uuid=info.uuid,
                status=MeetingStatus.LIVE.value,
                zoom_meeting_id=info.zoom_meeting_id,
                course_id=course_for_meeting_number(info.zoom_meeting_id),
                connection_id=ctx.connection_id,
                is_webinar=info.webinar,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == info.uuid))
    assert meeting is not None  # noqa: S101 - inserted just above
    ctx.meetings[info.uuid] = meeting
    ctx.touched.add(meeting.id)
    if info.zoom_meeting_id is not None and meeting.zoom_meeting_id is None:
        meeting.zoom_meeting_id = info.zoom_meeting_id
        meeting.course_id = course_for_meeting_number(info.zoom_meeting_id)
    if info.topic and meeting.topic != info.topic[:300]:
        meeting.topic = info.topic[:300]
    if info.host_id and meeting.host_id != info.host_id:
        meeting.host_id = info.host_id
    if info.type is not None and meeting.meeting_type != info.type:
        meeting.meeting_type = info.type
    if info.timezone and meeting.timezone != info.timezone:
        meeting.timezone = info.timezone
    if info.webinar and not meeting.is_webinar:
        meeting.is_webinar = True
    _claim_connection(meeting, ctx.connection_id)
    meeting.last_event_at = utcnow()
    return meeting


def _claim_connection(meeting: Meeting, connection_id: int | None) -> None:
    """Record the connection whose URL brought the meeting's events, once.

    NULL (the environment's URL) gives way to the first connection seen; a
    meeting never moves from one connection to another afterwards: which
    credentials reconcile it must not depend on the order events arrive in.
    """
    if connection_id is not None and meeting.connection_id is None:
        meeting.connection_id = connection_id


def _event_meeting(event: ZoomEvent, ctx: ApplyContext) -> tuple[Meeting, MeetingInfo]:
    assert event.meeting is not None  # noqa: S101 - parse_event guarantees it
    return upsert_meeting(event.meeting, ctx), event.meeting


def record_meeting_started(event: ZoomEvent, ctx: ApplyContext) -> None:
    """``meeting.started``: the instance exists; S is the earliest start_time seen."""
    meeting, info = _event_meeting(event, ctx)
    start = info.start_time
    if start is not None and (meeting.start_time is None or start < meeting.start_time):
        meeting.start_time = start


def record_meeting_ended(event: ZoomEvent, ctx: ApplyContext) -> None:
    """``meeting.ended``: E is the latest end_time seen, whatever order they came in."""
    meeting, info = _event_meeting(event, ctx)
    # An end without end_time: the envelope's time is the best there is.
    end = info.end_time or event.envelope_time
    if end is not None and (meeting.end_time is None or end > meeting.end_time):
        meeting.end_time = end
    meeting.status = MeetingStatus.ENDED


def record_recording_state(event: ZoomEvent, ctx: ApplyContext) -> None:
    """``recording.started`` / ``recording.stopped``: the latest by its own time wins."""
    meeting, _info = _event_meeting(event, ctx)
    started = event.name == "recording.started"
    at = (event.recording_start if started else event.recording_end) or (
        event.recording_start or event.recording_end
    )
    if at is None:
        return
    current = meeting.recording_changed_at
    if current is None or at > current or (at == current and not started):
        meeting.recording, meeting.recording_changed_at = started, at


def record_recording_completed(event: ZoomEvent, ctx: ApplyContext) -> None:
    """``recording.completed``: keep each file (by id) and the share link on the meeting."""
    meeting, _info = _event_meeting(event, ctx)
    if event.share_url:
        meeting.recording_share_url = event.share_url
    existing = {
        r.file_id: r
        for r in db.session.scalars(
            select(MeetingRecording).where(MeetingRecording.meeting_id == meeting.id)
        )
    }
    for f in event.recording_files:
        row = existing.get(f.id) or MeetingRecording(
            meeting_id=meeting.id, file_id=f.id
        )
        row.file_type, row.recording_type, row.status = (
            f.file_type,
            f.recording_type,
            f.status,
        )
        row.download_url = f.download_url
        row.recording_start, row.recording_end, row.file_size = (
            f.recording_start,
            f.recording_end,
            f.file_size,
        )
        if f.id not in existing:
            db.session.add(row)
            existing[f.id] = row


def record_presence(event: ZoomEvent, ctx: ApplyContext) -> None:
    """``user.presence_status_updated``: kept on every student with that e-mail (latest wins).

    Latest by the payload's own time, so a late delivery of an older status
    changes nothing; at the same time the larger status wins, so the result does
    not depend on arrival order. Each change is queued for ``presenceUpdated``.
    """
    presence = event.presence
    if presence is None or not presence.email or presence.date_time is None:
        return
    email = presence.email.strip().casefold()
    status, at = presence.status, presence.date_time
    for student in db.session.scalars(select(Student).where(Student.email == email)):
        if not _newer(at, status, student.presence_at, student.presence_status):
            continue
        student.presence_status, student.presence_at = status, at
        ctx.presence[student.id] = PresenceChange(
            course_id=student.course_id, student_pk=student.id, status=status, at=at
        )


def _newer(
    at: datetime, status: str, known_at: datetime | None, known: str | None
) -> bool:
    """Whether presence ``(at, status)`` replaces the stored one."""
    if known_at is None:
        return True
    return (at, status) > (known_at, known or "")


def stale_meetings(now: datetime, minutes: int) -> list[Meeting]:
    """Live meetings with no event for ``minutes`` (their ``meeting.ended`` was lost)."""
    cutoff = now - timedelta(minutes=minutes)
    return list(
        db.session.scalars(
            select(Meeting).where(
                Meeting.status == MeetingStatus.LIVE,
                Meeting.last_event_at.is_not(None),
                Meeting.last_event_at < cutoff,
            )
        )
    )


def close_stale(meeting: Meeting) -> None:
    """End a meeting whose ``meeting.ended`` never came, at its last event's own time."""
    last_us = db.session.scalar(
        select(func.max(ParticipantEvent.at_us)).where(
            ParticipantEvent.meeting_id == meeting.id
        )
    )
    last = from_micros(last_us) if last_us is not None else None
    candidates = [t for t in (last, meeting.start_time) if t is not None]
    meeting.closed_stale_at = max(candidates) if candidates else meeting.last_event_at
    meeting.status = MeetingStatus.ENDED
