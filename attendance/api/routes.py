"""``/api/v1`` calls; errors are raised (``attendance.errors``) and answered by the app.

Each route declares its models with ``endpoint`` (``attendance.api.openapi``):
they validate the request and the answer and are the OpenAPI document.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context
from flask_login import current_user
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.routing import IntegerConverter, Map

from attendance.api import schemas as s
from attendance.api.openapi import document, endpoint, validation_error
from attendance.auth import api_login_required
from attendance.errors import ApiError, NotFound
from attendance.extensions import db
from attendance.models import Course, Instructor, Meeting, Student
from attendance.services import courses
from attendance.services.accounts import authenticate, issue_token
from attendance.services.corrections import match_participant, override_status
from attendance.services.course_report import (
    course_attendance_csv,
    ended_meetings,
    summaries,
)
from attendance.services.courses import (
    course_values,
    visible_course,
    visible_courses,
    visible_meeting,
)
from attendance.services.generation import regenerate_course
from attendance.services.live import participant_counts
from attendance.services.reports import attendance, attendance_csv, meeting_json
from attendance.services.roster import RosterFormatError, import_rows, read_csv


def _numbers_up_to(n: int) -> str:
    """A regex of the decimal numbers 1..n written without leading zeros."""
    digits = str(n)
    parts = [rf"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(map(int, digits)):
        low, rest = (1 if i == 0 else 0), len(digits) - i - 1
        if digit > low:
            span = f"[{low}-{digit - 1}]" if digit - 1 > low else str(low)
            parts.append(digits[:i] + span + (rf"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class IdConverter(IntegerConverter):
    """``<id:name>``: a database id, 1 to ``MAX_ID``.

    The range is in the regex itself: werkzeug's ``int(max=…)`` refuses a large
    value only after the path matched, and then answers 405 for methods other than
    the first rule's; a value the regex does not match is a plain 404.
    """

    regex = _numbers_up_to(s.MAX_ID)

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=s.MAX_ID)


bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.record_once(lambda state: state.app.url_map.converters.setdefault("id", IdConverter))

#: A roster upload may exceed the app-wide body limit: 8 MiB is ~100,000 rows.
ROSTER_MAX_BYTES = 8 * 1024 * 1024
#: A path id (``IdConverter``).
ID = "id"


@bp.get("/openapi.json")
@endpoint("meta", (200, s.OpenApiDocument, "OpenAPI 3.1."), public=True)
def openapi_json():
    """This document (no login needed)."""
    return jsonify(document())


@bp.post("/tokens")
@endpoint(
    "tokens",
    (201, s.Token, "The new token."),
    json=s.TokenRequest,
    errors=[(401, "Wrong e-mail or password."), 429],
    public=True,
)
def create_token(json: s.TokenRequest):
    """Exchange an instructor's e-mail and password for an API token."""
    # RateLimited (429) and InvalidCredentials (401) answer themselves.
    instructor = authenticate(json.email, json.password, request.remote_addr or "?")
    token = issue_token(instructor, json.name or "api")
    db.session.commit()
    return jsonify({"token": token}), 201


def course_json(course: Course) -> dict[str, Any]:
    """A Course as CONTRACT §3 shapes it."""
    return {
        "id": course.id,
        "code": course.code,
        "title": course.title,
        "timezone": course.timezone,
        "zoom_meeting_ids": [str(n.zoom_meeting_id) for n in course.meeting_numbers],
        "policy": {
            "late_after_minutes": course.late_after_minutes,
            "left_early_minutes": course.left_early_minutes,
            "min_attendance_percent": course.min_attendance_percent,
        },
    }


@bp.get("/courses")
@api_login_required
@endpoint("courses", (200, list[s.Course], "The courses."))
def list_courses():
    """The caller's courses (every course for an administrator)."""
    courses = db.session.scalars(visible_courses(current_user))
    return jsonify([course_json(c) for c in courses])


def course_or_404(course_id: int) -> Course:
    """A course the caller may see (the same 404 for "not yours" and "none").

    :raises NotFound: otherwise.
    """
    course = visible_course(current_user, course_id)
    if course is None:
        raise NotFound("no such course")
    return course


