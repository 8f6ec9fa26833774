"""``/api/v1/courses/<id>/attendance``: each student's term over the course's ended meetings."""

from __future__ import annotations

import re

from flask import Response, jsonify, stream_with_context

from attendance.api import attendance_schemas as a
from attendance.api.blueprint import ID, bp
from attendance.api.courses import COURSE_404, course_json, course_or_404
from attendance.api.openapi import endpoint
from attendance.auth import api_login_required
from attendance.services.course_report import (
    SUMMARY_COLUMNS,
    course_attendance_csv,
    ended_meetings,
    summaries,
)
from attendance.services.reports import meeting_json

#: What every CSV answer's description says of its format.
CSV_NOTE = (
    "UTF-8, a header row, RFC 4180 quoting; a cell that begins with =, +, -, @, "
    "tab or carriage return is prefixed with '."
)
_SUMMARY_CSV = ",".join(SUMMARY_COLUMNS) + "\r\n"


@bp.get(f"/courses/<{ID}:course_id>/attendance")
@api_login_required
@endpoint(
    "attendance",
    (200, a.CourseAttendance, "The summary."),
    errors=[COURSE_404],
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


@bp.get(f"/courses/<{ID}:course_id>/attendance.csv")
@api_login_required
@endpoint(
    "attendance",
    200,
    query=a.CsvLayout,
    errors=[COURSE_404],
    csv=(
        "summary: one row per student. wide: student_id,last_name,first_name,email, "
        "then one column per ended meeting (its local start date, YYYY-MM-DD, with "
        "' HH:MM' when two meetings share a date) holding the status. " + CSV_NOTE,
        _SUMMARY_CSV,
    ),
)
def course_attendance_csv_view(course_id: int, query: a.CsvLayout):
    """The course's attendance as CSV, streamed."""
    course = course_or_404(course_id)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", course.code)
    name = f"attendance-{slug}-{query.layout}.csv"
    return Response(
        stream_with_context(course_attendance_csv(course, query.layout)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
