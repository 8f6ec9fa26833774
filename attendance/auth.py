"""Who is asking: Flask-Login sessions, bearer tokens, and where CSRF applies."""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, jsonify, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from attendance.errors import error_body
from attendance.extensions import csrf, db, login_manager
from attendance.models import Instructor
from attendance.services.accounts import record_token_uses, token_owner
from attendance.text import is_digits

log = logging.getLogger(__name__)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: ``g`` attribute set when a valid bearer token authenticated the request.
_BY_TOKEN = "attendance_authenticated_by_token"  # noqa: S105 - a name
#: Longer ids cannot be database integers (and would overflow them).
_MAX_ID_DIGITS = 18


def bearer_token() -> str | None:
    """The ``Authorization: Bearer …`` token of the current request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticated_by_token() -> bool:
    """Whether a valid bearer token (not a cookie) authenticated the current request."""
    return bool(g.get(_BY_TOKEN))


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a path on this site, else ``fallback`` (no open redirects)."""
    # Control and invisible characters: a CR/LF cannot go into a Location header
    # (werkzeug raises: a 500), and urlsplit silently drops tabs and newlines.
    if not target or not target.isprintable():
        return fallback
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return fallback
    if "\\" in target:
        return fallback
    return target


def _unauthorized_json() -> Any:
    return jsonify(error_body("unauthorized", "sign in or send a token")), 401


def api_login_required(view: Any) -> Any:
    """Like ``login_required`` but answers JSON 401 (session or bearer token)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _unauthorized_json()
        return view(*args, **kwargs)

    return wrapped


def init_auth(app: Flask) -> None:
    """Sessions and tokens through Flask-Login; CSRF on every session-authenticated write."""
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str) -> Instructor | None:
        return _session_user(user_id)

    @login_manager.request_loader
    def _from_token(_request: Any) -> Instructor | None:
        # Consulted only when no session names a user and no remember-me cookie came.
        token = bearer_token()
        owner = token_owner(token) if token else None
        if owner is not None:
            setattr(g, _BY_TOKEN, True)
        return owner

    @app.teardown_request
    def _record_token_uses(_exc: BaseException | None) -> None:
        # After the request, never inside the lookup: a commit there would also
        # commit whatever the request had pending when it first asked who it is.
        try:
            record_token_uses()
        except SQLAlchemyError as exc:  # bookkeeping: never fail a finished request
            db.session.rollback()
            log.warning("a token's last use was not recorded: %s", exc)

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        if request.path.startswith("/api/"):
            return _unauthorized_json()
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))

    # Checked by hand below: Zoom signs its webhooks, and a bearer token is not
    # a cookie a browser sends on its own, so neither can be forged cross-site.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.before_request
    def _csrf() -> None:
        # csrf.protect() itself ignores WTF_CSRF_ENABLED; only its own hook reads it.
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return
        if request.method in _SAFE_METHODS or request.path.startswith("/api/zoom/"):
            return
        if request.path == "/api/v1/tokens":  # credentials in the body, no session
            return
        signed_in = current_user.is_authenticated  # loads the user (and the token)
        # Only a *valid* token: any page can add a junk one beside the cookie.
        if authenticated_by_token():
            return
        # No session to ride on: the API's views answer 401, not a CSRF 400.
        if not signed_in and request.path.startswith("/api/"):
            return
        csrf.protect(apply_exemptions=True)


def _session_user(user_id: str) -> Instructor | None:
    """The instructor a session's ``<id>:<auth_version>`` names, while that version holds.

    Any other shape (the bare ids sessions held before versions) is nobody.
    """
    pk, sep, version = user_id.partition(":")
    if not (sep and is_digits(pk) and is_digits(version)):
        return None
    if len(pk) > _MAX_ID_DIGITS or len(version) > _MAX_ID_DIGITS:
        return None
    instructor = db.session.get(Instructor, int(pk))
    if instructor is None or (instructor.auth_version or 0) != int(version):
        return None
    return instructor
