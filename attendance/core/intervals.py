"""Interval arithmetic on aware datetimes: union, clipping and length, exact to the µs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from attendance.core.model import Interval

_ZERO = timedelta(0)


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge intervals into sorted disjoint ones, so overlaps and touches count once."""
    merged: list[Interval] = []
    for interval in sorted(i for i in intervals if i.end > i.start):
        if merged and interval.start <= merged[-1].end:
            # Overlapping or touching ([a, b) and [b, c)): extend the last one.
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


def clip(
    intervals: Iterable[Interval], start: datetime, end: datetime
) -> list[Interval]:
    """Cut intervals to [start, end), dropping what falls outside or becomes empty."""
    clipped = []
    for interval in intervals:
        lo = max(interval.start, start)
        hi = min(interval.end, end)
        if hi > lo:
            clipped.append(Interval(lo, hi))
    return clipped


def total(intervals: Iterable[Interval]) -> timedelta:
    """Return the exact length of the intervals' union (overlaps counted once)."""
    return sum((i.end - i.start for i in union(intervals)), _ZERO)


def total_seconds(intervals: Iterable[Interval]) -> float:
    """Return the length of the intervals' union in seconds (overlaps counted once)."""
    return total(intervals).total_seconds()
