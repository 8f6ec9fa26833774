"""A course's remembered keys page: what later meetings match by, each one deletable (§5.7)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import select

from attendance.errors import NotFound
from attendance.extensions import db
from attendance.models import Course, Meeting
from attendance.services.links import delete_key, remembered_keys
from attendance.web.access import ID, course_or_404
from attendance.web.forms import ActionForm
from attendance.web.routes import bp

#: How each kind of key reads on the page.
KIND_LABELS = {
    "zoom_user": "Zoom user id",
    "registrant": "Registrant id",
    "email": "E-mail",
    "name": "Display name",
}
#: How each way of learning a key reads on the page.
LEARNED_LABELS = {
    "manual": "Manual match",
    "email": "Matched by e-mail",
    "alias": "Matched by alias",
    "account": "Zoom account user",
}


def _page(course: Course, status: int = 200):
    keys = remembered_keys(course.id)
    meeting_ids = sorted({k.meeting_id for k in keys if k.meeting_id is not None})
    meetings = {
        m.id: m
        for m in db.session.scalars(select(Meeting).where(Meeting.id.in_(meeting_ids)))
    }
    return render_template(
        "links.html",
        course=course,
        keys=sorted(keys, key=lambda k: (k.student_name.casefold(), k.id)),
        meetings=meetings,
        kinds=KIND_LABELS,
        learned=LEARNED_LABELS,
        action=ActionForm(formdata=None),
    ), status


@bp.get(f"/courses/<{ID}:course_id>/links")
@login_required
def course_links(course_id: int):
    """The course's remembered keys, by student, with where each was learned."""
    return _page(course_or_404(course_id))


@bp.post(f"/courses/<{ID}:course_id>/links/<{ID}:link_id>/delete")
@login_required
def delete_course_link(course_id: int, link_id: int):
    """Forget one key; the ended meetings that used it are regenerated."""
    course = course_or_404(course_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired; try again.", "error")
        return _page(course, status=400)
    try:
        delete_key(course.id, link_id)
    except NotFound:
        flash("That key does not exist or was deleted already.", "error")
        return _page(course, status=404)
    db.session.commit()
    flash("Key forgotten. Past meetings that used it were recomputed.", "success")
    return redirect(url_for("web.course_links", course_id=course.id), 303)