_COURSE_404 = (404, "No such course, or not one of the caller's.")
_COURSE_409 = (409, "The code, or a meeting number, belongs to another course.")


def _course_values(body: s.CourseUpdate, *, creating: bool) -> dict[str, Any]:
    """The service's clean values from a validated body (422 on what only it checks)."""
    return course_values(
        body.model_dump(mode="json", exclude_unset=True), creating=creating
    )


@bp.post("/courses")
@endpoint(
    "courses",
    (201, s.Course, "The new course."),
    json=s.CourseCreate,
    errors=[_COURSE_409],
    admin=True,
)
def create_course(json: s.CourseCreate):
    """Create a course (administrators); its creator teaches it."""
    values = _course_values(json, creating=True)
    course = courses.create_course(values, db.session.get(Instructor, current_user.id))
    db.session.commit()
    return jsonify(course_json(course)), 201


@bp.get(f"/courses/<{ID}:course_id>")
@api_login_required
@endpoint("courses", (200, s.Course, "The course."), errors=[_COURSE_404])
def get_course(course_id: int):
    """One course."""
    return jsonify(course_json(course_or_404(course_id)))


@bp.patch(f"/courses/<{ID}:course_id>")
@api_login_required
@endpoint(
    "courses",
    (200, s.Course, "The course."),
    json=s.CourseUpdate,
    errors=[
        _COURSE_404,
        (403, "Only administrators may change a course's meeting numbers."),
        _COURSE_409,
    ],
)
def update_course(course_id: int, json: s.CourseUpdate):
    """Change a course; a new policy recomputes its attendance.

    New meeting numbers link the meetings already received for them, so changing
    ``zoom_meeting_ids`` is for administrators (403 otherwise; sending the
    current numbers again is allowed).
    """
    course = course_or_404(course_id)
    values = _course_values(json, creating=False)
    if "zoom_meeting_ids" in values and not current_user.is_admin:
        current = {n.zoom_meeting_id for n in course.meeting_numbers}
        if set(values["zoom_meeting_ids"]) != current:
            raise ApiError(
                403, "forbidden", "only an administrator may change meeting numbers"
            )
    courses.update_course(course, values)
    db.session.commit()
    return jsonify(course_json(course))


@bp.delete(f"/courses/<{ID}:course_id>")
@endpoint("courses", 204, errors=[_COURSE_404], admin=True)
def delete_course(course_id: int):
    """Delete a course and its roster (administrators); its meetings are kept, unlinked."""
    db.session.delete(course_or_404(course_id))
    db.session.commit()
    return "", 204


def student_json(student: Student) -> dict[str, Any]:
    """A Student as CONTRACT §3 shapes it."""
    return {
        "id": student.id,
        "student_id": student.student_id,
        "first_name": student.first_name,
        "last_name": student.last_name,
        "email": student.email,
        "department": student.department,
        "aliases": [a.value for a in student.aliases],
    }


@bp.get(f"/courses/<{ID}:course_id>/students")
@api_login_required
@endpoint("students", (200, list[s.Student], "The students."), errors=[_COURSE_404])
def list_students(course_id: int):
    """The course's roster."""
    course = course_or_404(course_id)
    students = db.session.scalars(
        select(Student)
        .where(Student.course_id == course.id)
        .options(selectinload(Student.aliases))
        .order_by(Student.last_name, Student.first_name, Student.student_id)
    )
    return jsonify([student_json(student) for student in students])


@bp.url_value_preprocessor
def _roster_body_limit(endpoint: str | None, _values: dict | None) -> None:
    # Set before anything reads the body (it fixes the limit for the request).
    if endpoint == "api.import_students":
        request.max_content_length = ROSTER_MAX_BYTES


