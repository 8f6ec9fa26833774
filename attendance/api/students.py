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
from attendance.services.roster import (
    RosterFormatError,
    find_student,
    import_rows,
    read_csv,
    update_student,
)

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
        "withdrawn_on": student.withdrawn_on.isoformat()
        if student.withdrawn_on
        else None,
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
        r"(,aliases)?(,withdrawn_on)?\r?\n",
        "description": "Header student_id,first_name,last_name,email[,department]"
        "[,aliases][,withdrawn_on] (any order); aliases are ';'-separated; "
        "withdrawn_on is YYYY-MM-DD, empty while enrolled (without the column, "
        "withdrawals stay as they are). A row that breaks a rule is reported in "
        "the answer's errors.",
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
        rows = [(n, _row(row)) for n, row in enumerate(body.root, start=1)]
    report = import_rows(course, rows)
    regenerate_course(course.id)
    db.session.commit()
    return jsonify(report.as_dict())


def _row(row: s.StudentRow) -> dict[str, Any]:
    """A JSON roster row for the import: fields left out or null are not given,
    except ``withdrawn_on``, where null means enrolled (left out: unchanged)."""
    given = row.model_dump(exclude_none=True)
    if "withdrawn_on" in row.model_fields_set:
        given["withdrawn_on"] = row.withdrawn_on
    return given


_STUDENT_404 = (404, "No such course or student, or not one of the caller's.")
_STUDENT_409 = (409, "The student_id is another student's of the course.")


@bp.patch(f"/courses/<{ID}:course_id>/students/<{ID}:student_pk>")
@api_login_required
@endpoint(
    "students",
    (200, s.Student, "The student."),
    json=s.StudentUpdate,
    errors=[_STUDENT_404, _STUDENT_409],
)
def update_student_fields(course_id: int, student_pk: int, json: s.StudentUpdate):
    """Change a student, or withdraw one (CONTRACT §5.8): regenerates ended meetings.

    A withdrawn student is on the roster of the meetings that start, in the
    course's time zone, before ``withdrawn_on``, and of none after.
    """
    course = course_or_404(course_id)
    student = find_student(course, student_pk)
    if update_student(student, json.model_dump(exclude_unset=True)):
        regenerate_course(course.id)
        db.session.commit()
    return jsonify(student_json(student))
