"""Interval union, clipping and length."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attendance.core.intervals import clip, total, total_seconds, union
from attendance.core.model import Interval
from tests.core.builders import T0, t


def span(a: float, b: float) -> Interval:
    return Interval(t(a), t(b))


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ([], []),
        ([span(0, 5)], [span(0, 5)]),
        ([span(0, 5), span(3, 8)], [span(0, 8)]),
        ([span(0, 5), span(5, 8)], [span(0, 8)]),  # touching merge
        ([span(0, 10), span(2, 4)], [span(0, 10)]),  # contained
        ([span(6, 8), span(0, 2)], [span(0, 2), span(6, 8)]),  # unsorted, disjoint
        ([span(0, 2), span(0, 2), span(0, 2)], [span(0, 2)]),  # duplicates
        ([span(3, 3), span(5, 4)], []),  # empty and reversed are dropped
        ([span(0, 2), span(2, 2), span(2, 4)], [span(0, 4)]),
    ],
)
def test_union_merges_and_sorts(
    given_: list[Interval], expected: list[Interval]
) -> None:
    assert union(given_) == expected


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ([span(2, 4)], [span(2, 4)]),  # inside
        ([span(-5, 3)], [span(0, 3)]),  # straddles the start
        ([span(8, 15)], [span(8, 10)]),  # straddles the end
        ([span(-5, 15)], [span(0, 10)]),  # covers
        ([span(-5, 0), span(10, 12)], []),  # touches the bounds only: empty, dropped
        ([span(11, 12)], []),  # outside
    ],
)
def test_clip_cuts_to_bounds(given_: list[Interval], expected: list[Interval]) -> None:
    assert clip(given_, t(0), t(10)) == expected


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ([], 0.0),
        ([span(0, 1)], 60.0),
        ([span(0, 2), span(1, 3)], 180.0),  # overlap counted once
        ([span(0, 1), span(2, 3)], 120.0),
    ],
)
def test_total_seconds_counts_overlaps_once(
    given_: list[Interval], expected: float
) -> None:
    assert total_seconds(given_) == expected


def test_total_is_exact_to_the_microsecond() -> None:
    micro = timedelta(microseconds=1)
    pieces = [
        Interval(T0 + k * 3 * micro, T0 + (k * 3 + 1) * micro) for k in range(10**5)
    ]
    assert total(pieces) == timedelta(seconds=0.1)
    assert total_seconds(pieces) == 0.1


_spans = st.lists(
    st.tuples(st.integers(0, 600), st.integers(0, 600)).map(
        lambda p: Interval(t(0, p[0]), t(0, p[0] + p[1]))
    ),
    max_size=12,
)


@given(_spans, st.randoms())
def test_union_is_sorted_disjoint_and_order_free(
    spans: list[Interval], rnd: random.Random
) -> None:
    merged = union(spans)
    shuffled = spans * 2
    rnd.shuffle(shuffled)
    assert union(shuffled) == merged
    assert all(a.end < b.start for a, b in zip(merged, merged[1:], strict=False))
    assert total(merged) <= sum((s.end - s.start for s in spans), timedelta(0))
    for s in spans:
        if s.end > s.start:
            assert any(m.start <= s.start and s.end <= m.end for m in merged)


@given(_spans)
def test_clip_stays_inside_bounds(spans: list[Interval]) -> None:
    lo, hi = t(0, 100), t(0, 400)
    clipped = clip(spans, lo, hi)
    assert all(lo <= c.start < c.end <= hi for c in clipped)
    assert total(clipped) <= hi - lo
