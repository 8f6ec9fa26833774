"""Courses and their Zoom meeting numbers; linking meeting instances to a course."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, select, update

from attendance.errors import Conflict, NotFound, ValidationFailed
from attendance.extensions import db
from attendance.models import (
    Course,
    CourseMeetingNumber,
    CourseSlot,
    Instructor,
    Meeting,
    course_instructors,
)
from attendance.services.generation import regenerate_course, regenerate_ended
from attendance.services.reports import meeting_window
from attendance.text import is_digits
from attendance.zoom.meeting_numbers import meeting_number_digits


def find_course(ref: str | int) -> Course:
    """A course by id or by code.

    :raises NotFound: when there is none.
    """
    course = None
    if isinstance(ref, int) or is_digits(str(ref)):
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
    # Forms and the API also take the dashed form: 847-1263-9219.
    digits = meeting_number_digits(str(value).replace("-", ""))
    if digits is None:
        raise ValidationFailed(f"{value!r} is not a Zoom meeting number (9-11 digits)")
    return int(digits)


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


#: A course policy's settings and the range each may take (CONTRACT §3).
POLICY_LIMITS = {
    "late_after_minutes": (0, 600),
    "left_early_minutes": (0, 600),
    "min_attendance_percent": (0, 100),
}
#: The fields of a Course body that may be written.
COURSE_FIELDS = frozenset(
    {"code", "title", "timezone", "zoom_meeting_ids", "policy", "schedule"}
)
#: A schedule slot's length in minutes (CONTRACT §3) and how many slots a week holds.
SLOT_MINUTES = (1, 720)
MAX_SLOTS = 50
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def course_values(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validate a Course body (API JSON or a dashboard form); return the clean values.

    Policy settings come back flat (``late_after_minutes``…), meeting numbers as ints.

    :raises ValidationFailed: naming the first field that is not acceptable (422).
    """
    values: dict[str, Any] = {}
    if "code" in data or creating:
        code = data.get("code")
        if not isinstance(code, str) or not code.strip() or len(code.strip()) > 64:
            raise ValidationFailed("code must be a non-empty string of at most 64")
        values["code"] = code.strip()
    if "title" in data:
        if not isinstance(data["title"], str) or len(data["title"]) > 300:
            raise ValidationFailed("title must be a string of at most 300")
        values["title"] = data["title"].strip()
    if "timezone" in data:
        values["timezone"] = _timezone(data["timezone"])
    if "zoom_meeting_ids" in data:
        values["zoom_meeting_ids"] = _meeting_numbers(data["zoom_meeting_ids"])
    if "policy" in data:
        values.update(_policy(data["policy"]))
    if "schedule" in data:
        values["schedule"] = _schedule(data["schedule"])
    return values


def slot_json(slot: CourseSlot) -> dict[str, Any]:
    """A Slot as CONTRACT §3 shapes it: ``{"weekday", "start": "HH:MM", "minutes"}``."""
    hours, minutes = divmod(slot.start_minute, 60)
    return {
        "weekday": slot.weekday,
        "start": f"{hours:02d}:{minutes:02d}",
        "minutes": slot.minutes,
    }


def _schedule(slots: object) -> list[tuple[int, int, int]]:
    """Slots as (weekday, start minute, minutes), sorted, duplicates dropped."""
    if not isinstance(slots, list) or len(slots) > MAX_SLOTS:
        raise ValidationFailed(f"schedule must be a list (at most {MAX_SLOTS})")
    found = set()
    for n, slot in enumerate(slots):
        if not isinstance(slot, dict) or set(slot) != {"weekday", "start", "minutes"}:
            raise ValidationFailed(f"schedule[{n}] must be {{weekday, start, minutes}}")
        weekday, start, length = slot["weekday"], slot["start"], slot["minutes"]
        if not _whole_in(weekday, 0, 6):
            raise ValidationFailed(f"schedule[{n}].weekday must be 0-6 (Monday 0)")
        match = _HHMM.fullmatch(start) if isinstance(start, str) else None
        if match is None:
            raise ValidationFailed(f"schedule[{n}].start must be HH:MM, 00:00-23:59")
        if not _whole_in(length, *SLOT_MINUTES):
            low, high = SLOT_MINUTES
            raise ValidationFailed(f"schedule[{n}].minutes must be {low}-{high}")
        start_minute = int(match[1]) * 60 + int(match[2])
        found.add((int(weekday), start_minute, int(length)))
    return sorted(found)


def _whole_in(value: object, low: int, high: int) -> bool:
    """Whether ``value`` is a whole number (5 or 5.0, never true) within low-high."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return float(value).is_integer() and low <= value <= high


def course_slots(course: Course) -> list[tuple[int, int, int]]:
    """The course's slots as (weekday, start minute, minutes), sorted."""
    return sorted((s.weekday, s.start_minute, s.minutes) for s in course.slots)