_ROSTER_CSV = {
    "schema": {
        "type": "string",
        # Any order of the columns is read, in any case: the pattern names the usual one.
        "pattern": r"^\ufeff?student_id,first_name,last_name,email(,department)?"
        r"(,aliases)?\r?\n",
        "description": "Header student_id,first_name,last_name,email[,department]"
        "[,aliases] (any order); aliases are ';'-separated. A row that breaks a "
        "rule is reported in the answer's errors.",
    },
    "example": "student_id,first_name,last_name,email\r\nS1,Ana,Diaz,ana@uni.edu\r\n",
}


@bp.post(f"/courses/<{ID}:course_id>/students")
@api_login_required
@endpoint(
    "students",
    (200, s.StudentImportResult, "What was imported, and each rejected row."),
    json=s.StudentRows,
    csv_body=_ROSTER_CSV,
    errors=[_COURSE_404, 413],
)
def import_students(course_id: int):
    """Upsert roster rows by student_id, from JSON or a ``text/csv`` body."""
    course = course_or_404(course_id)
    if request.mimetype == "text/csv":
        try:
            rows = read_csv(request.get_data())
        except RosterFormatError as exc:
            raise ApiError(400, "bad_csv", str(exc)) from None
    else:
        try:
            body = s.StudentRows.model_validate(request.get_json())
        except ValidationError as exc:
            raise validation_error(exc, 422) from None
        rows = [
            (n, row.model_dump(exclude_none=True))
            for n, row in enumerate(body.root, start=1)
        ]
    report = import_rows(course, rows)
    regenerate_course(course.id)
    db.session.commit()
    return jsonify(report.as_dict())


@bp.get(f"/courses/<{ID}:course_id>/attendance")
@api_login_required
@endpoint(
    "attendance",
    (200, s.CourseAttendance, "The summary."),
    errors=[_COURSE_404],
)
def course_attendance(course_id: int):
    """Each student's attendance over the course's ended meetings.

    Counts per status, minutes, rate and the date last attended.
    """
    course = course_or_404(course_id)
    return jsonify(
        {
            "course": course_json(course),
            "meetings": [meeting_json(m) for m in ended_meetings(course)],
            "students": [summary.as_json() for summary in summaries(course)],
        }
    )


_CSV_NOTE = (
    "UTF-8, a header row, RFC 4180 quoting; a cell that begins with =, +, -, @, "
    "tab or carriage return is prefixed with '."
)
_SUMMARY_CSV = (
    "student_id,last_name,first_name,email,meetings,present,late,left_early,absent,"
    "excused,attended_minutes,attendance_rate,last_attended\r\n"
)
_MEETING_CSV = (
    "student_id,last_name,first_name,email,status,late,left_early,attended_minutes,"
    "attended_percent,first_join,last_leave,sessions,matched_by,source,note\r\n"
)


