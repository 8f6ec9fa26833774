"""Sign-in, sign-out and the instructor's home page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from attendance.auth import safe_next
from attendance.errors import InvalidCredentials, RateLimited
from attendance.extensions import db
from attendance.models import Meeting
from attendance.services.accounts import authenticate
from attendance.services.courses import visible_courses
from attendance.web.forms import LoginForm

bp = Blueprint("web", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; 429 after too many failures, 401-worthy errors shown inline."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), url_for("web.home")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            instructor = authenticate(
                form.email.data or "",
                form.password.data or "",
                request.remote_addr or "?",
            )
        except RateLimited as exc:
            flash(str(exc), "error")
            status = 429
        except InvalidCredentials as exc:
            flash(str(exc), "error")
            status = 401
        else:
            login_user(instructor, remember=bool(form.remember.data))
            return redirect(safe_next(request.args.get("next"), url_for("web.home")))
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out (a POST with the CSRF token, so no page can sign you out)."""
    logout_user()
    return redirect(url_for("web.login"))


@bp.get("/")
@login_required
def home():
    """The instructor's courses and their latest meetings."""
    courses = db.session.scalars(visible_courses(current_user)).all()
    ids = [c.id for c in courses]
    meetings = (
        db.session.scalars(
            select(Meeting)
            .where(Meeting.course_id.in_(ids))
            .order_by(Meeting.status.desc(), Meeting.start_time.desc())
            .limit(20)
        ).all()
        if ids
        else []
    )
    return render_template("home.html", courses=courses, meetings=meetings)
