"""API tokens page: the caller's live tokens, issuing one (shown once), revoking."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from attendance.errors import NotFound
from attendance.extensions import db
from attendance.models import Instructor
from attendance.services.accounts import issue_token, live_tokens, revoke_token
from attendance.web.access import ID
from attendance.web.forms import ActionForm, TokenForm
from attendance.web.routes import bp


def _me() -> Instructor:
    return db.session.get(Instructor, current_user.id)


def _page(form: TokenForm, new_token: str | None = None, status: int = 200):
    return render_template(
        "tokens.html",
        tokens=live_tokens(_me()),
        form=form,
        action=ActionForm(formdata=None),
        new_token=new_token,
    ), status


@bp.get("/tokens")
@login_required
def tokens():
    return _page(TokenForm(formdata=None))


@bp.post("/tokens")
@login_required
def create_token():
    """Issue a token and show it once: only its hash is kept."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    token = issue_token(_me(), form.name.data or "")
    db.session.commit()
    # Rendered, not redirected: the value must never sit in a flash cookie.
    return _page(TokenForm(formdata=None), new_token=token)


@bp.post(f"/tokens/<{ID}:token_id>/revoke")
@login_required
def revoke(token_id: int):
    """Revoke one of the caller's tokens (404 for anyone else's)."""
    try:
        revoke_token(_me(), token_id)
    except NotFound:
        flash("That token does not exist or was revoked already.", "error")
        return _page(TokenForm(formdata=None), status=404)
    flash("Token revoked: anything using it is signed out now.", "success")
    return redirect(url_for("web.tokens"), 303)
