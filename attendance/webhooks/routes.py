"""``/api/zoom`` routes served by Flask: the live participants of a meeting (CONTRACT §2).

``POST /api/zoom/webhook`` and ``GET /api/zoom/health`` are answered in front of
Flask, by ``attendance.webhooks.front``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from attendance.auth import api_login_required
from attendance.services.live import course_of_number, snapshot_for_number, teaches
from attendance.zoom.meeting_numbers import meeting_number_digits

bp = Blueprint("zoom", __name__, url_prefix="/api/zoom")


def _error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return _error(400, "bad_request", exc.description or "bad request")


@bp.get("/meeting/<meeting_number>/live-participants")
@api_login_required
def live_participants(meeting_number: str):
    """The live room's snapshot of a meeting number of the caller's courses (else 404)."""
    number = meeting_number_digits(meeting_number)
    if number is None:
        return _error(404, "not_found", "no such meeting")
    course_id = course_of_number(int(number))
    if not teaches(current_user, course_id):
        return _error(404, "not_found", "no such meeting")
    snapshot = snapshot_for_number(int(number), course_id)
    return jsonify(snapshot)
