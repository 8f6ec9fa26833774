"""``/api/v1`` calls about people: the caller, and (admins) instructors and who teaches what."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from flask import jsonify
from flask_login import current_user
from sqlalchemy import select

from attendance.api import schemas as s
from attendance.api.blueprint import ID, bp
from attendance.api.courses import course_or_404
from attendance.api.openapi import endpoint
from attendance.auth import api_login_required
from attendance.errors import Conflict, NotFound
from attendance.extensions import db
from attendance.models import Course, Instructor
from attendance.services.accounts import (
    create_instructor,
    delete_instructor,
    update_instructor,
)
from attendance.services.courses import visible_courses


def instructor_json(
    person: Instructor, visible: Collection[int] | None = None
) -> dict[str, Any]:
    """An Instructor; ``visible``: list only these of their courses (None: all)."""
    ids = sorted(c.id for c in person.courses)
    if visible is not None:
        ids = [i for i in ids if i in visible]
    return {
        "id": person.id,
        "email": person.email,
        "name": person.name,
        "is_admin": person.is_admin,
        "course_ids": ids,
    }


def _me() -> Instructor:
    return db.session.get(Instructor, current_user.id)


def _instructor_or_404(instructor_id: int) -> Instructor:
    person = db.session.get(Instructor, instructor_id)
    if person is None:
        raise NotFound("no such instructor")
    return person


@bp.get("/me")
@api_login_required
@endpoint("instructors", (200, s.Instructor, "The caller."))
def me():
    """The caller."""
    return jsonify(instructor_json(_me()))


def _write(action: Callable[[], Any], status: int = 200) -> Any:
    """Run a service call, then commit; a Conflict (409) or ValidationFailed (422) answers."""
    result = action()
    db.session.commit()
    if result is None:
        return "", 204
    return jsonify(result), status


_PEOPLE = (200, list[s.Instructor], "The instructors.")


@bp.get("/instructors")
@endpoint("instructors", _PEOPLE, admin=True)
def list_instructors():
    """Every instructor."""
    people = db.session.scalars(select(Instructor).order_by(Instructor.email))
    return jsonify([instructor_json(p) for p in people])


@bp.post("/instructors")
@endpoint(
    "instructors",
    (201, s.Instructor, "The new instructor."),
    json=s.InstructorCreate,
    errors=[(409, "The e-mail is taken.")],
    admin=True,
)
def add_instructor(json: s.InstructorCreate):
    """Create an instructor account."""
    return _write(
        lambda: instructor_json(
            create_instructor(json.email, json.name, json.password, admin=json.is_admin)
        ),
        201,
    )


@bp.get(f"/instructors/<{ID}:instructor_id>")
@endpoint(
    "instructors", (200, s.Instructor, "The instructor."), errors=[404], admin=True
)
def get_instructor(instructor_id: int):
    """One instructor."""
    return jsonify(instructor_json(_instructor_or_404(instructor_id)))


@bp.patch(f"/instructors/<{ID}:instructor_id>")
@endpoint(
    "instructors",
    (200, s.Instructor, "The instructor."),
    json=s.InstructorUpdate,
    errors=[404, (409, "Administrators cannot remove their own admin rights.")],
    admin=True,
)
def change_instructor(instructor_id: int, json: s.InstructorUpdate):
    """Change an instructor's name, password or role."""
    person = _instructor_or_404(instructor_id)
    if json.is_admin is False and person.id == current_user.id:
        raise Conflict("you cannot remove your own admin rights")

    def change() -> dict[str, Any]:
        update_instructor(
            person, name=json.name, password=json.password, admin=json.is_admin
        )
        return instructor_json(person)

    return _write(change)


@bp.delete(f"/instructors/<{ID}:instructor_id>")
@endpoint(
    "instructors",
    204,
    errors=[404, (409, "Administrators cannot delete themselves.")],
    admin=True,
)
def remove_instructor(instructor_id: int):
    """Delete an instructor account."""
    person = _instructor_or_404(instructor_id)
    return _write(lambda: delete_instructor(_me(), person))


@bp.get(f"/courses/<{ID}:course_id>/instructors")
@api_login_required
@endpoint(
    "courses",
    _PEOPLE,
    errors=[(404, "No such course, or not one of the caller's.")],
)
def course_instructors(course_id: int):
    """Who teaches the course (any of its instructors may ask).

    Each one's ``course_ids`` lists only the courses the caller may see.
    """
    course = course_or_404(course_id)
    visible = (
        None
        if current_user.is_admin
        else set(
            db.session.scalars(
                visible_courses(current_user).with_only_columns(Course.id)
            )
        )
    )
    people = sorted(course.instructors, key=lambda p: p.email)
    return jsonify([instructor_json(p, visible) for p in people])


@bp.post(f"/courses/<{ID}:course_id>/instructors")
@endpoint(
    "courses",
    (201, list[s.Instructor], "The course's instructors."),
    json=s.CourseInstructor,
    errors=[(404, "No such course, or no such instructor.")],
    admin=True,
)
def assign_instructor(course_id: int, json: s.CourseInstructor):
    """Add an instructor to the course (teaching it is what lets them see it)."""
    course = course_or_404(course_id)
    person = db.session.get(Instructor, json.instructor_id)
    if person is None:
        raise NotFound(f"there is no instructor {json.instructor_id}")
    if person not in course.instructors:
        course.instructors.append(person)
    db.session.commit()
    people = sorted(course.instructors, key=lambda p: p.email)
    return jsonify([instructor_json(p) for p in people]), 201


@bp.delete(f"/courses/<{ID}:course_id>/instructors/<{ID}:instructor_id>")
@endpoint(
    "courses",
    204,
    errors=[(404, "No such course, or the instructor does not teach it.")],
    admin=True,
)
def unassign_instructor(course_id: int, instructor_id: int):
    """Remove an instructor from the course."""
    course = course_or_404(course_id)
    person = _instructor_or_404(instructor_id)
    if person not in course.instructors:
        raise NotFound("that instructor does not teach this course")
    course.instructors.remove(person)
    db.session.commit()
    return "", 204
