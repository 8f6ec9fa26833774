"""The steps of ``create_app``: extensions, blueprints, error handlers, logging."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions
from werkzeug.middleware.proxy_fix import ProxyFix

from attendance.auth import init_auth
from attendance.database import configure_engine, engine_options, is_unavailable
from attendance.errors import ANSWERED, AttendanceError, error_body
from attendance.extensions import db, migrate, socketio
from attendance.http_headers import SECURITY_HEADERS
from attendance.ingest import writer
from attendance.models.types import render_migration_type
from attendance.realtime import init_realtime

log = logging.getLogger(__name__)


def _configure_logging(app: Flask) -> None:
    level = getattr(logging, app.config["LOG_LEVEL"], logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level
        )
    logging.getLogger("attendance").setLevel(level)


def register_extensions(app: Flask) -> None:
    """Bind db, migrations and Socket.IO; keep per-app state in ``app.extensions``."""
    _configure_logging(app)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
    }
    from attendance import models  # noqa: F401 - register the tables on the metadata

    db.init_app(app)
    configure_engine(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(app.root_path).parent / "migrations"),
        render_item=render_migration_type,
    )
    # Flask-SocketIO keeps the message-queue manager of an earlier init_app in its
    # options and reuses it when the next app has no queue: forget it first.
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        message_queue=app.config["REDIS_URL"],
        # Same-origin only: the dashboard is served by this app.
        cors_allowed_origins=app.config.get("SOCKETIO_ALLOWED_ORIGINS") or None,
        logger=False,
        engineio_logger=False,
    )
    app.extensions["attendance.state"] = {"last_validation_at": None}
    writer.init_app(app)
    init_auth(app)
    init_realtime(app)
    if hops := app.config["TRUSTED_PROXY_HOPS"]:
        # Outermost, around Socket.IO too: every request sees the client's address
        # (the sign-in limit counts per address) and scheme, not the proxy's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_blueprints(app: Flask) -> None:
    """Attach the route blueprints."""
    from attendance.api import bp as api_bp
    from attendance.web import bp as web_bp
    from attendance.webhooks import bp as webhooks_bp
    from attendance.webhooks import front as webhooks_front

    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    # The webhook and health, outermost: they need none of the stack below.
    webhooks_front.install(app)


def register_security_headers(app: Flask) -> None:
    """CSP and the usual hardening headers on every answer."""

    @app.after_request
    def _headers(response):
        headers = response.headers
        for name, value in SECURITY_HEADERS:
            headers.setdefault(name, value)
        if _must_not_be_stored(response):
            headers["Cache-Control"] = "no-store"
        return response


def _must_not_be_stored(response: Response) -> bool:
    """API answers, CSV files and answers to form posts (a new token's page) stay uncached.

    They carry student data and credentials; ``no-store`` also keeps them out of
    shared caches and of the browser's back/forward cache.
    """
    return (
        request.path.startswith("/api/")
        or response.mimetype == "text/csv"
        or request.method not in {"GET", "HEAD", "OPTIONS"}
    )


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _json_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> tuple[Response, int, list[tuple[str, str]]]:
    return jsonify(error_body(code, message)), status, headers or []


def _answer(exc: AttendanceError) -> Any:
    """An error of ``attendance.errors``: its body under ``/api``, its status's page elsewhere."""
    # Nothing of a request that fails is kept (a Conflict leaves a failed flush).
    db.session.rollback()
    if _wants_json():
        return _json_error(exc.status, exc.code, exc.message)
    page = default_exceptions.get(exc.status, InternalServerError)
    return current_app.handle_http_exception(page(exc.message))


def register_errorhandlers(app: Flask) -> None:
    """JSON errors under ``/api``: ``{"error": {"code", "message"}}``, never a traceback.

    Views raise: one handler per error class of ``attendance.errors``, werkzeug's
    HTTP errors, and anything else as a 500 (a 503 when the database is busy).
    Pages keep their HTML error pages.
    """
    for error_class in ANSWERED:
        app.register_error_handler(error_class, _answer)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _wants_json():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        # Keep the exception's own headers (a 405's Allow, RFC 9110), not its HTML type.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return _json_error(exc.code or 500, code, exc.description or exc.name, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if is_unavailable(exc):
            # The database is down, locked or full: "try again", in one log line.
            log.warning(
                "database unavailable on %s %s: %s",
                request.method,
                request.path,
                str(exc).splitlines()[0] if str(exc) else exc,
            )
            db.session.rollback()
            if not _wants_json():
                return "Service Unavailable: the database is busy; retry shortly.", 503
            return _json_error(503, "unavailable", "database busy; retry")
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            return "Internal Server Error", 500
        return _json_error(500, "internal_error", "internal error")
