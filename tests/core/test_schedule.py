"""The class schedule (CONTRACT §5.9): which slot an instance is, and [S', E']."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attendance.core.compute import compute_meeting
from attendance.core.model import (
    Connection,
    MeetingFacts,
    MeetingResult,
    Policy,
)
from attendance.core.schedule import Schedule, Slot, Window, classify, slot_start
from attendance.core.status import Status
from tests.core.builders import conn, stay, student, t
from tests.core.test_properties import (
    LINKS,
    ROSTER,
    Delivery,
    Identity,
    fold,
    meetings,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = Slot(weekday=0, start_minute=9 * 60, minutes=90)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ny(slots: Sequence[Slot] = (MONDAY_9,)) -> Schedule:
    return Schedule(tuple(slots), NEW_YORK)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # 2024-03-04, the Monday before the March change: 09:00 EST is 14:00 UTC.
        (utc(2024, 3, 4, 13, 0), utc(2024, 3, 4, 15, 0), (True, (14, 0), (15, 0))),
        (utc(2024, 3, 4, 12, 59), utc(2024, 3, 4, 15, 0), (False, (12, 59), (15, 0))),
        (utc(2024, 3, 4, 14, 5), utc(2024, 3, 4, 16, 0), (True, (14, 5), (15, 30))),
        # It started at the slot's very end: S' = E', so it is no class.
        (utc(2024, 3, 4, 15, 30), utc(2024, 3, 4, 16, 0), (False, (15, 30), (16, 0))),
        (utc(2024, 3, 4, 15, 29), utc(2024, 3, 4, 16, 0), (True, (15, 29), (15, 30))),
        # Opened early and closed before the slot began (or as it began).
        (utc(2024, 3, 4, 13, 10), utc(2024, 3, 4, 13, 50), (False, (13, 10), (13, 50))),
        (utc(2024, 3, 4, 13, 10), utc(2024, 3, 4, 14, 0), (False, (13, 10), (14, 0))),
        (utc(2024, 3, 4, 13, 10), utc(2024, 3, 4, 14, 1), (True, (14, 0), (14, 1))),
        # 2024-03-11, the Monday after: the same 09:00 is 13:00 UTC (EDT).
        (utc(2024, 3, 11, 12, 0), utc(2024, 3, 11, 15, 0), (True, (13, 0), (14, 30))),
        (utc(2024, 3, 11, 11, 59), utc(2024, 3, 11, 15, 0), (False, (11, 59), (15, 0))),
        # The Tuesday: no slot.
        (utc(2024, 3, 12, 13, 0), utc(2024, 3, 12, 14, 0), (False, (13, 0), (14, 0))),
    ],
)
def test_classify_slot_boundaries_and_daylight_saving(
    start: datetime,
    end: datetime,
    expected: tuple[bool, tuple[int, int], tuple[int, int]],
) -> None:
    scheduled, (sh, sm), (eh, em) = expected
    window = classify(start, end, ny())
    assert window.scheduled is scheduled
    assert window.start == start.replace(hour=sh, minute=sm)
    assert window.end == end.replace(hour=eh, minute=em)


def test_slot_start_same_local_time_different_utc_across_the_change() -> None:
    before = slot_start(MONDAY_9, datetime(2024, 3, 4).date(), NEW_YORK)
    after = slot_start(MONDAY_9, datetime(2024, 3, 11).date(), NEW_YORK)
    assert (before, after) == (utc(2024, 3, 4, 14), utc(2024, 3, 11, 13))
    assert before.astimezone(NEW_YORK).time() == after.astimezone(NEW_YORK).time()


@pytest.mark.parametrize(
    ("slot", "start", "end", "expected"),
    [
        # Monday 23:30 Berlin (CET, UTC+1) for two hours: it ends Tuesday 01:30.
        # Opened Tuesday 00:15 local: the class of Monday's slot.
        (
            Slot(0, 23 * 60 + 30, 120),
            utc(2024, 1, 15, 23, 15),
            utc(2024, 1, 16, 1, 0),
            (True, utc(2024, 1, 15, 23, 15), utc(2024, 1, 16, 0, 30)),
        ),
        # Tuesday 00:20 local for an hour; opened Monday 23:30 local (50 min early).
        (
            Slot(1, 20, 60),
            utc(2024, 1, 15, 22, 30),
            utc(2024, 1, 16, 0, 0),
            (True, utc(2024, 1, 15, 23, 20), utc(2024, 1, 16, 0, 0)),
        ),
        # The same, opened Monday 23:19 local: 61 minutes early.
        (
            Slot(1, 20, 60),
            utc(2024, 1, 15, 22, 19),
            utc(2024, 1, 16, 0, 0),
            (False, utc(2024, 1, 15, 22, 19), utc(2024, 1, 16, 0, 0)),
        ),
    ],
)
def test_classify_slot_across_local_midnight(
    slot: Slot,
    start: datetime,
    end: datetime,
    expected: tuple[bool, datetime, datetime],
) -> None:
    window = classify(start, end, Schedule((slot,), BERLIN))
    assert (window.scheduled, window.start, window.end) == expected


def test_classify_without_slots_is_every_instance_over_s_and_e() -> None:
    start, end = utc(2024, 3, 4, 3), utc(2024, 3, 4, 4)
    expected = Window(scheduled=True, start=start, end=end)
    assert classify(start, end, None) == expected
    assert classify(start, end, Schedule((), NEW_YORK)) == expected


def test_classify_live_instance_keeps_the_slot_end_as_limit() -> None:
    window = classify(utc(2024, 3, 4, 13, 30), None, ny())
    assert window == Window(True, utc(2024, 3, 4, 14), None, utc(2024, 3, 4, 15, 30))


def test_classify_prefers_the_slot_it_covers_most() -> None:
    early, late = Slot(0, 9 * 60, 60), Slot(0, 10 * 60, 60)
    # 09:55 EST (14:55 UTC) to 11:00: five minutes of the first, all of the second.
    window = classify(utc(2024, 3, 4, 14, 55), utc(2024, 3, 4, 16), ny([early, late]))
    assert (window.start, window.end) == (utc(2024, 3, 4, 15), utc(2024, 3, 4, 16))


# ------------------------------------------------------- the core uses [S', E']

ANA = student(1, "Ana", "Díaz", "ana@uni.edu")
# T0 (tests.core.builders) is Monday 2024-03-04 15:00 UTC.
AT_T0 = Schedule((Slot(0, 15 * 60, 60),), ZoneInfo("UTC"))


def _ana(facts: MeetingFacts, *events_: tuple[float, float]) -> MeetingResult:
    connections = [
        conn(f"u{i}", *stay(a, b), name="Ana Díaz", email="ana@uni.edu", pk=i)
        for i, (a, b) in enumerate(events_, start=1)
    ]
    return compute_meeting(facts, connections, [ANA], [], Policy(), t(200))


def test_compute_judges_late_and_left_early_against_the_window() -> None:
    # The host opened ten minutes early and closed ten minutes late; Ana came at
    # 5 after the slot's start and left at 55: Present over [S', E'].
    facts = MeetingFacts(started_at=t(-10), ended_at=t(70), schedule=AT_T0)
    (record,) = _ana(facts, (5, 55)).records
    assert (record.status, record.late, record.left_early) == (
        Status.PRESENT,
        False,
        False,
    )
    assert record.attended_percent == 83.3
    # Without the schedule: late against S, and left early against E.
    (plain,) = _ana(replace(facts, schedule=None), (5, 55)).records
    assert (plain.status, plain.late, plain.left_early) == (Status.LATE, True, True)


def test_compute_clips_intervals_to_the_window() -> None:
    facts = MeetingFacts(started_at=t(-30), ended_at=t(90), schedule=AT_T0)
    result = _ana(facts, (-30, 90))
    (record,) = result.records
    assert (record.first_join, record.last_leave) == (t(0), t(60))
    assert record.attended_seconds == 3600 and record.attended_percent == 100.0
    assert result.window == Window(True, t(0), t(60))
    assert (result.start, result.end) == (t(-30), t(90))


def test_compute_unscheduled_instance_uses_s_and_e() -> None:
    # 61 minutes early and ended before the slot: unscheduled, judged over [S, E].
    facts = MeetingFacts(started_at=t(-61), ended_at=t(-1), schedule=AT_T0)
    result = _ana(facts, (-61, -1))
    assert result.window == Window(False, t(-61), t(-1))
    assert result.records[0].attended_seconds == 3600


def test_compute_live_window_ends_at_now_or_the_slot_end() -> None:
    facts = MeetingFacts(started_at=t(-10), ended_at=None, schedule=AT_T0)
    connections = [conn("u1", *stay(-10), name="Ana Díaz", email="ana@uni.edu")]
    before = compute_meeting(facts, connections, [ANA], [], Policy(), t(-5))
    assert before.records[0].attended_seconds == 0
    during = compute_meeting(facts, connections, [ANA], [], Policy(), t(30))
    assert during.records[0].attended_seconds == 30 * 60
    after = compute_meeting(facts, connections, [ANA], [], Policy(), t(80))
    assert after.records[0].attended_seconds == 60 * 60


# ------------------------------------------------------------------ properties

MeetingDraw = tuple[MeetingFacts, list[Delivery], dict[str, Identity]]


def _compute(facts: MeetingFacts, connections: Sequence[Connection]) -> MeetingResult:
    return compute_meeting(facts, connections, ROSTER, LINKS, Policy(), t(70))


slots = st.builds(
    Slot,
    weekday=st.sampled_from([0, 0, 1, 6]),
    # Around T0 (15:00 UTC Monday; 10:00 in New York), midnight included.
    start_minute=st.sampled_from([0, 9 * 60 + 50, 10 * 60, 14 * 60 + 5, 15 * 60]),
    minutes=st.sampled_from([1, 20, 45, 720]),
)
schedules = st.builds(
    Schedule,
    slots=st.lists(slots, max_size=3).map(tuple),
    zone=st.sampled_from([ZoneInfo("UTC"), NEW_YORK]),
)


@given(meetings(), st.sampled_from([ZoneInfo("UTC"), NEW_YORK, BERLIN]))
def test_empty_schedule_gives_todays_result(
    meeting: MeetingDraw, zone: ZoneInfo
) -> None:
    facts, deliveries, identities = meeting
    connections = fold(deliveries, identities)
    today = _compute(facts, connections)
    with_feature = _compute(replace(facts, schedule=Schedule((), zone)), connections)
    assert with_feature == today
    assert today.window is not None and today.window.scheduled
    assert (today.window.start, today.window.end) == (today.start, facts.ended_at)


@given(meetings(), schedules, st.randoms(use_true_random=False), st.integers(0, 3))
def test_scheduled_result_ignores_delivery_order_and_duplicates(
    meeting: MeetingDraw, schedule: Schedule, rnd: random.Random, copies: int
) -> None:
    facts, deliveries, identities = meeting
    facts = replace(facts, schedule=schedule)
    redelivered = deliveries + [rnd.choice(deliveries) for _ in range(copies * 3)]
    rnd.shuffle(redelivered)
    expected = _compute(facts, fold(deliveries, identities))
    assert _compute(facts, fold(redelivered, identities)) == expected


@given(meetings(), schedules)
def test_scheduled_intervals_stay_inside_the_window(
    meeting: MeetingDraw, schedule: Schedule
) -> None:
    facts, deliveries, identities = meeting
    result = _compute(replace(facts, schedule=schedule), fold(deliveries, identities))
    window = result.window
    assert window is not None
    if window.start is None:
        assert all(p.intervals == () for p in result.persons)
        return
    hi = window.end if window.end is not None else t(70)
    if window.limit is not None:
        hi = min(hi, window.limit)
    for person in result.persons:
        assert all(window.start <= i.start < i.end <= hi for i in person.intervals)
    assert all(0 <= r.attended_percent <= 100 for r in result.records)
    if window.scheduled and facts.ended_at is not None and schedule.slots:
        assert window.end is not None and window.start < window.end
        assert result.start is not None
        assert window.start >= result.start and window.end <= facts.ended_at
    if not window.scheduled:
        assert window.start == result.start
        assert window.end == facts.ended_at
