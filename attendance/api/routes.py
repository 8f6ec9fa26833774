"""``/api/v1`` calls; errors are ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, stream_with_context
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from attendance.auth import api_login_required
from attendance.errors import (
    Conflict,
    InvalidCredentials,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from attendance.extensions import db
from attendance.models import Course, Instructor, Meeting, Student
from attendance.services import courses
from attendance.services.accounts import authenticate, issue_token
from attendance.services.attendance import (
    match_participant,
    override_status,
    regenerate_course,
)
from attendance.services.course_report import (
    LAYOUTS,
    course_attendance_csv,
    ended_meetings,
    summaries,
)
from attendance.services.courses import (
    COURSE_FIELDS,
    course_values,
    visible_course,
    visible_courses,
    visible_meeting,
)
from attendance.services.live import participant_counts
from attendance.services.reports import attendance, attendance_csv, meeting_json
from attendance.services.roster import RosterFormatError, import_rows, read_csv
from attendance.text import is_digits

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: A roster upload may exceed the app-wide body limit: 8 MiB is ~100,000 rows.
ROSTER_MAX_BYTES = 8 * 1024 * 1024


def error(status: int, code: str, message: str) -> tuple[Any, int]:
    """The API's error shape."""
    return jsonify({"error": {"code": code, "message": message}}), status


def json_object(
    allowed: set[str], required: set[str]
) -> dict[str, Any] | tuple[Any, int]:
    """The request's JSON object, or an error answer (400/422) ready to return."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "bad_request", "the body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        return error(422, "unknown_fields", f"unknown field(s): {', '.join(unknown)}")
    missing = sorted(k for k in required if k not in data)
    if missing:
        return error(422, "missing_fields", f"missing field(s): {', '.join(missing)}")
    return data


@bp.post("/tokens")
def create_token():
    """Exchange an instructor's e-mail and password for an API token (201)."""
    data = json_object({"email", "password", "name"}, {"email", "password"})
    if not isinstance(data, dict):
        return data
    if not all(isinstance(data.get(k, ""), str) for k in ("email", "password", "name")):
        return error(422, "invalid", "email, password and name must be strings")
    try:
        instructor = authenticate(
            data["email"], data["password"], request.remote_addr or "?"
        )
    except RateLimited as exc:
        return error(429, "rate_limited", str(exc))
    except InvalidCredentials as exc:
        return error(401, "invalid_credentials", str(exc))
    token = issue_token(instructor, data.get("name") or "api")
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
def list_courses():
    """The caller's courses."""
    courses = db.session.scalars(visible_courses(current_user))
    return jsonify([course_json(c) for c in courses])


def course_or_404(course_id: int) -> Course:
    """A course the caller may see, else 404 (the same for "not yours" and "none")."""
    course = visible_course(current_user, course_id)
    if course is None:
        abort(404, description="no such course")
    return course


@bp.post("/courses")
@api_login_required
def create_course():
    """Create a course; its creator teaches it."""
    data = json_object(COURSE_FIELDS, {"code"})
    if not isinstance(data, dict):
        return data
    try:
        values = course_values(data, creating=True)
    except ValidationFailed as exc:
        return error(422, "invalid", str(exc))
    try:
        course = courses.create_course(
            values, db.session.get(Instructor, current_user.id)
        )
    except Conflict as exc:
        db.session.rollback()
        return error(409, "conflict", str(exc))
    db.session.commit()
    return jsonify(course_json(course)), 201


@bp.get("/courses/<int:course_id>")
@api_login_required
def get_course(course_id: int):
    return jsonify(course_json(course_or_404(course_id)))


@bp.patch("/courses/<int:course_id>")
@api_login_required
def update_course(course_id: int):
    """Change a course; new numbers link their meetings, a new policy regenerates."""
    course = course_or_404(course_id)
    data = json_object(COURSE_FIELDS, set())
    if not isinstance(data, dict):
        return data
    try:
        values = course_values(data, creating=False)
    except ValidationFailed as exc:
        return error(422, "invalid", str(exc))
    try:
        courses.update_course(course, values)
    except Conflict as exc:
        db.session.rollback()
        return error(409, "conflict", str(exc))
    db.session.commit()
    return jsonify(course_json(course))


@bp.delete("/courses/<int:course_id>")
@api_login_required
def delete_course(course_id: int):
    """Delete a course and its roster; its meetings are kept, unlinked."""
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


@bp.get("/courses/<int:course_id>/students")
@api_login_required
def list_students(course_id: int):
    course = course_or_404(course_id)
    students = db.session.scalars(
        select(Student)
        .where(Student.course_id == course.id)
        .options(selectinload(Student.aliases))
        .order_by(Student.last_name, Student.first_name, Student.student_id)
    )
    return jsonify([student_json(s) for s in students])


@bp.post("/courses/<int:course_id>/students")
@api_login_required
def import_students(course_id: int):
    """Upsert a roster from a JSON list of Students or a ``text/csv`` body."""
    course = course_or_404(course_id)
    request.max_content_length = ROSTER_MAX_BYTES
    if request.mimetype == "text/csv":
        try:
            rows = read_csv(request.get_data())
        except RosterFormatError as exc:
            return error(400, "bad_csv", str(exc))
    else:
        data = request.get_json(silent=True)
        if not isinstance(data, list):
            return error(
                400, "bad_request", "send a JSON list of students, or text/csv"
            )
        rows = []
        allowed = {
            "student_id",
            "first_name",
            "last_name",
            "email",
            "department",
            "aliases",
        }
        for n, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                rows.append((n, {"__error__": "not a JSON object"}))
                continue
            unknown = sorted(set(item) - allowed)
            if unknown:
                return error(
                    422, "unknown_fields", f"item {n}: unknown field(s) {unknown}"
                )
            rows.append((n, item))
    report = import_rows(course, rows)
    regenerate_course(course.id)
    db.session.commit()
    return jsonify(report.as_dict())


