"""The attendance statuses: their words, the ones an instructor sets, how a term counts them."""

from __future__ import annotations

import enum


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