def _set_schedule(course: Course, slots: list[tuple[int, int, int]]) -> bool:
    """Make ``slots`` the course's weekly slots; whether that changed anything."""
    if course_slots(course) == slots:
        return False
    course.slots = [
        CourseSlot(weekday=weekday, start_minute=start, minutes=length)
        for weekday, start, length in slots
    ]
    return True


def _timezone(value: object) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValidationFailed(f"timezone {value!r} is not an IANA time zone") from None
    return value


def _meeting_numbers(ids: object) -> list[int]:
    if not isinstance(ids, list) or len(ids) > 50:
        raise ValidationFailed("zoom_meeting_ids must be a list (at most 50)")
    numbers = [parse_meeting_number(v) for v in ids if not isinstance(v, bool)]
    if len(numbers) != len(ids):
        raise ValidationFailed("zoom_meeting_ids must hold meeting numbers")
    return numbers


def _policy(policy: object) -> dict[str, int | float]:
    if not isinstance(policy, dict) or set(policy) - set(POLICY_LIMITS):
        raise ValidationFailed(f"policy takes {', '.join(POLICY_LIMITS)}")
    values: dict[str, int | float] = {}
    for key, value in policy.items():
        low, high = POLICY_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationFailed(f"policy.{key} must be a number")
        if not low <= value <= high:
            raise ValidationFailed(f"policy.{key} must be within {low}-{high}")
        values[key] = value
    return values


def _apply(course: Course, values: Mapping[str, Any]) -> list[int]:
    """Write validated values to ``course``; return meetings newly linked to it.

    :raises Conflict: when a meeting number belongs to another course.
    """
    for key in ("code", "title", "timezone", *POLICY_LIMITS):
        if key in values:
            setattr(course, key, values[key])
    if "schedule" in values:
        _set_schedule(course, values["schedule"])
    if "zoom_meeting_ids" not in values:
        return []
    try:
        return set_meeting_numbers(course, values["zoom_meeting_ids"])
    except ValidationFailed as exc:
        raise Conflict(str(exc)) from exc


def _check_code_free(code: str, course_id: int | None = None) -> None:
    query = select(Course.id).where(Course.code == code)
    if course_id is not None:
        query = query.where(Course.id != course_id)
    if db.session.scalar(query):
        raise Conflict(f"a course {code} exists already")


def create_course(values: Mapping[str, Any], instructor: Instructor) -> Course:
    """A new course from ``course_values``, taught by its creator (flushes; caller commits).

    Instances already received for its meeting numbers are linked and generated.

    :raises Conflict: when the code or a meeting number is taken (409; roll back).
    """
    _check_code_free(values["code"])
    course = Course(code=values["code"])
    db.session.add(course)
    db.session.flush()
    linked = _apply(course, values)
    course.instructors.append(instructor)
    regenerate_ended(set(linked))
    return course


def update_course(course: Course, values: Mapping[str, Any]) -> None:
    """Change a course (flushes; caller commits); a new policy regenerates its meetings.

    New meeting numbers link (and generate) their instances; a change of policy,
    schedule or time zone (which moves the slots, §5.9) regenerates every ended
    meeting of the course (manual statuses stay).

    :raises Conflict: when the code or a meeting number is taken (409; roll back).
    """
    if "code" in values:
        _check_code_free(values["code"], course.id)
    before = (course.timezone, course_slots(course))
    linked = _apply(course, values)
    db.session.flush()
    moved = before != (course.timezone, course_slots(course))
    if set(values) & set(POLICY_LIMITS) or moved:
        regenerate_course(course.id)
    else:
        regenerate_ended(set(linked))


def set_counts(meeting: Meeting, counts: bool) -> None:
    """Count an unscheduled instance in its course's term figures, or not (§5.9).

    :raises Conflict: when the instance is a scheduled class (it always counts).
    """
    if meeting_window(meeting).scheduled:
        raise Conflict("the meeting is a scheduled class: it always counts")
    meeting.counts_override = counts


def visible_course(instructor: Instructor, course_id: int) -> Course | None:
    """The course if ``instructor`` may see it (None alike for "not yours" and "none")."""
    return db.session.scalar(visible_courses(instructor).where(Course.id == course_id))


def visible_meeting(instructor: Instructor, meeting_id: int) -> Meeting | None:
    """The meeting if it belongs to a course ``instructor`` may see, else None."""
    visible = visible_courses(instructor).with_only_columns(Course.id)
    return db.session.scalar(
        select(Meeting).where(Meeting.id == meeting_id, Meeting.course_id.in_(visible))
    )
