"""Who is asking: Flask-Login sessions, bearer tokens, and where CSRF applies."""

from __future__ import annotations

from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, request, url_for
from flask_login import current_user

from attendance.extensions import csrf, db, login_manager
from attendance.models import Instructor
from attendance.services.accounts import token_owner
from attendance.text import is_digits

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def bearer_token() -> str | None:
    """The ``Authorization: Bearer …`` token of the current request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a path on this site, else ``fallback`` (no open redirects)."""
    if not target:
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


def api_login_required(view: Any) -> Any:
    """Like ``login_required`` but answers JSON 401 (session or bearer token)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            body = {
                "error": {"code": "unauthorized", "message": "sign in or send a token"}
            }
            return jsonify(body), 401
        return view(*args, **kwargs)

    return wrapped


def init_auth(app: Flask) -> None:
    """Sessions and tokens through Flask-Login; CSRF on every session-authenticated write."""
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str) -> Instructor | None:
        return db.session.get(Instructor, int(user_id)) if is_digits(user_id) else None

    @login_manager.request_loader
    def _from_token(_request: Any) -> Instructor | None:
        token = bearer_token()
        return token_owner(token) if token else None

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        if request.path.startswith("/api/"):
            body = {
                "error": {"code": "unauthorized", "message": "sign in or send a token"}
            }
            return jsonify(body), 401
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
        if bearer_token() or request.path == "/api/v1/tokens" or _exempted(app):
            return
        csrf.protect()


def _exempted(app: Flask) -> bool:
    """Whether the view or its blueprint was marked with ``csrf.exempt`` (Flask-WTF's own lists)."""
    if request.blueprint in csrf._exempt_blueprints:
        return True
    view = app.view_functions.get(request.endpoint or "")
    return (
        view is not None and f"{view.__module__}.{view.__name__}" in csrf._exempt_views
    )
