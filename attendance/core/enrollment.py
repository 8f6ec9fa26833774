"""Who is on a meeting's roster: withdrawn students leave it from their date (§5.8)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, tzinfo

from attendance.core.model import Student


def enrolled_on(
    withdrawn_on: date | None, meeting_start: datetime, zone: tzinfo
) -> bool:
    """Whether a student withdrawn on ``withdrawn_on`` is on the roster of a meeting.

    They are when the meeting starts, on the course's local calendar (``zone``),
    before that date; a meeting that starts on it or later is not theirs. Without
    a withdrawal, every meeting is.
    """
    if withdrawn_on is None:
        return True
    return meeting_start.astimezone(zone).date() < withdrawn_on


def withdrawn_from(
    roster: Iterable[Student], meeting_start: datetime, zone: tzinfo
) -> frozenset[int]:
    """The pks of the roster students who are off the roster of a meeting starting then."""
    return frozenset(
        s.pk
        for s in roster
        if s.withdrawn_on is not None
        and not enrolled_on(s.withdrawn_on, meeting_start, zone)
    )
