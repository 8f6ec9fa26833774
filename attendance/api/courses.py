"""``/api/v1/courses``: the caller's courses; creating, deleting and renumbering are for admins."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_login import current_user

from attendance.api import schemas as s
from attendance.api.blueprint import ID, bp
from attendance.api.openapi import endpoint
from attendance.auth import api_login_required
from attendance.errors import ApiError, NotFound
from attendance.extensions import db
from attendance.models import Course, Instructor
from attendance.services import courses
from attendance.services.courses import (
    course_values,
    slot_json,
    visible_course,
    visible_courses,
)

#: The 404 of every call under ``/courses/<id>``.
COURSE_404 = (404, "No such course, or not one of the caller's.")
_COURSE_409 = (409, "The code, or a meeting number, belongs to another course.")


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
        "schedule": [slot_json(slot) for slot in course.slots],
    }


def course_or_404(course_id: int) -> Course:
    """A course the caller may see (the same 404 for "not yours" and "none").

    :raises NotFound: otherwise.
    """
    course = visible_course(current_user, course_id)
    if course is None:
        raise NotFound("no such course")
    return course


def _course_values(body: s.CourseUpdate, *, creating: bool) -> dict[str, Any]:
    """The service's clean values from a validated body (422 on what only it checks)."""
    return course_values(
        body.model_dump(mode="json", exclude_unset=True), creating=creating
    )


@bp.get("/courses")
@api_login_required
@endpoint("courses", (200, list[s.Course], "The courses."))
def list_courses():
    """The caller's courses (every course for an administrator)."""
    found = db.session.scalars(visible_courses(current_user))
    return jsonify([course_json(c) for c in found])


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
@endpoint("courses", (200, s.Course, "The course."), errors=[COURSE_404])
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
        COURSE_404,
        (403, "Only administrators may change a course's meeting numbers."),
        _COURSE_409,
    ],
)
def update_course(course_id: int, json: s.CourseUpdate):
    """Change a course; a new policy, schedule or time zone recomputes its attendance.

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
@endpoint("courses", 204, errors=[COURSE_404], admin=True)
def delete_course(course_id: int):
    """Delete a course and its roster (administrators); its meetings are kept, unlinked."""
    db.session.delete(course_or_404(course_id))
    db.session.commit()
    return "", 204
