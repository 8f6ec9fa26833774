"""The dashboard blueprint: sign-in and sign-out, error pages, template filters."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import HTTPException

from attendance.auth import safe_next
from attendance.errors import InvalidCredentials, RateLimited
from attendance.services.accounts import authenticate
from attendance.web import filters
from attendance.web.forms import LoginForm

bp = Blueprint("web", __name__)
filters.register(bp)


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(413)
def _error_page(exc: HTTPException):
    """The dashboard's own 4xx pages: what went wrong, and a way back."""
    return render_template("error.html", error=exc), exc.code


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
