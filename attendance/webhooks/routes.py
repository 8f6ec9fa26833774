"""``POST /api/zoom/webhook``, health and live participants (CONTRACT §2).

One straight road: verify the signature over the raw bytes, parse, hand to the
intake (which stores before anything else), answer.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from attendance import jsonbody
from attendance.auth import api_login_required
from attendance.errors import (
    BadPayload,
    InvalidSignature,
    MalformedJSON,
    StorageUnavailable,
)
from attendance.intake import get_intake
from attendance.models.types import utcnow
from attendance.services.event_log import IncomingEvent
from attendance.services.health import health_report
from attendance.services.live import course_of_number, snapshot_for_number, teaches
from attendance.text import is_digits
from attendance.zoom import signature
from attendance.zoom.events import URL_VALIDATION

bp = Blueprint("zoom", __name__, url_prefix="/api/zoom")
log = logging.getLogger("attendance.webhook")


def _error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status


@bp.post("/webhook")
def webhook():
    """Receive one Zoom webhook; 2xx only once the event is durably kept."""
    started = time.perf_counter()
    name, uuid, outcome = "-", "-", "error"
    try:
        response, name, uuid, outcome = _handle()
        return response
    finally:
        log.info(
            "webhook event=%s meeting=%s outcome=%s ms=%.1f",
            _loggable(name),
            _loggable(uuid),
            outcome,
            (time.perf_counter() - started) * 1000,
        )


def _loggable(text: str) -> str:
    """``text`` escaped to one printable line: names and uuids come from outside."""
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")[:120]


def verify_request(body: bytes) -> str:
    """Verify the current request's Zoom signature over ``body``; return the secret used.

    :raises InvalidSignature: on a missing, stale or wrong signature.
    """
    config = current_app.config
    return signature.verify(
        config["ZOOM_WEBHOOK_SECRETS"],
        request.headers.get("x-zm-signature"),
        request.headers.get("x-zm-request-timestamp"),
        body,
        now=time.time(),
        max_skew=config["WEBHOOK_MAX_SKEW_SECONDS"],
    )


def _handle():
    """Do the work of ``webhook``; return (response, event, meeting uuid, outcome)."""
    body = request.get_data(cache=True)  # 413 above MAX_CONTENT_LENGTH, from werkzeug
    try:
        secret = verify_request(body)
    except InvalidSignature as exc:
        return _error(401, "invalid_signature", str(exc)), "-", "-", "401"

    try:
        data = jsonbody.loads(body)
    except MalformedJSON as exc:
        return _error(400, "bad_request", str(exc)), "-", "-", "400"

    if isinstance(data, dict) and data.get("event") == URL_VALIDATION:
        return _url_validation(secret, data)

    try:
        item = IncomingEvent.from_body(body, data)
    except BadPayload as exc:
        return _error(400, "bad_request", str(exc)), "-", "-", "400"
    uuid = item.meeting_uuid or "-"
    try:
        _row_id, status = get_intake(current_app).submit(item)
    except StorageUnavailable as exc:
        # One line, no traceback: in an outage every event lands here, and a
        # traceback each (9 MB in 7 s) halved what the server could answer.
        log.warning("event %s not stored: %s", _loggable(item.event), exc)
        return (
            _error(503, "unavailable", "event could not be stored; retry later"),
            item.event,
            uuid,
            "503",
        )
    return jsonify({"status": status}), item.event, uuid, status


#: Zoom's plain tokens are about 22 URL-safe characters; anything far longer is not one.
PLAIN_TOKEN_MAX = 512


def _is_token(plain: object) -> bool:
    """Whether ``plain`` can be a URL-validation token: text that UTF-8 can encode."""
    if not isinstance(plain, str) or not plain or len(plain) > PLAIN_TOKEN_MAX:
        return False
    try:
        plain.encode("utf-8")  # a lone surrogate cannot be hashed (was a 500)
    except UnicodeEncodeError:
        return False
    return True


def _url_validation(secret: str, data: dict):
    """Answer Zoom's CRC from memory: no database involved, well inside its 3 s."""
    payload = data.get("payload")
    plain = payload.get("plainToken") if isinstance(payload, dict) else None
    if not _is_token(plain):
        return (
            _error(400, "bad_request", "payload.plainToken is missing or malformed"),
            URL_VALIDATION,
            "-",
            "400",
        )
    current_app.extensions["attendance.state"]["last_validation_at"] = utcnow()
    answer = {
        "plainToken": plain,
        "encryptedToken": signature.encrypt_token(secret, plain),
    }
    return jsonify(answer), URL_VALIDATION, "-", "validated"


@bp.get("/health")
def health():
    """Readiness and a summary an operator can act on; no names, emails or secrets."""
    report, status = health_report(current_app)
    return jsonify(report), status


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return _error(400, "bad_request", exc.description or "bad request")


@bp.get("/meeting/<meeting_number>/live-participants")
@api_login_required
def live_participants(meeting_number: str):
    """The live room's snapshot of a meeting number of the caller's courses (else 404)."""
    number = meeting_number.replace(" ", "")
    if not is_digits(number) or not 9 <= len(number) <= 11:
        return _error(404, "not_found", "no such meeting")
    course_id = course_of_number(int(number))
    if not teaches(current_user, course_id):
        return _error(404, "not_found", "no such meeting")
    snapshot = snapshot_for_number(int(number), course_id)
    return jsonify(snapshot)
