"""``POST /api/zoom/webhook[/<key>]`` and ``GET /api/zoom/health``, answered in front of Flask.

Both are hot and need nothing of a dashboard request: no session, no login, no
CSRF, no URL routing, no template. Through Flask's request machinery a webhook
spent more CPU in session and context handling than in its own work, and a
flood of health checks starved the intake on the one event loop. This WSGI
middleware answers them first and hands every other request to the app.

One straight road for a webhook: verify the signature over the raw bytes, parse
(bounded), hand to the intake (which stores before anything else), answer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from attendance import jsonbody
from attendance.errors import (
    AttendanceError,
    BadPayload,
    InvalidSignature,
    MalformedJSON,
    StorageUnavailable,
    error_body,
)
from attendance.http_headers import SECURITY_HEADERS
from attendance.ingest.event_log import IncomingEvent
from attendance.ingest.writer import get_intake
from attendance.models.types import utcnow
from attendance.services.connections import WEBHOOK_PREFIX, connection_cache
from attendance.services.health import health_report
from attendance.zoom import signature
from attendance.zoom.events import URL_VALIDATION

log = logging.getLogger("attendance.webhook")

WEBHOOK_PATH = WEBHOOK_PREFIX.rstrip("/")
#: ``/api/zoom/webhook/<key>``: a Zoom connection's own URL (its secrets only).
CONNECTION_PREFIX = WEBHOOK_PREFIX
#: Longest key looked up; a longer last segment is no connection's (404).
KEY_MAX = 64
HEALTH_PATH = "/api/zoom/health"
#: Zoom's plain tokens are about 22 URL-safe characters; anything far longer is not one.
PLAIN_TOKEN_MAX = 512

StartResponse = Callable[..., Any]
#: (HTTP status, JSON body, event name, meeting uuid, outcome for the log line)
Answer = tuple[int, dict[str, Any], str, str, str]

_REASONS = {
    200: "OK",
    400: "BAD REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT FOUND",
    405: "METHOD NOT ALLOWED",
    413: "REQUEST ENTITY TOO LARGE",
    500: "INTERNAL SERVER ERROR",
    503: "SERVICE UNAVAILABLE",
}


def _loggable(text: str) -> str:
    """``text`` escaped to one printable line: names and uuids come from outside."""
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")[:120]


class ZoomFront:
    """WSGI middleware answering the webhook and health routes without Flask's request cycle."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == WEBHOOK_PATH:
            return self._route(environ, start_response, "POST", self._webhook)
        if path == HEALTH_PATH:
            return self._route(environ, start_response, "GET", self._health)
        if path.startswith(CONNECTION_PREFIX):
            return self._route(environ, start_response, "POST", self._webhook)
        return self.wsgi_app(environ, start_response)

    def _route(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        method: str,
        handler: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
    ) -> list[bytes]:
        allowed = (method, "HEAD") if method == "GET" else (method,)
        if environ.get("REQUEST_METHOD") not in allowed:
            body = error_body("method_not_allowed", f"use {method}")
            return self._answer(
                start_response, 405, body, [("Allow", ", ".join(allowed))]
            )
        try:
            with self.app.app_context():
                status, body = handler(environ)
        except Exception:  # noqa: BLE001 - as the app's own handler: a 500, logged
            log.exception("unhandled error on %s %s", method, environ.get("PATH_INFO"))
            status, body = 500, error_body("internal_error", "internal error")
        if environ.get("REQUEST_METHOD") == "HEAD":
            self._answer(start_response, status, body)
            return []
        return self._answer(start_response, status, body)

    def _answer(
        self,
        start_response: StartResponse,
        status: int,
        body: dict[str, Any],
        extra: list[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            *SECURITY_HEADERS,
            ("Cache-Control", "no-store"),  # as every /api/ answer (app_setup)
            *(extra or []),
        ]
        start_response(f"{status} {_REASONS.get(status, '')}", headers)
        return [data]

    # -- webhook -----------------------------------------------------------------

    def _webhook(self, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Receive one Zoom webhook; 2xx only once the event is durably kept."""
        started = time.perf_counter()
        status, body, name, uuid, outcome = 500, {}, "-", "-", "error"
        try:
            status, body, name, uuid, outcome = self._handle(environ)
            return status, body
        finally:
            log.info(
                "webhook event=%s meeting=%s outcome=%s ms=%.1f",
                _loggable(name),
                _loggable(uuid),
                outcome,
                (time.perf_counter() - started) * 1000,
            )

    def _handle(self, environ: dict[str, Any]) -> Answer:
        config = self.app.config
        path = environ.get("PATH_INFO", "")
        connection_id: int | None = None
        secrets: tuple[str, ...] = config["ZOOM_WEBHOOK_SECRETS"]
        if path != WEBHOOK_PATH:
            # A connection's URL: its secrets, and only its (never the environment's).
            key = path[len(CONNECTION_PREFIX) :]
            try:
                found = (
                    connection_cache(self.app).lookup(key)
                    if key and len(key) <= KEY_MAX and "/" not in key
                    else None
                )
            except StorageUnavailable as exc:  # never read, and the database is down
                return _refused(exc)
            if found is None:
                message = "no Zoom connection has this webhook URL"
                return 404, error_body("not_found", message), "-", "-", "404"
            connection_id, secrets = found.id, found.secrets
        request = Request(environ)
        request.max_content_length = config["MAX_CONTENT_LENGTH"]
        try:
            body = request.get_data(cache=False)
        except HTTPException as exc:  # 413 above the limit, 400 for a broken body
            code = exc.code or 400
            name = (exc.name or "bad request").lower().replace(" ", "_")
            return code, error_body(name, exc.description or ""), "-", "-", str(code)
        except OSError:  # the client went away or never sent its body
            return 400, error_body("bad_request", "body not received"), "-", "-", "400"
        try:
            secret = signature.verify(
                secrets,
                environ.get("HTTP_X_ZM_SIGNATURE"),
                environ.get("HTTP_X_ZM_REQUEST_TIMESTAMP"),
                body,
                now=time.time(),
                max_skew=config["WEBHOOK_MAX_SKEW_SECONDS"],
            )
        except InvalidSignature as exc:
            return _refused(exc)

        try:
            data = jsonbody.loads(body)
        except MalformedJSON as exc:
            return _refused(exc)

        if isinstance(data, dict) and data.get("event") == URL_VALIDATION:
            return self._url_validation(secret, data)

        try:
            item = IncomingEvent.from_body(body, data, connection_id)
        except BadPayload as exc:
            return _refused(exc)
        uuid = item.meeting_uuid or "-"
        try:
            _row_id, status = get_intake(self.app).submit(item)
        except StorageUnavailable as exc:
            # One line, no traceback: in an outage every event lands here, and a
            # traceback each (9 MB in 7 s) halved what the server could answer.
            log.warning("event %s not stored: %s", _loggable(item.event), exc)
            return _refused(exc, item.event, uuid)
        return 200, {"status": status}, item.event, uuid, status

    def _url_validation(self, secret: str, data: dict[str, Any]) -> Answer:
        """Answer Zoom's CRC from memory: no database involved, well inside its 3 s."""
        payload = data.get("payload")
        plain = payload.get("plainToken") if isinstance(payload, dict) else None
        if not _is_token(plain):
            message = "payload.plainToken is missing or malformed"
            return 400, error_body("bad_request", message), URL_VALIDATION, "-", "400"
        self.app.extensions["attendance.state"]["last_validation_at"] = utcnow()
        answer = {
            "plainToken": plain,
            "encryptedToken": signature.encrypt_token(secret, plain),
        }
        return 200, answer, URL_VALIDATION, "-", "validated"

    # -- health ------------------------------------------------------------------

    def _health(self, _environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Readiness and a summary an operator can act on; no names, emails or secrets."""
        report, status = health_report(self.app, get_intake(self.app))
        return status, report


def _refused(exc: AttendanceError, name: str = "-", uuid: str = "-") -> Answer:
    """The answer to one of the app's errors: its status and body, as the app gives them."""
    return exc.status, error_body(exc.code, exc.message), name, uuid, str(exc.status)


def _is_token(plain: object) -> bool:
    """Whether ``plain`` can be a URL-validation token: text that UTF-8 can encode."""
    if not isinstance(plain, str) or not plain or len(plain) > PLAIN_TOKEN_MAX:
        return False
    try:
        plain.encode("utf-8")  # a lone surrogate cannot be hashed (was a 500)
    except UnicodeEncodeError:
        return False
    return True


def install(app: Flask) -> None:
    """Put the front before the app's whole WSGI stack (proxy fix, Socket.IO, Flask)."""
    app.wsgi_app = ZoomFront(app, app.wsgi_app)  # type: ignore[method-assign]
