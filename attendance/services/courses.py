"""Courses and their Zoom meeting numbers; linking meeting instances to a course."""

from __future__ import annotations

from sqlalchemy import Select, select, update

from attendance.errors import NotFound, ValidationFailed
from attendance.extensions import db
from attendance.models import (
    Course,
    CourseMeetingNumber,
    Instructor,
    Meeting,
    course_instructors,
)


def find_course(ref: str | int) -> Course:
    """A course by id or by code.

    :raises NotFound: when there is none.
    """
    course = None
    if isinstance(ref, int) or str(ref).isdigit():
        course = db.session.get(Course, int(ref))
    if course is None:
        course = db.session.scalar(select(Course).where(Course.code == str(ref)))
    if course is None:
        raise NotFound(f"no course {ref!r}")
    return course


def course_for_meeting_number(zoom_meeting_id: int | None) -> int | None:
    """The id of the course that owns a Zoom meeting number, if any."""
    if zoom_meeting_id is None:
        return None
    return db.session.scalar(
        select(CourseMeetingNumber.course_id).where(
            CourseMeetingNumber.zoom_meeting_id == zoom_meeting_id
        )
    )


def parse_meeting_number(value: object) -> int:
    """A Zoom meeting number from user input ("847 1263 9219" and numbers accepted).

    :raises ValidationFailed: when it is not 9 to 11 digits.
    """
    text = str(value).replace(" ", "").replace("-", "")
    if not text.isdigit() or not 9 <= len(text) <= 11:
        raise ValidationFailed(f"{value!r} is not a Zoom meeting number (9-11 digits)")
    return int(text)


def set_meeting_numbers(course: Course, numbers: list[int]) -> list[int]:
    """Make ``numbers`` the course's meeting numbers; return the ids of meetings newly linked.

    Instances already received for a newly added number are linked to the course
    (CONTRACT §5.6); the caller regenerates their attendance.

    :raises ValidationFailed: when a number belongs to another course.
    """
    wanted = list(dict.fromkeys(numbers))
    taken = db.session.scalars(
        select(CourseMeetingNumber).where(
            CourseMeetingNumber.zoom_meeting_id.in_(wanted),
            CourseMeetingNumber.course_id != course.id,
        )
    ).all()
    if taken:
        raise ValidationFailed(
            f"meeting number {taken[0].zoom_meeting_id} belongs to another course"
        )
    current = {n.zoom_meeting_id: n for n in course.meeting_numbers}
    for number, row in current.items():
        if number not in wanted:
            course.meeting_numbers.remove(row)
    for number in wanted:
        if number not in current:
            course.meeting_numbers.append(CourseMeetingNumber(zoom_meeting_id=number))
    db.session.flush()
    # Instances of removed numbers leave the course; those of added ones join it.
    db.session.execute(
        update(Meeting)
        .where(Meeting.course_id == course.id, Meeting.zoom_meeting_id.not_in(wanted))
        .values(course_id=None)
    )
    linked = db.session.scalars(
        select(Meeting.id).where(
            Meeting.zoom_meeting_id.in_(wanted),
            (Meeting.course_id.is_(None)) | (Meeting.course_id != course.id),
        )
    ).all()
    if linked:
        db.session.execute(
            update(Meeting).where(Meeting.id.in_(linked)).values(course_id=course.id)
        )
    return list(linked)


def visible_courses(instructor: Instructor) -> Select:
    """A query of the courses ``instructor`` may see: those they teach, all for an admin."""
    query = select(Course).order_by(Course.code)
    if not instructor.is_admin:
        query = query.join(course_instructors).where(
            course_instructors.c.instructor_id == instructor.id
        )
    return query
