"""Course pages: the home list, creating a course, a course's roster, settings and term."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from attendance.core.status import attendance_rate
from attendance.errors import Conflict, ValidationFailed
from attendance.extensions import db
from attendance.models import Course, Instructor
from attendance.services import courses as course_service
from attendance.services.course_report import summaries
from attendance.services.generation import regenerate_course
from attendance.services.live import participant_counts
from attendance.services.roster import (
    REQUIRED_COLUMNS,
    ImportReport,
    RosterFormatError,
    find_student,
    import_rows,
    read_csv,
    update_student,
    withdrawn_count,
)
from attendance.web import queries
from attendance.web.access import ID, course_or_404, int_arg
from attendance.web.forms import (
    CourseCreateForm,
    CourseSettingsForm,
    RosterUploadForm,
    WithdrawalForm,
    sentence,
)
from attendance.web.routes import bp
from attendance.web.schedule_form import ScheduleForm, schedule_form

#: Same limit as the API's roster upload: ~100,000 rows.
ROSTER_MAX_BYTES = 8 * 1024 * 1024
#: Students per page of the course page's summary and roster tables.
STUDENTS_PER_PAGE = 100


@bp.get("/")
@login_required
def home():
    """The caller's courses as cards; admins can create one."""
    return _home(CourseCreateForm() if current_user.is_admin else None)


def _home(form: CourseCreateForm | None, status: int = 200):
    courses = db.session.scalars(course_service.visible_courses(current_user)).all()
    return render_template(
        "home.html", cards=queries.course_cards(courses), form=form
    ), status


@bp.post("/courses")
@login_required
def create_course():
    """Create a course (admins); its creator teaches it."""
    if not current_user.is_admin:
        abort(403, description="Only an administrator may create courses.")
    form = CourseCreateForm()
    if not form.validate_on_submit():
        return _home(form, 422)
    try:
        values = course_service.course_values(form.values(), creating=True)
        course = course_service.create_course(
            values, db.session.get(Instructor, current_user.id)
        )
    except ValidationFailed as exc:
        db.session.rollback()
        form.form_errors.append(sentence(exc))
        return _home(form, _status(exc))
    db.session.commit()
    flash(f"Created {course.code}. Upload its roster next.", "success")
    return redirect(url_for("web.course", course_id=course.id))


def _status(exc: ValidationFailed) -> int:
    """409 for a clash with what exists (a Conflict), else 422."""
    return 409 if isinstance(exc, Conflict) else 422


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _settings_form(course: Course) -> CourseSettingsForm:
    return CourseSettingsForm(
        data={
            "title": course.title,
            "timezone": course.timezone,
            "meeting_numbers": "\n".join(
                str(n.zoom_meeting_id) for n in course.meeting_numbers
            ),
            "late_after_minutes": course.late_after_minutes,
            "left_early_minutes": course.left_early_minutes,
            # 50.0 reads as "50" in the form; 62.5 stays.
            "min_attendance_percent": _plain(course.min_attendance_percent),
        }
    )


def _course_page(
    course: Course,
    *,
    settings: CourseSettingsForm | None = None,
    upload: RosterUploadForm | None = None,
    report: ImportReport | None = None,
    schedule: ScheduleForm | None = None,
    status: int = 200,
):
    chart = queries.course_chart(course)
    totals = queries.term_counts(chart)
    meetings = queries.course_meetings(course)
    # The same page of students, by name, in the summary and the roster tables.
    students = queries.roster_page(course, int_arg("students") or 1, STUDENTS_PER_PAGE)
    return render_template(
        "course.html",
        course=course,
        chart=chart,
        totals=totals,
        rate=attendance_rate(totals),
        summaries=list(summaries(course, only=[s.id for s in students.items])),
        students=students,
        meetings=meetings,
        participants=participant_counts(meetings),
        settings=settings or _settings_form(course),
        schedule=schedule or schedule_form(course),
        upload=upload or RosterUploadForm(formdata=None),
        report=report,
        columns=REQUIRED_COLUMNS,
        withdrawal=WithdrawalForm(formdata=None),
        withdrawn=withdrawn_count(course.id),
        withdrawn_dates={
            s.id: s.withdrawn_on for s in students.items if s.withdrawn_on
        },
    ), status


@bp.get(f"/courses/<{ID}:course_id>")
@login_required
def course(course_id: int):
    """A course: term chart, per-student summary, roster, meetings and settings."""
    return _course_page(course_or_404(course_id))


