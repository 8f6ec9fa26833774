"""Admin pages: the webhook event log (with replay) and instructor accounts."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from attendance.errors import Conflict, ValidationFailed
from attendance.extensions import db
from attendance.ingest.applier import apply_ids
from attendance.models import Course, EventStatus, Instructor, WebhookEvent
from attendance.services.accounts import create_instructor
from attendance.web import queries
from attendance.web.access import ID, admin_required, int_arg
from attendance.web.forms import ActionForm, AssignForm, InstructorForm, sentence
from attendance.web.routes import bp

_STATUSES = tuple(s.value for s in EventStatus)


def _filters() -> dict[str, str]:
    """The event log's filters from the query string (unknown values dropped)."""
    status = request.args.get("status", "")
    return {
        "status": status if status in _STATUSES else "",
        "event": request.args.get("event", "")[:100],
    }


@bp.get("/events")
@admin_required
def events():
    """Every webhook, newest first: status, error text, and replay for failures."""
    filters = _filters()
    log = queries.event_log(
        filters["status"] or None, filters["event"] or None, int_arg("page") or 1
    )
    return render_template(
        "events.html",
        log=log,
        filters=filters,
        active={k: v for k, v in filters.items() if v},
        statuses=_STATUSES,
        action=ActionForm(formdata=None),
    )


@bp.post(f"/events/<{ID}:event_id>/replay")
@admin_required
def replay_event(event_id: int):
    """Apply one stored event again and say how it went."""
    back = url_for("web.events", **{k: v for k, v in _filters().items() if v})
    if db.session.get(WebhookEvent, event_id) is None:
        flash(f"There is no event #{event_id}.", "error")
        return redirect(back, 303)
    db.session.rollback()  # apply_ids opens its own write transaction
    outcomes = apply_ids([event_id])
    outcome = outcomes[0] if outcomes else None
    if outcome is None:
        flash(f"Event #{event_id} could not be replayed.", "error")
    elif outcome.status is EventStatus.FAILED:
        flash(f"Event #{event_id} failed again: {outcome.error}", "error")
    else:
        flash(
            f"Event #{event_id} ({outcome.event}) replayed: {outcome.status}.",
            "success",
        )
    return redirect(back, 303)


def _assign_form(formdata=None, people: list[Instructor] | None = None) -> AssignForm:
    form = AssignForm(formdata=formdata)
    form.instructor.choices = [
        (p.id, f"{p.name} ({p.email})" if p.name else p.email)
        for p in (queries.instructors() if people is None else people)
    ]
    form.course.choices = [
        (c.id, f"{c.code} · {c.title}" if c.title else c.code)
        for c in queries.all_courses()
    ]
    return form


def _instructors_page(
    form: InstructorForm | None = None,
    assign: AssignForm | None = None,
    status: int = 200,
):
    people = queries.instructors()
    return render_template(
        "instructors.html",
        people=people,
        form=form or InstructorForm(formdata=None),
        assign=assign or _assign_form(people=people),
        action=ActionForm(formdata=None),
        me=current_user.id,
    ), status


@bp.get("/admin/instructors")
@admin_required
def instructors():
    """Instructors with their courses; create accounts and assign courses."""
    return _instructors_page()


@bp.post("/admin/instructors")
@admin_required
def create_instructor_view():
    """Create an instructor; a taken e-mail is a 409, bad input a 422, both shown inline."""
    form = InstructorForm()
    if not form.validate_on_submit():
        return _instructors_page(form=form, status=422)
    try:
        person = create_instructor(
            form.email.data or "",
            form.name.data or "",
            form.password.data or "",
            admin=bool(form.is_admin.data),
        )
    except Conflict as exc:
        db.session.rollback()
        form.email.errors = [sentence(exc)]
        return _instructors_page(form=form, status=409)
    except ValidationFailed as exc:
        db.session.rollback()
        field = form.password if "password" in str(exc) else form.email
        field.errors = [sentence(exc)]
        return _instructors_page(form=form, status=422)
    db.session.commit()
    flash(f"Created {person.email}. Assign a course below.", "success")
    return redirect(url_for("web.instructors"), 303)


@bp.post("/admin/instructors/assign")
@admin_required
def assign_course():
    """Let an instructor teach a course (seeing it is what teaching gives)."""
    form = _assign_form(request.form)
    if not form.validate_on_submit():
        return _instructors_page(assign=form, status=422)
    person = db.session.get(Instructor, form.instructor.data)
    course = db.session.get(Course, form.course.data)
    if person is None or course is None:  # pragma: no cover - the choices prevent it
        return _instructors_page(assign=form, status=422)
    if course in person.courses:
        flash(f"{person.email} teaches {course.code} already.", "info")
    else:
        person.courses.append(course)
        db.session.commit()
        flash(f"{person.email} now teaches {course.code}.", "success")
    return redirect(url_for("web.instructors"), 303)


@bp.post(f"/admin/instructors/<{ID}:instructor_id>/courses/<{ID}:course_id>/remove")
@admin_required
def unassign_course(instructor_id: int, course_id: int):
    """Stop an instructor teaching a course."""
    person = db.session.get(Instructor, instructor_id)
    course = db.session.get(Course, course_id)
    if person is None or course is None or course not in person.courses:
        flash("That instructor does not teach that course.", "error")
        return _instructors_page(status=404)
    person.courses.remove(course)
    db.session.commit()
    flash(f"{person.email} no longer teaches {course.code}.", "success")
    return redirect(url_for("web.instructors"), 303)
