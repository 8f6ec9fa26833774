"""A student's page: details, term summary, every meeting of the term, remembered keys."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import login_required

from attendance.services.student_term import (
    course_student,
    remembered_keys,
    student_term,
)
from attendance.web.access import ID, course_or_404
from attendance.web.routes import bp


@bp.get(f"/courses/<{ID}:course_id>/students/<{ID}:student_pk>")
@login_required
def student(course_id: int, student_pk: int):
    """One student of a course: their record in each ended meeting, and how they were matched."""
    course = course_or_404(course_id)
    found = course_student(course, student_pk)
    if found is None:
        abort(404, description="There is no such student in this course.")
    return render_template(
        "student.html",
        course=course,
        student=found,
        term=student_term(course, found),
        keys=remembered_keys(found),
    )
