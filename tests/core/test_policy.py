"""Statuses and percentages from attended time and a course policy (CONTRACT §5.5)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from attendance.core.model import Policy
from attendance.core.policy import attended_percent, status_for
from attendance.core.status import Status
from tests.core.builders import t


def sec(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("attended", "duration", "expected"),
    [
        (sec(1800), sec(3600), 50.0),
        (sec(1200), sec(3600), 33.3),
        (sec(2400), sec(3600), 66.7),
        (sec(49), sec(400), 12.3),  # 12.25: half-up, where round() gives 12.2
        (sec(1), sec(2000), 0.1),  # 0.05
        (timedelta(microseconds=999), sec(2000), 0.0),  # 0.04995
        (sec(0), sec(3600), 0.0),
        (sec(3600), sec(3600), 100.0),
        (sec(10), sec(0), 0.0),  # no duration
        (sec(10), sec(-5), 0.0),
    ],
)
def test_attended_percent_rounds_half_up(
    attended: timedelta, duration: timedelta, expected: float
) -> None:
    assert attended_percent(attended, duration) == expected


S, E = t(0), t(60)
FULL = sec(3600)
P, LT, LE, A = Status.PRESENT, Status.LATE, Status.LEFT_EARLY, Status.ABSENT


@pytest.mark.parametrize(
    ("first_join", "last_leave", "attended", "expected"),
    [
        pytest.param(t(0), t(60), FULL, (P, False, False), id="whole-meeting"),
        pytest.param(
            t(10), t(60), sec(3000), (P, False, False), id="late-threshold-at"
        ),
        pytest.param(
            t(10, 1), t(60), sec(2999), (LT, True, False), id="late-threshold-past"
        ),
        pytest.param(t(0), t(50), sec(3000), (P, False, False), id="left-early-at"),
        pytest.param(
            t(0), t(49, 59), sec(2999), (LE, False, True), id="left-early-past"
        ),
        pytest.param(t(15), t(45), sec(1800), (LT, True, True), id="min-percent-at"),
        pytest.param(
            t(15), t(45), sec(1799), (A, True, True), id="min-percent-one-second-below"
        ),
        pytest.param(
            t(20), t(45), sec(1500), (A, True, True), id="absent-flags-still-reported"
        ),
        pytest.param(
            t(0), t(30), sec(1800), (LE, False, True), id="left-early-at-half"
        ),
        pytest.param(None, None, sec(0), (A, False, False), id="no-interval"),
    ],
)
def test_status_for_default_policy(
    first_join: datetime | None,
    last_leave: datetime | None,
    attended: timedelta,
    expected: tuple[Status, bool, bool],
) -> None:
    assert status_for(first_join, last_leave, attended, S, E, Policy()) == expected


@pytest.mark.parametrize(
    ("policy", "first_join", "last_leave", "attended", "expected"),
    [
        pytest.param(
            Policy(0, 0, 0), t(0), t(60), FULL, (P, False, False), id="zero-policy"
        ),
        pytest.param(
            Policy(0, 0, 0), t(0, 1), t(60), sec(1), (LT, True, False), id="zero-late"
        ),
        pytest.param(
            Policy(0, 0, 0), None, None, sec(0), (A, False, False), id="zero-attended"
        ),
        pytest.param(
            Policy(min_attendance_percent=33.3),
            t(0),
            t(60),
            sec(1198.8),
            (P, False, False),
            id="fractional-min-at",
        ),
        pytest.param(
            Policy(min_attendance_percent=33.3),
            t(0),
            t(60),
            sec(1198.799999),
            (A, False, False),
            id="fractional-min-below",
        ),
        pytest.param(
            Policy(late_after_minutes=0.5),
            t(0, 30),
            t(60),
            FULL,
            (P, False, False),
            id="fractional-late-at",
        ),
        pytest.param(
            Policy(late_after_minutes=0.5),
            t(0, 31),
            t(60),
            FULL,
            (LT, True, False),
            id="fractional-late-past",
        ),
        pytest.param(
            Policy(min_attendance_percent=100),
            t(0),
            t(60),
            FULL - sec(1e-6),
            (A, False, False),
            id="hundred-percent-minus-a-microsecond",
        ),
    ],
)
def test_status_for_custom_policy(
    policy: Policy,
    first_join: datetime | None,
    last_leave: datetime | None,
    attended: timedelta,
    expected: tuple[Status, bool, bool],
) -> None:
    assert status_for(first_join, last_leave, attended, S, E, policy) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, E), (S, S), (E, S), (S, None)],
)
def test_status_for_without_duration_is_absent(
    start: datetime | None, end: datetime | None
) -> None:
    assert status_for(t(0), t(60), FULL, start, end, Policy()) == (A, False, False)
