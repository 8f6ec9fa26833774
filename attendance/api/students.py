"""``/api/v1/courses/<id>/students``: a course's roster, read and upserted (JSON or CSV)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from attendance.api import schemas as s
from attendance.api.blueprint import ID, bp
from attendance.api.courses import COURSE_404, course_or_404
from attendance.api.openapi import endpoint, validation_error
from attendance.auth import api_login_required
from attendance.errors import ApiError
from attendance.extensions import db
from attendance.models import Student
from attendance.services.generation import regenerate_course
from attendance.services.roster import RosterFormatError, import_rows, read_csv

#: A roster upload may exceed the app-wide body limit: 8 MiB is ~100,000 rows.
ROSTER_MAX_BYTES = 8 * 1024 * 1024


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
@endpoint("students", (200, list[s.Student], "The students."), errors=[COURSE_404])
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
    errors=[COURSE_404, 413],
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
