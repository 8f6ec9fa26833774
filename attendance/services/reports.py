"""A meeting's attendance as instructors read it: JSON records, guests, and the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from attendance.core.policy import attended_percent
from attendance.core.schedule import Window, classify
from attendance.extensions import db
from attendance.models import AttendanceRecord, Course, Meeting, MeetingGuest, Student
from attendance.models.types import iso
from attendance.services.generation import compute_off_loop
from attendance.services.meeting_inputs import course_schedule
from attendance.services.pacing import EVERY, paced

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


def meeting_json(
    meeting: Meeting, participant_count: int | None = None
) -> dict[str, Any]:
    """A Meeting as CONTRACT §3 shapes it; ``participant_count``: a live one's so far."""
    window = meeting_window(meeting)
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
        "participant_count": meeting.participant_count
        if participant_count is None
        else participant_count,
        "scheduled": window.scheduled,
        "counts": counts(meeting, window),
        "window_start": iso(window.start),
        "window_end": iso(window.end),
    }


def meeting_window(meeting: Meeting) -> Window:
    """Whether the instance is a scheduled class, over which [S', E'] (CONTRACT §5.9).

    What its last generation stored; a live instance (or one never generated)
    is placed in its course's schedule now, with ``end`` None while live.
    """
    end = meeting.effective_end
    if end is not None and meeting.scheduled is not None:
        return Window(meeting.scheduled, meeting.window_start, meeting.window_end)
    course = db.session.get(Course, meeting.course_id) if meeting.course_id else None
    return classify(meeting.start_time, end, course_schedule(course))


def counts(meeting: Meeting, window: Window | None = None) -> bool:
    """Whether the instance is in its course's term figures: a class, or chosen to count."""
    scheduled = (window or meeting_window(meeting)).scheduled
    return scheduled or bool(meeting.counts_override)


def _percent(seconds: int, meeting: Meeting) -> float:
    """A guest's attended percent, by the same rule as the students' (CONTRACT §5.5).

    Of the window the meeting was judged over, [S', E'] for a class (§5.9).
    """
    start: datetime | None = meeting.start_time
    end = meeting.effective_end
    if meeting.window_start is not None and meeting.window_end is not None:
        start, end = meeting.window_start, meeting.window_end
    if start is None or end is None:
        return 0.0
    return attended_percent(timedelta(seconds=seconds), end - start)


def _record_json(student: Student, **values: Any) -> dict[str, Any]:
    """A Record (CONTRACT §3): the student's fields, then the attendance ``values``."""
    record = {
        "student_pk": student.id,
        "student_id": student.student_id,
        "first_name": student.first_name,
        "last_name": student.last_name,
        "email": student.email,
    }
    for key in ("first_join", "last_leave"):
        values[key] = iso(values[key])
    record.update(values)
    return record


def _guest_json(participant_pk: int, role: str, **values: Any) -> dict[str, Any]:
    """A Guest (CONTRACT §3).

    ``role`` is "guest" or "co-host" already: core.compute maps Zoom's roles, and
    the host, the only person whose role is "host", is never a guest.
    """
    return {
        "participant_pk": participant_pk,
        "name": values["name"],
        "email": values["email"],
        "attended_seconds": values["attended_seconds"],
        "first_join": iso(values["first_join"]),
        "last_leave": iso(values["last_leave"]),
        "sessions": values["sessions"],
        "role": role,
    }


