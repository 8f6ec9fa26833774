"""The live meeting room: the page; its data arrives over Socket.IO (``realtime``)."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user, login_required

from attendance.extensions import db
from attendance.models import Course
from attendance.services.live import course_of_number, latest_instance, teaches
from attendance.web.routes import bp
from attendance.zoom.meeting_numbers import meeting_number_digits


@bp.get("/live/<zoom_meeting_id>")
@login_required
def live(zoom_meeting_id: str):
    """A meeting number's live room (its current or latest instance); 404 if not yours."""
    number = meeting_number_digits(zoom_meeting_id)
    if number is None:
        abort(404, description="That is not a Zoom meeting number.")
    course_id = course_of_number(int(number))
    if not teaches(current_user, course_id):
        abort(404, description="There is no such meeting in your courses.")
    course = db.session.get(Course, course_id) if course_id else None
    meeting = latest_instance(int(number))
    return render_template("live.html", number=number, course=course, meeting=meeting)
