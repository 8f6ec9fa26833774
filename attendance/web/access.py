"""Who may see which page: course scoping (404) and admin-only pages (403)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, request
from flask_login import current_user, login_required

from attendance.models import Course, Meeting
from attendance.services.courses import (
    visible_course,
    visible_courses,
    visible_meeting,
)
from attendance.text import is_digits

#: The largest id the database stores (32-bit INTEGER primary keys).
MAX_ID = 2**31 - 1
#: A page route's id (``f"/courses/<{ID}:course_id>"``): a larger one matches no
#: route, so it is a 404 instead of an overflow in the database driver (a 500).
ID = f"int(min=1, max={MAX_ID})"


def int_arg(name: str, maximum: int = MAX_ID) -> int | None:
    """A number from the query string; None when absent or not one; 400 when too big.

    :raises werkzeug.exceptions.BadRequest: digits past ``maximum`` (5,000 of them
        made ``int()`` itself raise).
    """
    value = request.args.get(name, "")
    if not is_digits(value):
        return None
    digits = (
        value.lstrip("0") or "0"
    )  # 4,400 zeros then a 1 is still too long for int()
    if len(digits) > len(str(maximum)) or int(digits) > maximum:
        abort(400, description=f"The {name} number is out of range.")
    return int(digits)


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in (else the login page) and an admin (else 403)."""

    @login_required
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403, description="Only an administrator may open this page.")
        return view(*args, **kwargs)

    return wrapped


def course_or_404(course_id: int) -> Course:
    """A course the caller teaches (any for an admin); 404 alike for "not yours" and "none"."""
    course = visible_course(current_user, course_id)
    if course is None:
        abort(404, description="There is no such course, or you do not teach it.")
    return course


def visible_course_ids() -> Any:
    """A subquery of the ids of the caller's courses."""
    return visible_courses(current_user).with_only_columns(Course.id)


def meeting_or_404(meeting_id: int) -> Meeting:
    """A meeting of one of the caller's courses, else 404."""
    meeting = visible_meeting(current_user, meeting_id)
    if meeting is None:
        abort(404, description="There is no such meeting in your courses.")
    return meeting