def attendance(meeting: Meeting) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(records, guests) of a meeting: stored once it ended, computed live before."""
    if meeting.effective_end is None:
        return _live(meeting)
    # Columns, not entities: 2,000 ORM pairs cost more than the whole page.
    rows: Iterable[Any] = db.session.execute(
        select(
            Student.id,
            Student.student_id,
            Student.first_name,
            Student.last_name,
            Student.email,
            func.coalesce(AttendanceRecord.manual_status, AttendanceRecord.status),
            AttendanceRecord.late,
            AttendanceRecord.left_early,
            AttendanceRecord.attended_seconds,
            AttendanceRecord.attended_percent,
            AttendanceRecord.first_join,
            AttendanceRecord.last_leave,
            AttendanceRecord.sessions,
            AttendanceRecord.matched_by,
            AttendanceRecord.manual_status,
            AttendanceRecord.note,
        )
        .join(Student, Student.id == AttendanceRecord.student_id)
        .where(AttendanceRecord.meeting_id == meeting.id)
        .order_by(Student.last_name, Student.first_name, Student.student_id)
        .execution_options(yield_per=EVERY)
    )
    records = [
        {
            "student_pk": r[0],
            "student_id": r[1],
            "first_name": r[2],
            "last_name": r[3],
            "email": r[4],
            "status": r[5],
            "late": r[6],
            "left_early": r[7],
            "attended_seconds": r[8],
            "attended_percent": r[9],
            "first_join": iso(r[10]),
            "last_leave": iso(r[11]),
            "sessions": r[12],
            "matched_by": r[13],
            "source": "manual" if r[14] else "auto",
            "note": r[15],
        }
        for r in paced(rows)
    ]
    guests = [
        _guest_json(
            g.participant_id,
            g.role,
            name=g.name,
            email=g.email,
            attended_seconds=g.attended_seconds,
            first_join=g.first_join,
            last_leave=g.last_leave,
            sessions=g.sessions,
        )
        for g in db.session.scalars(
            select(MeetingGuest)
            .where(MeetingGuest.meeting_id == meeting.id)
            .order_by(MeetingGuest.position)
        )
    ]
    return records, guests


def _live(meeting: Meeting) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The same shapes for a live meeting, computed now (nothing is stored until it ends)."""
    result = compute_off_loop(meeting)
    students = {
        s.id: s
        for s in db.session.scalars(
            select(Student).where(Student.course_id == meeting.course_id)
        )
    }
    records = [
        _record_json(
            students[r.student_pk],
            status=r.status.value,
            late=r.late,
            left_early=r.left_early,
            attended_seconds=r.attended_seconds,
            attended_percent=r.attended_percent,
            first_join=r.first_join,
            last_leave=r.last_leave,
            sessions=r.sessions,
            matched_by=r.matched_by.value if r.matched_by else None,
            source="auto",
            note=None,
        )
        for r in result.records
    ]
    guests = [
        _guest_json(
            g.pk,
            g.role,
            name=g.name,
            email=g.email,
            attended_seconds=g.attended_seconds,
            first_join=g.first_join,
            last_leave=g.last_leave,
            sessions=g.sessions,
        )
        for g in result.guests
    ]
    return records, guests


def csv_cell(value: Any) -> str:
    """A CSV cell: booleans as true/false, None as empty, formulas defused with a '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def minutes(seconds: int) -> str:
    """seconds / 60 rounded half-up to one decimal (CONTRACT §3)."""
    return str((Decimal(seconds) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def attendance_csv(meeting: Meeting) -> Iterator[str]:
    """The meeting's attendance CSV, line by line (students, then guests).

    The data is read before the first line is handed out, here in the caller's
    request: a failure (a busy database) is then an error answer with its status
    and a log line, not a 500 from the server after the headers were promised.
    """
    records, guests = attendance(meeting)
    return _csv_lines(meeting, records, guests)


def _csv_lines(
    meeting: Meeting, records: list[dict[str, Any]], guests: list[dict[str, Any]]
) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for r in paced(records):
        row = {**r, "attended_minutes": minutes(r["attended_seconds"])}
        writer.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
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
            "attended_minutes": minutes(g["attended_seconds"]),
            "attended_percent": _percent(g["attended_seconds"], meeting),
            "first_join": g["first_join"],
            "last_leave": g["last_leave"],
            "sessions": g["sessions"],
            "matched_by": "",
            "source": "auto",
            "note": "",
        }
        writer.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
        yield flush()
