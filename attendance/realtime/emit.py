"""The one place that emits: applied batches become room events, notices, the admin feed."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from flask import current_app

from attendance.extensions import db, socketio
from attendance.ingest.context import AppliedBatch, Notice, Outcome, PresenceChange
from attendance.models import EventStatus, Meeting
from attendance.models.types import iso, utcnow
from attendance.realtime.rooms import (
    ADMINS,
    anyone_in_a_meeting_or_instructor_room,
    instructor_room,
    listened,
    meeting_room,
)
from attendance.services.live import (
    LiveView,
    course_of,
    instructor_ids,
    live_view,
)
from attendance.services.meeting_cache import Changes
from attendance.services.notifications import notification_for
from attendance.zoom.catalog import ROOM_EVENTS


def publish(_sender: Any, *, batch: AppliedBatch) -> None:
    """After a batch commits (``batch_applied``): room events, notifications, the admin feed."""
    _publish_admin_feed(batch.outcomes)
    if batch.presence:
        _publish_presence(batch.presence)
    flusher = current_app.extensions.get("attendance.flusher")
    if flusher is not None:
        flusher.add(batch)
        return
    by_meeting: dict[int, list[Notice]] = defaultdict(list)
    for notice in batch.notices:
        by_meeting[notice.meeting_id].append(notice)
    changes = {m: [change] for m, change in batch.changed_connections.items()}
    publish_meetings(by_meeting, changes)
    db.session.rollback()  # end the read transaction the lookups opened


def publish_meetings(
    by_meeting: dict[int, list[Notice]], changes: dict[int, Changes]
) -> None:
    """Each meeting's notices to its room and its instructors (meeting id -> notices)."""
    if not anyone_in_a_meeting_or_instructor_room():
        return
    for meeting_id, notices in by_meeting.items():
        meeting = db.session.get(Meeting, meeting_id)
        if meeting is not None and meeting.zoom_meeting_id is not None:
            _publish_meeting(meeting, notices, changes.get(meeting.id))


def _publish_meeting(
    meeting: Meeting,
    notices: list[Notice],
    meeting_changes: Changes | None = None,
) -> None:
    teachers = instructor_ids(meeting.course_id)
    number = str(meeting.zoom_meeting_id)
    room = meeting_room(number)
    if not listened([room, *(instructor_room(t) for t in teachers)]):
        return
    view = live_view(meeting, changes=meeting_changes)
    course = course_of(meeting)
    now = iso(view.at)
    for notice in notices:
        name = ROOM_EVENTS.get(notice.event)
        if name is None:
            continue
        person = view.person(notice.participant_id)
        participant = view.participant(notice.participant_id)
        socketio.emit(name, _room_payload(meeting, view, participant, now), to=room)
        if participant is not None:
            change = _change_record(meeting, name, participant, now)
            for teacher in teachers:
                socketio.emit("participantUpdate", change, to=instructor_room(teacher))
        message = notification_for(meeting, course, name, person, view.start)
        if message is not None:
            kind, text = message
            notify(teachers, kind, text, number)
    # The batch touched an ended meeting: ingest.applier._after_batch regenerated
    # its attendance.
    if meeting.effective_end is not None and meeting.course_id is not None:
        socketio.emit(
            "attendanceGenerated", _room_payload(meeting, view, None, now), to=room
        )


def _publish_presence(changes: Sequence[PresenceChange]) -> None:
    """``presenceUpdated`` to the instructors of each changed student's course.

    One per student row (a person on two rosters is two students, in two
    courses); the payload is the student's whole presence, so a repeat or a
    late one cannot leave a page wrong (the page keeps the latest ``at``).
    """
    if not anyone_in_a_meeting_or_instructor_room():
        return
    teachers: dict[int, list[int]] = {}
    for change in changes:
        if change.course_id not in teachers:
            teachers[change.course_id] = instructor_ids(change.course_id)
        rooms = [instructor_room(t) for t in teachers[change.course_id]]
        if not listened(rooms):
            continue
        body = {
            "course_id": change.course_id,
            "student_pk": change.student_pk,
            "status": change.status,
            "at": iso(change.at),
        }
        for room in rooms:
            socketio.emit("presenceUpdated", body, to=room)
    db.session.rollback()  # end the read transaction the lookups opened


def _room_payload(
    meeting: Meeting,
    view: LiveView,
    participant: dict[str, Any] | None,
    now: str | None,
) -> dict[str, Any]:
    """A room event's payload (CONTRACT §4), with the meeting's ``events_version``."""
    return {
        "meetingId": str(meeting.zoom_meeting_id),
        "meetingUuid": meeting.uuid,
        "participant": participant,
        "statistics": view.statistics,
        "ts": now,
        "version": meeting.events_version,
    }


def _change_record(
    meeting: Meeting, name: str, participant: dict[str, Any], now: str | None
) -> dict[str, Any]:
    """The compact ``participantUpdate`` an instructor's own room hears."""
    return {
        "meetingId": str(meeting.zoom_meeting_id),
        "meetingUuid": meeting.uuid,
        "event": name,
        "participantId": participant["id"],
        "name": participant["name"],
        "status": participant["status"],
        "studentId": participant["student_id"],
        "ts": now,
    }


def _notification_body(
    kind: str, message: str, meeting_id: str | None
) -> dict[str, Any]:
    """A ``notification`` (CONTRACT §4), with a fresh id."""
    return {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "message": message,
        "meetingId": meeting_id,
        "created_at": iso(utcnow()),
    }


def notify(
    instructor_ids_: Sequence[int], kind: str, message: str, meeting_id: str | None
) -> None:
    """A ``notification`` to each instructor's own room."""
    body = _notification_body(kind, message, meeting_id)
    for instructor_id in instructor_ids_:
        socketio.emit("notification", body, to=instructor_room(instructor_id))


def _decoded(body: str | None) -> Any:
    """A stored body as JSON for the admin feed (None if it does not decode)."""
    try:
        return json.loads(body) if body is not None else None
    except ValueError:
        return None


def _publish_admin_feed(outcomes: Sequence[Outcome]) -> None:
    """Every applied event to the admins, and a notification for each failure."""
    if not listened([ADMINS]):
        return
    for outcome in outcomes:
        socketio.emit(
            "zoomWebhook",
            {
                "id": outcome.id,
                "event": outcome.event,
                "status": outcome.status.value,
                "payload": _decoded(outcome.body),
            },
            to=ADMINS,
        )
        if outcome.status is EventStatus.FAILED:
            failure = f"event {outcome.id} ({outcome.event}) failed: {outcome.error}"
            socketio.emit(
                "notification",
                _notification_body("event_failed", failure, None),
                to=ADMINS,
            )
