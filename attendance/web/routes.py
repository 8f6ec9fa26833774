"""The dashboard blueprint: sign-in and sign-out, error pages, template filters."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import HTTPException

from attendance.auth import safe_next
from attendance.errors import InvalidCredentials, RateLimited
from attendance.extensions import db
from attendance.models import Instructor
from attendance.services.accounts import authenticate, sign_out
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
            # A fresh session: nothing issued before sign-in (a CSRF token another
            # page planted or read) is worth anything after it.
            session.clear()
            login_user(instructor, remember=bool(form.remember.data))
            return redirect(safe_next(request.args.get("next"), url_for("web.home")))
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out (a POST with the CSRF token, so no page can sign you out).

    Ends every session and remember-me cookie of the account, not only this
    browser's: a copied cookie must not outlive its owner's sign-out.
    """
    sign_out(db.session.get(Instructor, current_user.id))
    session.clear()
    logout_user()  # after clear(): it marks the remember-me cookie for deletion
    return redirect(url_for("web.login"))
