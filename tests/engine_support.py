"""Building courses and Zoom event sequences for engine tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from attendance.extensions import db
from attendance.models import AttendanceRecord, Course, Meeting, MeetingGuest, Student
from attendance.services.courses import set_meeting_numbers
from attendance.services.roster import import_rows

NUMBER = 84712639219
UUID = "Ab3xY+/kLm9=="
HOST = "host-user-id-1"
S = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
E = S + timedelta(hours=1)
_user_ids = itertools.count(16778240)

ROSTER = [
    {
        "student_id": "S1",
        "first_name": "Ana",
        "last_name": "Díaz",
        "email": "ana@uni.edu",
    },
    {
        "student_id": "S2",
        "first_name": "Ben",
        "last_name": "Okafor",
        "email": "ben@uni.edu",
    },
    {
        "student_id": "S3",
        "first_name": "Chen",
        "last_name": "Wei",
        "email": "chen@uni.edu",
    },
    {
        "student_id": "S4",
        "first_name": "Dana",
        "last_name": "Smith",
        "email": "dana@uni.edu",
    },
]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_course(
    app, roster=ROSTER, number: int | None = NUMBER, code="BIO-101", **policy
) -> int:
    """Create a course with a roster and a meeting number; return its id."""
    with app.app_context():
        course = Course(code=code, title="Biology", **policy)
        db.session.add(course)
        db.session.flush()
        if number is not None:
            set_meeting_numbers(course, [number])
        import_rows(course, list(enumerate(roster, start=2)))
        db.session.commit()
        return course.id


def meeting_obj(uuid=UUID, number=NUMBER, **extra) -> dict[str, Any]:
    obj = {
        "id": str(number),
        "uuid": uuid,
        "host_id": HOST,
        "topic": "Biology",
        "type": 2,
        "start_time": iso(S),
        "timezone": "UTC",
        "duration": 60,
    }
    obj.update(extra)
    return obj


def started(uuid=UUID, at=S) -> dict:
    return {
        "event": "meeting.started",
        "event_ts": 1,
        "payload": {"account_id": "A", "object": meeting_obj(uuid, start_time=iso(at))},
    }


def ended(uuid=UUID, at=E) -> dict:
    return {
        "event": "meeting.ended",
        "event_ts": 2,
        "payload": {"account_id": "A", "object": meeting_obj(uuid, end_time=iso(at))},
    }


def participant_event(
    name: str,
    kind: str,
    at: datetime,
    *,
    user_id: str,
    user_name: str,
    email: str = "",
    zoom_id: str = "",
    uuid=UUID,
    **extra,
) -> dict:
    time_field = {"joined": "join_time", "left": "leave_time"}.get(kind, "date_time")
    participant = {
        "user_id": user_id,
        "user_name": user_name,
        "id": zoom_id,
        "participant_user_id": zoom_id,
        "participant_uuid": "",
        "email": email,
        "registrant_id": "",
        "customer_key": "",
        time_field: iso(at),
    }
    participant.update(extra.pop("participant", {}))
    obj = meeting_obj(uuid, participant=participant, **extra)
    return {"event": name, "event_ts": 3, "payload": {"account_id": "A", "object": obj}}


def session(
    user_name: str,
    join: datetime,
    leave: datetime | None,
    *,
    email="",
    zoom_id="",
    user_id: str | None = None,
    uuid=UUID,
) -> list[dict]:
    """A join (and a leave, unless None) of one new connection."""
    uid = user_id or str(next(_user_ids))
    events = [
        participant_event(
            "meeting.participant_joined",
            "joined",
            join,
            user_id=uid,
            user_name=user_name,
            email=email,
            zoom_id=zoom_id,
            uuid=uuid,
        )
    ]
    if leave is not None:
        events.append(
            participant_event(
                "meeting.participant_left",
                "left",
                leave,
                user_id=uid,
                user_name=user_name,
                email=email,
                zoom_id=zoom_id,
                uuid=uuid,
            )
        )
    return events


def records(app, uuid=UUID) -> dict[str, dict[str, Any]]:
    """The stored attendance of a meeting, by school student id."""
    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == uuid))
        rows = db.session.execute(
            select(AttendanceRecord, Student.student_id)
            .join(Student, Student.id == AttendanceRecord.student_id)
            .where(AttendanceRecord.meeting_id == meeting.id)
        ).all()
        out = {}
        for rec, sid in rows:
            out[sid] = {
                "status": rec.effective_status,
                "late": rec.late,
                "left_early": rec.left_early,
                "attended_seconds": rec.attended_seconds,
                "attended_percent": rec.attended_percent,
                "first_join": rec.first_join,
                "last_leave": rec.last_leave,
                "sessions": rec.sessions,
                "matched_by": rec.matched_by,
                "source": rec.source,
            }
        return out


def guests(app, uuid=UUID) -> list[dict[str, Any]]:
    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == uuid))
        return [
            {
                "name": g.name,
                "attended_seconds": g.attended_seconds,
                "role": g.role,
                "sessions": g.sessions,
            }
            for g in db.session.scalars(
                select(MeetingGuest)
                .where(MeetingGuest.meeting_id == meeting.id)
                .order_by(MeetingGuest.position)
            )
        ]
