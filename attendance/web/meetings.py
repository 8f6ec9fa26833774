"""Meeting pages: the list (live first) and one meeting's attendance report."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from attendance.auth import safe_next
from attendance.core.matching import is_specific_name, normalize_name
from attendance.core.status import STATUSES
from attendance.errors import Conflict
from attendance.extensions import db
from attendance.models import Course
from attendance.services.corrections import meeting_matches
from attendance.services.courses import set_counts, visible_courses
from attendance.services.jobs import recent_runs, wake
from attendance.services.live import participant_counts
from attendance.services.reconciliation import reconcile_blocker, state_json
from attendance.services.reports import attendance
from attendance.services.suggestions import meeting_suggestions
from attendance.services.zoom_jobs import meeting_job, request_reconcile
from attendance.web import queries
from attendance.web.access import ID, int_arg, meeting_or_404, visible_course_ids
from attendance.web.forms import ActionForm, sentence
from attendance.web.routes import bp

#: Guests per page of a meeting report: each one's suggestions are searched for.
GUESTS_PER_PAGE = 20
#: Students per page of a meeting report (the whole roster is 2,000 in a lecture hall).
STUDENTS_PER_PAGE = 100


@bp.get("/meetings")
@login_required
def meetings():
    """Meetings of the caller's courses, live first then newest; filter by course."""
    courses = db.session.scalars(visible_courses(current_user)).all()
    course_id = int_arg("course")
    selected = next((c for c in courses if c.id == course_id), None)
    page = queries.meetings_page(
        visible_course_ids(),
        selected.id if selected else None,
        int_arg("page") or 1,
    )
    return render_template(
        "meetings.html",
        courses=courses,
        selected=selected,
        page=page,
        participants=participant_counts(m for m, _course in page.items),
        action=ActionForm(),
    )


@bp.post(f"/meetings/<{ID}:meeting_id>/counts")
@login_required
def meeting_counts(meeting_id: int):
    """Count an unscheduled meeting in its course's term, or leave it out (§5.9)."""
    meeting = meeting_or_404(meeting_id)
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    counts = request.form.get("counts") == "true"
    try:
        set_counts(meeting, counts)
    except Conflict as exc:
        abort(409, description=sentence(exc))
    db.session.commit()
    flash(
        "Counted in the term figures."
        if counts
        else "Left out of the term figures (still listed here).",
        "success",
    )
    fallback = url_for("web.meetings", course=meeting.course_id)
    return redirect(safe_next(request.form.get("next"), fallback))


@bp.get(f"/meetings/<{ID}:meeting_id>")
@login_required
def meeting(meeting_id: int):
    """A meeting's attendance: records, guests with suggestions, timeline, overrides."""
    meeting = meeting_or_404(meeting_id)
    course = db.session.get(Course, meeting.course_id)
    records, guests = attendance(meeting)
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    rows = queries.page_of(
        [r for r in records if r["status"] == status] if status else records,
        int_arg("page") or 1,
        STUDENTS_PER_PAGE,
    )
    shown = queries.page_of(guests, int_arg("guests") or 1, GUESTS_PER_PAGE)
    # Only the guests shown: each costs a bounded search of the roster.
    suggestions = meeting_suggestions(records, shown.items)
    # The picker's (label, student pk) pairs: plain tuples, as the template
    # reads 2,000 of them at every load.
    students = [
        (f"{r['last_name']}, {r['first_name']} ({r['student_id']})", r["student_pk"])
        for r in sorted(
            records,
            key=lambda r: (r["last_name"].casefold(), r["first_name"].casefold()),
        )
    ]
    # The display names a match with "remember" would keep (specific ones only):
    # the page asks before remembering one.
    name_keys = {
        g["participant_pk"]: normalize_name(g["name"])
        for g in shown.items
        if is_specific_name(g["name"])
    }
    return render_template(
        "meeting.html",
        matches=meeting_matches(meeting),
        name_keys=name_keys,
        meeting=meeting,
        course=course,
        records=records,
        rows=rows,
        status=status,
        guests=shown,
        counts=queries.status_counts(records),
        suggestions=suggestions,
        students=students,
        statuses=STATUSES,
        timeline=queries.timeline(meeting, records),
        ended=meeting.effective_end is not None,
        recon=_reconciliation(meeting, records, guests),
        action=ActionForm(),
    )


#: What the page says when a meeting cannot be reconciled now.
_WHY_NOT = {
    "live": "It can be reconciled once the meeting has ended.",
    "no_credentials": (
        "Its Zoom connection has no API credentials: an administrator can add "
        "them on the Zoom connections page."
    ),
}


def _reconciliation(meeting, records, guests) -> dict:
    """The meeting's reconciliation for its page: state, changes by name, runs."""
    state = state_json(meeting.id)
    names = {r["student_pk"]: f"{r['first_name']} {r['last_name']}" for r in records}
    guest_names = {g["participant_pk"]: g["name"] or "(no name)" for g in guests}
    changes = [
        {
            **c,
            "who": names.get(c.get("student_pk"))
            or guest_names.get(c.get("participant_pk"))
            or "someone no longer listed",
        }
        for c in state["changes"]
    ]
    why_not = _WHY_NOT.get(reconcile_blocker(meeting))
    return {
        "state": state,
        "queued": meeting_job(meeting.id) is not None,
        "changes": changes,
        "runs": recent_runs(meeting_id=meeting.id),
        "can": why_not is None,
        "why_not": why_not,
    }


@bp.post(f"/meetings/<{ID}:meeting_id>/reconcile")
@login_required
def meeting_reconcile(meeting_id: int):
    """ "Reconcile now": queue the meeting's reconciliation and wake the scheduler."""
    meeting = meeting_or_404(meeting_id)
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    try:
        request_reconcile(meeting)
    except Conflict as exc:
        abort(409, description=sentence(exc))
    db.session.commit()
    wake()
    flash(
        "Reconciliation queued: reload in a moment to see what Zoom's report changed.",
        "success",
    )
    return redirect(
        url_for("web.meeting", meeting_id=meeting.id, _anchor="zoom-report-title")
    )
