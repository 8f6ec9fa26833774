"""The status vocabulary and the term's attendance rate (CONTRACT §3, §5.5)."""

from __future__ import annotations

import pytest

from attendance.core.status import (
    ATTENDED,
    COUNT_KEYS,
    MANUAL_STATUSES,
    STATUSES,
    Status,
    attendance_rate,
)


def test_status_words_and_order() -> None:
    assert STATUSES == ("Present", "Late", "Left Early", "Absent", "Excused")
    assert MANUAL_STATUSES == STATUSES
    assert set(ATTENDED) == {"Present", "Late", "Left Early"}
    assert list(COUNT_KEYS.values()) == [
        "present",
        "late",
        "left_early",
        "absent",
        "excused",
    ]


@pytest.mark.parametrize(
    ("counts", "rate"),
    [
        ({}, None),
        ({"Excused": 3}, None),
        ({"Present": 2, "Late": 1, "Absent": 0, "Excused": 1}, 100.0),
        ({"Present": 1, "Left Early": 1, "Absent": 1}, 66.7),
        ({"Absent": 2, "Excused": 1}, 0.0),
        ({Status.PRESENT: 1, Status.ABSENT: 2}, 33.3),
    ],
)
def test_attendance_rate_counts_all_but_excused(
    counts: dict[str, int], rate: float | None
) -> None:
    assert attendance_rate(counts) == rate
