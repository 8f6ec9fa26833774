"""``/api/zoom`` routes served by Flask: the live participants of a meeting (CONTRACT §2).

``POST /api/zoom/webhook`` and ``GET /api/zoom/health`` are answered in front of
Flask, by ``attendance.webhooks.front``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from attendance.auth import api_login_required
from attendance.errors import NotFound
from attendance.services.live import course_of_number, snapshot_for_number, teaches
from attendance.zoom.meeting_numbers import meeting_number_digits

bp = Blueprint("zoom", __name__, url_prefix="/api/zoom")


@bp.get("/meeting/<meeting_number>/live-participants")
@api_login_required
def live_participants(meeting_number: str):
    """The live room's snapshot of a meeting number of the caller's courses (else 404)."""
    number = meeting_number_digits(meeting_number)
    if number is None:
        raise NotFound("no such meeting")
    course_id = course_of_number(int(number))
    if not teaches(current_user, course_id):
        raise NotFound("no such meeting")
    snapshot = snapshot_for_number(int(number), course_id)
    return jsonify(snapshot)
