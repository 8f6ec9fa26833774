"""``/api/v1`` calls about people: the caller, their tokens, and (admins) instructors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, jsonify
from flask_login import current_user
from sqlalchemy import select

from attendance.api.routes import bp, course_or_404, error, json_object
from attendance.auth import api_login_required
from attendance.errors import Conflict, NotFound, ValidationFailed
from attendance.extensions import db
from attendance.models import ApiToken, Instructor
from attendance.models.types import iso
from attendance.services.accounts import (
    create_instructor,
    delete_instructor,
    live_tokens,
    revoke_token,
    update_instructor,
)


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in (401 otherwise) and an admin (403 otherwise)."""

    @api_login_required
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            return error(403, "forbidden", "only an administrator may do this")
        return view(*args, **kwargs)

    return wrapped


def instructor_json(person: Instructor) -> dict[str, Any]:
    return {
        "id": person.id,
        "email": person.email,
        "name": person.name,
        "is_admin": person.is_admin,
        "course_ids": sorted(c.id for c in person.courses),
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
    }


def _me() -> Instructor:
    return db.session.get(Instructor, current_user.id)


def _instructor_or_404(instructor_id: int) -> Instructor:
    person = db.session.get(Instructor, instructor_id)
    if person is None:
        abort(404, description="no such instructor")
    return person


@bp.get("/me")
@api_login_required
def me():
    """The caller."""
    return jsonify(instructor_json(_me()))


@bp.get("/tokens")
@api_login_required
def list_tokens():
    """The caller's tokens that still work (never their values)."""
    return jsonify([token_json(t) for t in live_tokens(_me())])


@bp.delete("/tokens/<int:token_id>")
@api_login_required
def delete_token(token_id: int):
    """Revoke one of the caller's tokens."""
    try:
        revoke_token(_me(), token_id)
    except NotFound as exc:
        return error(404, "not_found", str(exc))
    db.session.commit()
    return "", 204


_STRINGS = ("email", "name", "password")


def _instructor_body(allowed: set[str], required: set[str]) -> Any:
    data = json_object(allowed, required)
    if not isinstance(data, dict):
        return data
    for key in _STRINGS:
        if key in data and not isinstance(data[key], str):
            return error(422, "invalid", f"{key} must be a string")
    if "name" in data and len(data["name"]) > 200:
        return error(422, "invalid", "name must be at most 200 characters")
    if "password" in data and len(data["password"]) > 1000:
        return error(422, "invalid", "password must be at most 1000 characters")
    if "is_admin" in data and not isinstance(data["is_admin"], bool):
        return error(422, "invalid", "is_admin must be true or false")
    return data


def _write(action: Callable[[], Any], status: int = 200) -> Any:
    """Run a service call; its errors become 409/422, success commits."""
    try:
        result = action()
    except Conflict as exc:
        db.session.rollback()
        return error(409, "conflict", str(exc))
    except ValidationFailed as exc:
        db.session.rollback()
        return error(422, "invalid", str(exc))
    db.session.commit()
    if result is None:
        return "", 204
    return jsonify(result), status


@bp.get("/instructors")
@admin_required
def list_instructors():
    people = db.session.scalars(select(Instructor).order_by(Instructor.email))
    return jsonify([instructor_json(p) for p in people])


@bp.post("/instructors")
@admin_required
def add_instructor():
    data = _instructor_body(
        {"email", "name", "password", "is_admin"}, {"email", "name", "password"}
    )
    if not isinstance(data, dict):
        return data
    return _write(
        lambda: instructor_json(
            create_instructor(
                data["email"],
                data["name"],
                data["password"],
                admin=data.get("is_admin", False),
            )
        ),
        201,
    )


@bp.get("/instructors/<int:instructor_id>")
@admin_required
def get_instructor(instructor_id: int):
    return jsonify(instructor_json(_instructor_or_404(instructor_id)))


@bp.patch("/instructors/<int:instructor_id>")
@admin_required
def change_instructor(instructor_id: int):
    person = _instructor_or_404(instructor_id)
    data = _instructor_body({"name", "password", "is_admin"}, set())
    if not isinstance(data, dict):
        return data
    if data.get("is_admin") is False and person.id == current_user.id:
        return error(409, "conflict", "you cannot remove your own admin rights")

    def change() -> dict[str, Any]:
        update_instructor(
            person,
            name=data.get("name"),
            password=data.get("password"),
            admin=data.get("is_admin"),
        )
        return instructor_json(person)

    return _write(change)


@bp.delete("/instructors/<int:instructor_id>")
@admin_required
def remove_instructor(instructor_id: int):
    person = _instructor_or_404(instructor_id)
    return _write(lambda: delete_instructor(_me(), person))


@bp.get("/courses/<int:course_id>/instructors")
@api_login_required
def course_instructors(course_id: int):
    """Who teaches the course (any of its instructors may ask)."""
    course = course_or_404(course_id)
    people = sorted(course.instructors, key=lambda p: p.email)
    return jsonify([instructor_json(p) for p in people])


@bp.post("/courses/<int:course_id>/instructors")
@admin_required
def assign_instructor(course_id: int):
    """Add an instructor to the course (teaching it is what lets them see it)."""
    course = course_or_404(course_id)
    data = json_object({"instructor_id"}, {"instructor_id"})
    if not isinstance(data, dict):
        return data
    person_id = data["instructor_id"]
    if isinstance(person_id, bool) or not isinstance(person_id, int):
        return error(422, "invalid", "instructor_id must be a number")
    person = db.session.get(Instructor, person_id)
    if person is None:
        return error(422, "invalid", f"there is no instructor {person_id}")
    if person not in course.instructors:
        course.instructors.append(person)
    db.session.commit()
    people = sorted(course.instructors, key=lambda p: p.email)
    return jsonify([instructor_json(p) for p in people]), 201


@bp.delete("/courses/<int:course_id>/instructors/<int:instructor_id>")
@admin_required
def unassign_instructor(course_id: int, instructor_id: int):
    course = course_or_404(course_id)
    person = _instructor_or_404(instructor_id)
    if person not in course.instructors:
        return error(404, "not_found", "that instructor does not teach this course")
    course.instructors.remove(person)
    db.session.commit()
    return "", 204
