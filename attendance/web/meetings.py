"""Meeting pages: the list (live first) and one meeting's attendance report."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user, login_required

from attendance.extensions import db
from attendance.models import Course
from attendance.services.courses import visible_courses
from attendance.services.live import participant_counts
from attendance.services.reports import attendance
from attendance.services.suggestions import meeting_suggestions
from attendance.text import is_digits
from attendance.web import queries
from attendance.web.access import meeting_or_404, visible_course_ids
from attendance.web.routes import bp


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if is_digits(value) else None


@bp.get("/meetings")
@login_required
def meetings():
    """Meetings of the caller's courses, live first then newest; filter by course."""
    courses = db.session.scalars(visible_courses(current_user)).all()
    course_id = _int_arg("course")
    selected = next((c for c in courses if c.id == course_id), None)
    page = queries.meetings_page(
        visible_course_ids(),
        selected.id if selected else None,
        _int_arg("page") or 1,
    )
    return render_template(
        "meetings.html",
        courses=courses,
        selected=selected,
        page=page,
        participants=participant_counts(m for m, _course in page.items),
    )


@bp.get("/meetings/<int:meeting_id>")
@login_required
def meeting(meeting_id: int):
    """A meeting's attendance: records, guests with suggestions, timeline, overrides."""
    meeting = meeting_or_404(meeting_id)
    course = db.session.get(Course, meeting.course_id)
    records, guests = attendance(meeting)
    suggestions = meeting_suggestions(records, guests)
    students = sorted(
        records, key=lambda r: (r["last_name"].casefold(), r["first_name"].casefold())
    )
    return render_template(
        "meeting.html",
        meeting=meeting,
        course=course,
        records=records,
        guests=guests,
        counts=queries.status_counts(records),
        suggestions=suggestions,
        students=students,
        statuses=queries.STATUSES,
        timeline=queries.timeline(meeting, records),
        ended=meeting.effective_end is not None,
    )