@bp.get(f"/courses/<{ID}:course_id>/attendance.csv")
@api_login_required
@endpoint(
    "attendance",
    200,
    query=s.CsvLayout,
    errors=[_COURSE_404],
    csv=(
        "summary: one row per student. wide: student_id,last_name,first_name,email, "
        "then one column per ended meeting (its local start date, YYYY-MM-DD, with "
        "' HH:MM' when two meetings share a date) holding the status. " + _CSV_NOTE,
        _SUMMARY_CSV,
    ),
)
def course_attendance_csv_view(course_id: int, query: s.CsvLayout):
    """The course's attendance as CSV, streamed."""
    course = course_or_404(course_id)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", course.code)
    name = f"attendance-{slug}-{query.layout}.csv"
    return Response(
        stream_with_context(course_attendance_csv(course, query.layout)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def meeting_or_404(meeting_id: int) -> Meeting:
    """A meeting of one of the caller's courses.

    :raises NotFound: otherwise.
    """
    meeting = visible_meeting(current_user, meeting_id)
    if meeting is None:
        raise NotFound("no such meeting")
    return meeting


_MEETING_404 = (404, "No such meeting, or not one of the caller's.")


@bp.get("/meetings")
@api_login_required
@endpoint(
    "meetings",
    (200, list[s.Meeting], "The meetings."),
    query=s.MeetingFilter,
    bad_request=400,
)
def list_meetings(query: s.MeetingFilter):
    """Meetings of the caller's courses, newest first."""
    visible = visible_courses(current_user).with_only_columns(Course.id)
    statement = select(Meeting).where(Meeting.course_id.in_(visible))
    if query.course_id is not None:
        statement = statement.where(Meeting.course_id == query.course_id)
    if query.zoom_meeting_id is not None:
        statement = statement.where(Meeting.zoom_meeting_id == query.zoom_meeting_id)
    if query.uuid is not None:
        statement = statement.where(Meeting.uuid == query.uuid)
    if query.status is not None:
        statement = statement.where(Meeting.status == query.status)
    meetings = db.session.scalars(
        statement.order_by(Meeting.start_time.desc(), Meeting.id.desc())
    ).all()
    counts = participant_counts(meetings)
    return jsonify([meeting_json(m, counts[m.id]) for m in meetings])


@bp.get(f"/meetings/<{ID}:meeting_id>/attendance")
@api_login_required
@endpoint(
    "meetings",
    (200, s.MeetingAttendance, "The attendance."),
    errors=[_MEETING_404],
)
def meeting_attendance(meeting_id: int):
    """A meeting's attendance (computed on the fly while it is live)."""
    meeting = meeting_or_404(meeting_id)
    records, guests = attendance(meeting)
    count = participant_counts([meeting])[meeting.id]
    return jsonify(
        {"meeting": meeting_json(meeting, count), "records": records, "guests": guests}
    )


@bp.get(f"/meetings/<{ID}:meeting_id>/attendance.csv")
@api_login_required
@endpoint(
    "meetings",
    200,
    errors=[_MEETING_404],
    csv=(
        "One row per roster student, then one per guest (empty student_id, the "
        "display name in last_name, status Guest). Times are ISO 8601 UTC. "
        + _CSV_NOTE,
        _MEETING_CSV,
    ),
)
def meeting_attendance_csv(meeting_id: int):
    """A meeting's attendance as CSV."""
    meeting = meeting_or_404(meeting_id)
    name = f"attendance-{meeting.zoom_meeting_id or meeting.id}-{meeting.id}.csv"
    return Response(
        stream_with_context(attendance_csv(meeting)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.patch(f"/meetings/<{ID}:meeting_id>/attendance/<{ID}:student_pk>")
@api_login_required
@endpoint(
    "meetings",
    (200, s.Record, "The student's record."),
    json=s.AttendanceOverride,
    errors=[
        (404, "No such meeting, or the student is not on its roster."),
        (409, "The meeting is still live."),
    ],
)
def override_attendance(meeting_id: int, student_pk: int, json: s.AttendanceOverride):
    """Set (or, with null, drop) a student's manual status and note.

    The manual status is kept across every regeneration.
    """
    meeting = meeting_or_404(meeting_id)
    if meeting.effective_end is None:
        raise ApiError(
            409, "live", "the meeting is live: attendance is generated when it ends"
        )
    override_status(meeting, student_pk, json.status, json.note, current_user.email)
    db.session.commit()
    records, _guests = attendance(meeting)
    (record,) = [r for r in records if r["student_pk"] == student_pk]
    return jsonify(record)


@bp.post(f"/meetings/<{ID}:meeting_id>/participants/<{ID}:participant_pk>/match")
@api_login_required
@endpoint(
    "meetings",
    (200, s.MatchResult, "The student's record and the remaining guests."),
    json=s.GuestMatch,
    errors=[(404, "No such meeting, guest or student.")],
)
def match_guest(meeting_id: int, participant_pk: int, json: s.GuestMatch):
    """Assign a guest to a roster student.

    ``remember``: later meetings of the course match the guest by themselves.
    """
    meeting = meeting_or_404(meeting_id)
    match_participant(
        meeting, participant_pk, json.student_id, json.remember, current_user.email
    )
    db.session.commit()
    records, guests = attendance(meeting)
    record = next((r for r in records if r["student_pk"] == json.student_id), None)
    return jsonify({"record": record, "guests": guests})
