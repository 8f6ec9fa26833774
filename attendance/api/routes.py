"""``/api/v1`` calls; errors are ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user

from attendance.auth import api_login_required
from attendance.errors import InvalidCredentials, RateLimited
from attendance.extensions import db
from attendance.models import Course
from attendance.services.accounts import authenticate, issue_token
from attendance.services.courses import visible_courses

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error(status: int, code: str, message: str) -> tuple[Any, int]:
    """The API's error shape."""
    return jsonify({"error": {"code": code, "message": message}}), status


def json_object(
    allowed: set[str], required: set[str]
) -> dict[str, Any] | tuple[Any, int]:
    """The request's JSON object, or an error answer (400/422) ready to return."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "bad_request", "the body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        return error(422, "unknown_fields", f"unknown field(s): {', '.join(unknown)}")
    missing = sorted(k for k in required if k not in data)
    if missing:
        return error(422, "missing_fields", f"missing field(s): {', '.join(missing)}")
    return data


@bp.post("/tokens")
def create_token():
    """Exchange an instructor's e-mail and password for an API token (201)."""
    data = json_object({"email", "password", "name"}, {"email", "password"})
    if not isinstance(data, dict):
        return data
    if not all(isinstance(data.get(k, ""), str) for k in ("email", "password", "name")):
        return error(422, "invalid", "email, password and name must be strings")
    try:
        instructor = authenticate(
            data["email"], data["password"], request.remote_addr or "?"
        )
    except RateLimited as exc:
        return error(429, "rate_limited", str(exc))
    except InvalidCredentials as exc:
        return error(401, "invalid_credentials", str(exc))
    token = issue_token(instructor, data.get("name") or "api")
    db.session.commit()
    return jsonify({"token": token}), 201


def course_json(course: Course) -> dict[str, Any]:
    """A Course as CONTRACT §3 shapes it."""
    return {
        "id": course.id,
        "code": course.code,
        "title": course.title,
        "timezone": course.timezone,
        "zoom_meeting_ids": [str(n.zoom_meeting_id) for n in course.meeting_numbers],
        "policy": {
            "late_after_minutes": course.late_after_minutes,
            "left_early_minutes": course.left_early_minutes,
            "min_attendance_percent": course.min_attendance_percent,
        },
    }


@bp.get("/courses")
@api_login_required
def list_courses():
    """The caller's courses."""
    courses = db.session.scalars(visible_courses(current_user))
    return jsonify([course_json(c) for c in courses])
