"""``/api/v1/courses/<id>/links``: a course's remembered keys, each one deletable (§5.7)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from attendance.api import attendance_schemas as a
from attendance.api.blueprint import ID, bp
from attendance.api.courses import COURSE_404, course_or_404
from attendance.api.openapi import endpoint
from attendance.auth import api_login_required
from attendance.extensions import db
from attendance.models.types import iso
from attendance.services.links import RememberedKey, delete_key, remembered_keys


def link_json(key: RememberedKey) -> dict[str, Any]:
    """A remembered key as CONTRACT §3 shapes it."""
    return {
        "id": key.id,
        "student_pk": key.student_pk,
        "kind": key.kind.value,
        "value": key.value,
        # CONTRACT §3 knows manual, email and alias: a key the users sync gave
        # (learned "account" on the page) was learned by the student's e-mail.
        "learned": "email" if key.learned == "account" else key.learned,
        "created_at": iso(key.created_at),
        "meeting_id": key.meeting_id,
    }


@bp.get(f"/courses/<{ID}:course_id>/links")
@api_login_required
@endpoint(
    "links",
    (200, list[a.RememberedKey], "The keys, oldest first."),
    errors=[COURSE_404],
)
def list_links(course_id: int):
    """The keys the course matches later meetings by: learned and remembered ones."""
    course = course_or_404(course_id)
    return jsonify([link_json(key) for key in remembered_keys(course.id)])


@bp.delete(f"/courses/<{ID}:course_id>/links/<{ID}:link_id>")
@api_login_required
@endpoint("links", 204, errors=[(404, "No such course, or no such key of the course.")])
def delete_link(course_id: int, link_id: int):
    """Forget one key; the course's ended meetings that used it are regenerated."""
    course = course_or_404(course_id)
    delete_key(course.id, link_id)
    db.session.commit()
    return "", 204
