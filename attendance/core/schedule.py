"""Which weekly class slot a meeting instance is, and the window it is judged over (§5.9).

A slot is a local wall-clock time in the course's zone; the zone (zoneinfo), not
a fixed offset, turns it into UTC instants, so a Monday 09:00 class is 14:00 UTC
in January and 13:00 UTC in April in America/New_York.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: How early before its slot a room may open and still be that slot's class.
EARLY = timedelta(minutes=60)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One weekly class time: a weekday (Monday 0), a local start, a length."""

    weekday: int
    #: Minutes after local midnight.
    start_minute: int
    minutes: int


@dataclass(frozen=True, slots=True)
class Schedule:
    """A course's weekly slots and the time zone they are read in."""

    slots: tuple[Slot, ...]
    zone: tzinfo


@dataclass(frozen=True, slots=True)
class Window:
    """How an instance counts: a slot's class over [S', E'], or unscheduled over [S, E].

    ``end`` is None while the instance is live (E' is then the earlier of now
    and the slot's end, ``limit``).
    """

    scheduled: bool
    #: S' (or S); None when the instance has no start at all (no one ever joined).
    start: datetime | None
    end: datetime | None
    #: The slot's end We while live (None when unscheduled or without a slot).
    limit: datetime | None = None


def zone_named(name: str | None) -> tzinfo:
    """The IANA zone ``name`` (UTC when it is empty or unknown to this system)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def slot_start(slot: Slot, day: date, zone: tzinfo) -> datetime:
    """The UTC instant of ``slot``'s start on local date ``day``.

    A start in a daylight-saving gap (02:30 on the day clocks jump) reads with
    the offset before the change, as zoneinfo does for ``fold=0``.
    """
    hour, minute = divmod(slot.start_minute, 60)
    local = datetime.combine(day, time(hour, minute), tzinfo=zone)
    return local.astimezone(UTC)


def classify(
    start: datetime | None, end: datetime | None, schedule: Schedule | None
) -> Window:
    """The window of an instance that started at S = ``start`` and ended at E = ``end``.

    Without slots every instance is a class over [S, E]. Otherwise the instance
    is the class of a slot occurrence when Ws - 60 min <= S <= We (the previous
    and next local days are tried too, for slots near midnight); it is judged
    over S' = max(S, Ws), E' = min(E, We), and is unscheduled (over [S, E]) when
    no occurrence fits, E' <= S', or there is no S. Of several fitting occurrences the one that
    overlaps [S, E] most wins, then the earliest.
    """
    if schedule is None or not schedule.slots:
        return Window(scheduled=True, start=start, end=end)
    if start is None:  # no S: no slot to place it in
        return Window(scheduled=False, start=None, end=end)
    best: tuple[timedelta, datetime, datetime] | None = None
    for window_start, window_end in sorted(_occurrences(start, schedule)):
        if not window_start - EARLY <= start <= window_end:
            continue
        lo = max(start, window_start)
        hi = window_end if end is None else min(end, window_end)
        if hi <= lo:
            continue  # it ended before its slot began
        if best is None or hi - lo > best[0]:  # strictly: the earliest among equals
            best = (hi - lo, window_start, window_end)
    if best is None:
        return Window(scheduled=False, start=start, end=end)
    _overlap, window_start, window_end = best
    lo = max(start, window_start)
    if end is None:
        return Window(scheduled=True, start=lo, end=None, limit=window_end)
    return Window(scheduled=True, start=lo, end=min(end, window_end))


def _occurrences(at: datetime, schedule: Schedule) -> list[tuple[datetime, datetime]]:
    """Each slot's [Ws, We] on the local day of ``at`` and the days either side."""
    today = at.astimezone(schedule.zone).date()
    found = []
    for day in (today - _DAY, today, today + _DAY):
        for slot in schedule.slots:
            if slot.weekday == day.weekday():
                begins = slot_start(slot, day, schedule.zone)
                found.append((begins, begins + timedelta(minutes=slot.minutes)))
    return found