@bp.post(f"/courses/<{ID}:course_id>/settings")
@login_required
def course_settings(course_id: int):
    """Save title, time zone, meeting numbers and policy; regenerate ended meetings."""
    course = course_or_404(course_id)
    form = CourseSettingsForm()
    if not form.validate_on_submit():
        return _course_page(course, settings=form, status=422)
    body = form.values()
    if not current_user.is_admin:
        # Meeting numbers are the admins' (a number links every past instance
        # of it, guests and all): an instructor's form does not carry them.
        body.pop("zoom_meeting_ids")
    try:
        values = course_service.course_values(body, creating=False)
        course_service.update_course(course, values)
    except ValidationFailed as exc:
        db.session.rollback()
        form.form_errors.append(sentence(exc))
        return _course_page(course, settings=form, status=_status(exc))
    db.session.commit()
    flash("Settings saved. Attendance of past meetings was recomputed.", "success")
    return redirect(url_for("web.course", course_id=course.id, _anchor="settings"))


@bp.post(f"/courses/<{ID}:course_id>/schedule")
@login_required
def course_schedule(course_id: int):
    """Save the weekly class times (§5.9); regenerate ended meetings if they moved.

    The "add" button only gives the form another empty row, saving nothing.
    """
    course = course_or_404(course_id)
    form = ScheduleForm()
    if request.form.get("action") == "add":
        form.slots.append_entry()
        return _course_page(course, schedule=form)
    if not form.validate_on_submit():
        return _course_page(course, schedule=form, status=422)
    try:
        values = course_service.course_values(
            {"schedule": form.values()}, creating=False
        )
        course_service.update_course(course, values)
    except ValidationFailed as exc:
        db.session.rollback()
        form.form_errors.append(sentence(exc))
        return _course_page(course, schedule=form, status=_status(exc))
    db.session.commit()
    flash("Schedule saved. Attendance of past meetings was recomputed.", "success")
    return redirect(url_for("web.course", course_id=course.id, _anchor="schedule"))


@bp.url_value_preprocessor
def _roster_body_limit(endpoint: str | None, _values: dict | None) -> None:
    # A roster may be larger than other requests. Set here, not in the view: URL
    # value preprocessors run before every before_request, and the CSRF check (a
    # before_request) parses the form, which fixes the limit for the request.
    if endpoint == "web.upload_roster":
        request.max_content_length = ROSTER_MAX_BYTES


@bp.post(f"/courses/<{ID}:course_id>/roster")
@login_required
def upload_roster(course_id: int):
    """Upsert the roster from a CSV; show what was created, updated and rejected."""
    course = course_or_404(course_id)
    form = RosterUploadForm()
    if not form.validate_on_submit():
        return _course_page(course, upload=form, status=422)
    try:
        rows = read_csv(form.file.data.read())
    except RosterFormatError as exc:
        form.file.errors = [f"This file cannot be read as a roster: {exc}."]
        return _course_page(course, upload=form, status=400)
    report = import_rows(course, rows)
    regenerate_course(course.id)
    db.session.commit()
    status = 422 if report.errors and not (report.created or report.updated) else 200
    return _course_page(
        course, upload=RosterUploadForm(formdata=None), report=report, status=status
    )


@bp.post(f"/courses/<{ID}:course_id>/students/<{ID}:student_pk>/withdrawal")
@login_required
def withdraw_student(course_id: int, student_pk: int):
    """Set or clear a student's withdrawal date (§5.8); regenerate ended meetings."""
    course = course_or_404(course_id)
    student = find_student(course, student_pk)
    form = WithdrawalForm()
    if not form.validate_on_submit():
        flash("Give the withdrawal date as a date (YYYY-MM-DD).", "error")
        return _course_page(course, status=422)
    withdrawn_on = form.withdrawn_on.data
    if update_student(student, {"withdrawn_on": withdrawn_on}):
        regenerate_course(course.id)
        db.session.commit()
    name = f"{student.first_name} {student.last_name}".strip()
    if withdrawn_on is None:
        flash(f"{name} is enrolled: on the roster of every meeting.", "success")
    else:
        flash(
            f"{name} withdrawn on {withdrawn_on:%d %b %Y}: off the roster of meetings "
            "from that date; earlier attendance is kept.",
            "success",
        )
    return redirect(
        url_for(
            "web.course",
            course_id=course.id,
            students=int_arg("students") or None,
            _anchor="roster",
        )
    )
