"""Present / Late / Left Early / Absent from attended time and a course policy (§5.5)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from fractions import Fraction

from attendance.core.model import Policy
from attendance.core.status import Status

_MICROSECOND = timedelta(microseconds=1)


def attended_percent(attended: timedelta, duration: timedelta) -> float:
    """Return attended / duration × 100 rounded half-up to one decimal, computed exactly."""
    if duration <= timedelta(0):
        return 0.0
    tenths = _ratio(attended, duration) * 1000  # percent × 10
    return math.floor(tenths + Fraction(1, 2)) / 10


def joined_late(first_join: datetime | None, start: datetime, policy: Policy) -> bool:
    """Whether a first join comes after the policy's grace from the start (§5.5)."""
    return first_join is not None and first_join > start + timedelta(
        minutes=policy.late_after_minutes
    )


def status_for(
    first_join: datetime | None,
    last_leave: datetime | None,
    attended: timedelta,
    start: datetime | None,
    end: datetime | None,
    policy: Policy,
) -> tuple[Status, bool, bool]:
    """Return (status, late, left_early): the flags are reported whatever the status."""
    if start is None or end is None or end <= start:
        return Status.ABSENT, False, False
    late = joined_late(first_join, start, policy)
    left_early = last_leave is not None and last_leave < end - timedelta(
        minutes=policy.left_early_minutes
    )
    minimum = _exact(policy.min_attendance_percent) / 100
    if attended <= timedelta(0) or _ratio(attended, end - start) < minimum:
        status = Status.ABSENT
    elif late:
        status = Status.LATE
    elif left_early:
        status = Status.LEFT_EARLY
    else:
        status = Status.PRESENT
    return status, late, left_early


def _ratio(part: timedelta, whole: timedelta) -> Fraction:
    """Return part / whole exactly (timedeltas are whole microseconds)."""
    return Fraction(part // _MICROSECOND, whole // _MICROSECOND)


def _exact(value: float) -> Fraction:
    """Return the decimal the policy means: 33.3 is 333/10, not the float nearest it."""
    return Fraction(str(value))
