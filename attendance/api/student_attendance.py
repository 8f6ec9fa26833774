"""``/api/v1/courses/<id>/students/<pk>/attendance``: one student's term, meeting by meeting."""

from __future__ import annotations

from flask import jsonify

from attendance.api import attendance_schemas as a
from attendance.api.blueprint import ID, bp
from attendance.api.courses import course_or_404
from attendance.api.openapi import endpoint
from attendance.api.students import student_json
from attendance.auth import api_login_required
from attendance.errors import NotFound
from attendance.services.reports import meeting_json
from attendance.services.student_term import course_student, record_json, student_term


@bp.get(f"/courses/<{ID}:course_id>/students/<{ID}:student_pk>/attendance")
@api_login_required
@endpoint(
    "attendance",
    (200, a.StudentAttendance, "The student's term."),
    errors=[(404, "No such course or student, or not one of the caller's.")],
)
def student_attendance(course_id: int, student_pk: int):
    """A student's term: their summary and their record in each ended meeting.

    ``record`` is null in a meeting whose roster they were not on.
    """
    course = course_or_404(course_id)
    student = course_student(course, student_pk)
    if student is None:
        raise NotFound("no such student in this course")
    term = student_term(course, student)
    return jsonify(
        {
            "student": student_json(student),
            "summary": term.summary.as_json(),
            "meetings": [
                {
                    "meeting": meeting_json(meeting),
                    "record": None if record is None else record_json(student, record),
                }
                for meeting, record in term.meetings
            ],
        }
    )
