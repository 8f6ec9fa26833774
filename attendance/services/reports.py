"""A meeting's attendance as instructors read it: JSON records, guests, and the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from attendance.extensions import db
from attendance.models import AttendanceRecord, Meeting, MeetingGuest, Student
from attendance.services.attendance import compute

#: CONTRACT §3, in this order.
CSV_COLUMNS = (
    "student_id",
    "last_name",
    "first_name",
    "email",
    "status",
    "late",
    "left_early",
    "attended_minutes",
    "attended_percent",
    "first_join",
    "last_leave",
    "sessions",
    "matched_by",
    "source",
    "note",
)
#: A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, or None."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    """A Meeting as CONTRACT §3 shapes it."""
    return {
        "id": meeting.id,
        "uuid": meeting.uuid,
        "zoom_meeting_id": str(meeting.zoom_meeting_id)
        if meeting.zoom_meeting_id
        else None,
        "topic": meeting.topic,
        "course_id": meeting.course_id,
        "status": meeting.status,
        "start_time": iso(meeting.start_time),
        "end_time": iso(meeting.effective_end),
        "participant_count": meeting.participant_count,
    }


def _percent(seconds: int, meeting: Meeting) -> float:
    start, end = meeting.start_time, meeting.effective_end
    if start is None or end is None or end <= start:
        return 0.0
    ratio = Decimal(seconds) * 100 / Decimal((end - start).total_seconds())
    return float(ratio.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def attendance(meeting: Meeting) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(records, guests) of a meeting: stored once it ended, computed live before."""
    if meeting.effective_end is None:
        return _live(meeting)
    rows = db.session.execute(
        select(AttendanceRecord, Student)
        .join(Student, Student.id == AttendanceRecord.student_id)
        .where(AttendanceRecord.meeting_id == meeting.id)
        .order_by(Student.last_name, Student.first_name, Student.student_id)
    ).all()
    records = [
        {
            "student_pk": s.id,
            "student_id": s.student_id,
            "first_name": s.first_name,
            "last_name": s.last_name,
            "email": s.email,
            "status": r.effective_status,
            "late": r.late,
            "left_early": r.left_early,
            "attended_seconds": r.attended_seconds,
            "attended_percent": r.attended_percent,
            "first_join": iso(r.first_join),
            "last_leave": iso(r.last_leave),
            "sessions": r.sessions,
            "matched_by": r.matched_by,
            "source": r.source,
            "note": r.note,
        }
        for r, s in rows
    ]
    guests = [
        {
            "participant_pk": g.participant_id,
            "name": g.name,
            "email": g.email,
            "attended_seconds": g.attended_seconds,
            "first_join": iso(g.first_join),
            "last_leave": iso(g.last_leave),
            "sessions": g.sessions,
            "role": g.role,
        }
        for g in db.session.scalars(
            select(MeetingGuest)
            .where(MeetingGuest.meeting_id == meeting.id)
            .order_by(MeetingGuest.position)
        )
    ]
    return records, guests


def _live(meeting: Meeting) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    result = compute(meeting)
    students = (
        {
            s.id: s
            for s in db.session.scalars(
                select(Student).where(Student.course_id == meeting.course_id)
            )
        }
        if meeting.course_id
        else {}
    )
    records = []
    for r in result.records:
        s = students[r.student_pk]
        records.append(
            {
                "student_pk": s.id,
                "student_id": s.student_id,
                "first_name": s.first_name,
                "last_name": s.last_name,
                "email": s.email,
                "status": r.status.value,
                "late": r.late,
                "left_early": r.left_early,
                "attended_seconds": r.attended_seconds,
                "attended_percent": r.attended_percent,
                "first_join": iso(r.first_join),
                "last_leave": iso(r.last_leave),
                "sessions": r.sessions,
                "matched_by": r.matched_by.value if r.matched_by else None,
                "source": "auto",
                "note": None,
            }
        )
    guests = [
        {
            "participant_pk": g.pk,
            "name": g.name,
            "email": g.email,
            "attended_seconds": g.attended_seconds,
            "first_join": iso(g.first_join),
            "last_leave": iso(g.last_leave),
            "sessions": g.sessions,
            "role": "co-host" if g.role in ("co-host", "host") else "guest",
        }
        for g in result.guests
    ]
    return records, guests


def _cell(value: Any) -> str:
    """A CSV cell: booleans as true/false, None as empty, formulas defused with a '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _minutes(seconds: int) -> str:
    """seconds / 60 rounded half-up to one decimal (CONTRACT §3)."""
    return str((Decimal(seconds) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def attendance_csv(meeting: Meeting) -> Iterator[str]:
    """The meeting's attendance CSV, line by line (students, then guests)."""
    records, guests = attendance(meeting)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for r in records:
        row = {**r, "attended_minutes": _minutes(r["attended_seconds"])}
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
        yield flush()
    for g in guests:
        row = {
            "student_id": "",
            "last_name": g["name"],
            "first_name": "",
            "email": g["email"],
            "status": "Guest",
            "late": False,
            "left_early": False,
            "attended_minutes": _minutes(g["attended_seconds"]),
            "attended_percent": _percent(g["attended_seconds"], meeting),
            "first_join": g["first_join"],
            "last_leave": g["last_leave"],
            "sessions": g["sessions"],
            "matched_by": "",
            "source": "auto",
            "note": "",
        }
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
        yield flush()
