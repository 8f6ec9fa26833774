"""Who is on a meeting's roster once students withdraw (CONTRACT §5.8)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from attendance.core.enrollment import enrolled_on, withdrawn_from
from attendance.core.model import Student

NEW_YORK = ZoneInfo("America/New_York")  # UTC-5 in winter, UTC-4 in summer
TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9

#: Tuesday 3 March 2026, 23:30 in New York: already Wednesday 04:30 in UTC.
LATE_EVENING = datetime(2026, 3, 4, 4, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("withdrawn_on", "start", "zone", "enrolled"),
    [
        # not withdrawn: every meeting
        (None, LATE_EVENING, NEW_YORK, True),
        # withdrawn on the meeting's local date: not on its roster
        (date(2026, 3, 3), LATE_EVENING, NEW_YORK, False),
        # withdrawn the day after the meeting (locally): still on it
        (date(2026, 3, 4), LATE_EVENING, NEW_YORK, True),
        # withdrawn the day before: off it
        (date(2026, 3, 2), LATE_EVENING, NEW_YORK, False),
        # the same instant in a course in UTC: it is Wednesday there
        (date(2026, 3, 4), LATE_EVENING, UTC, False),
        (date(2026, 3, 5), LATE_EVENING, UTC, True),
        # a course in UTC, a meeting at the first and the last moment of a day
        (date(2026, 3, 10), datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC), UTC, True),
        (date(2026, 3, 10), datetime(2026, 3, 10, 0, 0, tzinfo=UTC), UTC, False),
        # east of UTC: 20:00 UTC on the 9th is 05:00 on the 10th in Tokyo
        (date(2026, 3, 10), datetime(2026, 3, 9, 20, 0, tzinfo=UTC), TOKYO, False),
        (date(2026, 3, 10), datetime(2026, 3, 9, 14, 59, tzinfo=UTC), TOKYO, True),
        # summer time in New York (UTC-4): 03:59 UTC on 1 July is 23:59 on 30 June
        (date(2026, 7, 1), datetime(2026, 7, 1, 3, 59, tzinfo=UTC), NEW_YORK, True),
        (date(2026, 7, 1), datetime(2026, 7, 1, 4, 0, tzinfo=UTC), NEW_YORK, False),
    ],
)
def test_enrolled_on_compares_the_meetings_local_start_date(
    withdrawn_on: date | None, start: datetime, zone: ZoneInfo, enrolled: bool
) -> None:
    assert enrolled_on(withdrawn_on, start, zone) is enrolled


def _student(pk: int, withdrawn_on: date | None = None) -> Student:
    return Student(pk, f"S{pk}", "First", f"Last{pk}", withdrawn_on=withdrawn_on)


def test_withdrawn_from_names_those_off_the_meetings_roster() -> None:
    roster = [
        _student(1),
        _student(2, date(2026, 3, 3)),  # that very evening, locally: off
        _student(3, date(2026, 3, 4)),  # the next day: still on
        _student(4, date(2026, 1, 1)),  # long gone
    ]
    assert withdrawn_from(roster, LATE_EVENING, NEW_YORK) == {2, 4}
    assert withdrawn_from(roster, LATE_EVENING, UTC) == {2, 3, 4}
    assert withdrawn_from(roster[:1], LATE_EVENING, UTC) == frozenset()