@bp.get("/courses/<int:course_id>/attendance")
@api_login_required
def course_attendance(course_id: int):
    """Each student's term so far: counts per status, minutes, rate, last attended."""
    course = course_or_404(course_id)
    return jsonify(
        {
            "course": course_json(course),
            "meetings": [meeting_json(m) for m in ended_meetings(course)],
            "students": [s.as_json() for s in summaries(course)],
        }
    )


@bp.get("/courses/<int:course_id>/attendance.csv")
@api_login_required
def course_attendance_csv_view(course_id: int):
    """The course CSV, streamed: ``?layout=summary`` (default) or ``wide``."""
    course = course_or_404(course_id)
    layout = request.args.get("layout", "summary")
    if layout not in LAYOUTS or set(request.args) - {"layout"}:
        return error(422, "invalid", f"layout must be one of {', '.join(LAYOUTS)}")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", course.code)
    name = f"attendance-{slug}-{layout}.csv"
    return Response(
        stream_with_context(course_attendance_csv(course, layout)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def meeting_or_404(meeting_id: int) -> Meeting:
    """A meeting of one of the caller's courses, else 404."""
    meeting = visible_meeting(current_user, meeting_id)
    if meeting is None:
        abort(404, description="no such meeting")
    return meeting


@bp.get("/meetings")
@api_login_required
def list_meetings():
    """Meetings of the caller's courses, filtered by the query (newest first)."""
    visible = visible_courses(current_user).with_only_columns(Course.id)
    query = select(Meeting).where(Meeting.course_id.in_(visible))
    args = request.args
    unknown = sorted(set(args) - {"course_id", "zoom_meeting_id", "uuid", "status"})
    if unknown:
        return error(400, "bad_request", f"unknown filter(s): {', '.join(unknown)}")
    for key in ("course_id", "zoom_meeting_id"):
        if key in args:
            if not is_digits(args[key]):
                return error(400, "bad_request", f"{key} must be a number")
            query = query.where(getattr(Meeting, key) == int(args[key]))
    if "uuid" in args:
        query = query.where(Meeting.uuid == args["uuid"])
    if "status" in args:
        if args["status"] not in ("live", "ended"):
            return error(400, "bad_request", "status must be live or ended")
        query = query.where(Meeting.status == args["status"])
    meetings = db.session.scalars(
        query.order_by(Meeting.start_time.desc(), Meeting.id.desc())
    ).all()
    counts = participant_counts(meetings)
    return jsonify([meeting_json(m, counts[m.id]) for m in meetings])


@bp.get("/meetings/<int:meeting_id>/attendance")
@api_login_required
def meeting_attendance(meeting_id: int):
    meeting = meeting_or_404(meeting_id)
    records, guests = attendance(meeting)
    count = participant_counts([meeting])[meeting.id]
    return jsonify(
        {"meeting": meeting_json(meeting, count), "records": records, "guests": guests}
    )


@bp.get("/meetings/<int:meeting_id>/attendance.csv")
@api_login_required
def meeting_attendance_csv(meeting_id: int):
    meeting = meeting_or_404(meeting_id)
    name = f"attendance-{meeting.zoom_meeting_id or meeting.id}-{meeting.id}.csv"
    return Response(
        stream_with_context(attendance_csv(meeting)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.patch("/meetings/<int:meeting_id>/attendance/<int:student_pk>")
@api_login_required
def override_attendance(meeting_id: int, student_pk: int):
    """A manual status (and note), kept across every regeneration."""
    meeting = meeting_or_404(meeting_id)
    data = json_object({"status", "note"}, {"status"})
    if not isinstance(data, dict):
        return data
    status, note = data["status"], data.get("note")
    if status is not None and not isinstance(status, str):
        return error(422, "invalid", "status must be a string or null")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        return error(422, "invalid", "note must be a string of at most 2000")
    if meeting.effective_end is None:
        return error(
            409, "live", "the meeting is live: attendance is generated when it ends"
        )
    try:
        override_status(meeting, student_pk, status, note, current_user.email)
    except NotFound as exc:
        return error(404, "not_found", str(exc))
    except ValidationFailed as exc:
        return error(422, "invalid", str(exc))
    db.session.commit()
    records, _guests = attendance(meeting)
    (record,) = [r for r in records if r["student_pk"] == student_pk]
    return jsonify(record)


@bp.post("/meetings/<int:meeting_id>/participants/<int:participant_pk>/match")
@api_login_required
def match_guest(meeting_id: int, participant_pk: int):
    """Assign a guest to a student (``remember``: later meetings match it by themselves)."""
    meeting = meeting_or_404(meeting_id)
    data = json_object({"student_id", "remember"}, {"student_id"})
    if not isinstance(data, dict):
        return data
    student_pk, remember = data["student_id"], data.get("remember", False)
    if isinstance(student_pk, bool) or not isinstance(student_pk, int):
        return error(422, "invalid", "student_id must be the student's id (a number)")
    if not isinstance(remember, bool):
        return error(422, "invalid", "remember must be true or false")
    try:
        match_participant(
            meeting, participant_pk, student_pk, remember, current_user.email
        )
    except NotFound as exc:
        return error(404, "not_found", str(exc))
    db.session.commit()
    records, guests = attendance(meeting)
    record = next((r for r in records if r["student_pk"] == student_pk), None)
    return jsonify({"record": record, "guests": guests})
