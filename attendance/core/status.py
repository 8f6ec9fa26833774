"""The attendance statuses: their words, the ones an instructor sets, how a term counts them."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Status(enum.StrEnum):
    """Attendance statuses (CONTRACT §5.5), in the order everything lists them.

    EXCUSED only ever comes from an override.
    """

    PRESENT = "Present"
    LATE = "Late"
    LEFT_EARLY = "Left Early"
    ABSENT = "Absent"
    EXCUSED = "Excused"


#: Every status, in the order pages, charts, summaries and the CSV list them.
STATUSES: tuple[Status, ...] = tuple(Status)
#: Statuses an instructor may set (CONTRACT §3): all of them.
MANUAL_STATUSES: tuple[Status, ...] = STATUSES
#: Statuses that count as attending (Excused counts neither way).
ATTENDED = frozenset({Status.PRESENT, Status.LATE, Status.LEFT_EARLY})
#: The key that counts each status in a term summary (JSON and CSV): ``left_early``.
COUNT_KEYS: dict[Status, str] = {s: s.name.lower() for s in STATUSES}


def attendance_rate(counts: Mapping[str, int]) -> float | None:
    """Percent of the counted meetings (all but Excused) attended, one decimal.

    ``counts``: how many meetings had each status. None when none counts.
    """
    counted = sum(counts.values()) - counts.get(Status.EXCUSED, 0)
    if counted <= 0:
        return None
    attended = sum(counts.get(s, 0) for s in ATTENDED)
    return round(100.0 * attended / counted, 1)
