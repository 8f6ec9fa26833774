"""Properties of compute_meeting: a function of the set of events, bounded, overlap-proof."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from attendance.core.compute import compute_meeting
from attendance.core.model import (
    Connection,
    ConnectionEvent,
    IdentityLink,
    Kind,
    LinkKind,
    LinkSource,
    MeetingFacts,
    MeetingResult,
    Policy,
)
from tests.core.builders import T0, student, t

ROSTER = [
    student(1, "Ana", "Díaz", "ana@uni.edu"),
    student(2, "Ben", "Okafor", "ben@uni.edu", alias_emails=("benny@home.org",)),
    student(3, "Cai", "Wen", alias_names=("Cai W",)),
]
LINKS = [
    IdentityLink(LinkKind.ZOOM_USER, "z2", 3, LinkSource.LEARNED),
    IdentityLink(LinkKind.NAME, "Guest", 2, LinkSource.MANUAL),
]
NOW = t(70)
NAMES = ["", "Ana Díaz", "ana diaz (she/her)", "Guest", "Visitor", "Cai Wen", "(iPad)"]
EMAILS = ["", "ana@uni.edu", "BEN@uni.edu ", "benny@home.org", "x@y.org"]
DETAILS = {
    Kind.ROLE_CHANGED: ["host", "co-host", "attendee"],
    Kind.UPDATED: ["audio=on", "audio=off,video=on", "video=off,sharing=on"],
}


@dataclass(frozen=True)
class Delivery:
    """One webhook as the store sees it: the connection, the event and its identity fields."""

    key: str
    event: ConnectionEvent
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class Identity:
    """What every event of one connection carries alike."""

    zoom_user_id: str
    registrant_id: str
    parent_key: str


def fold(
    deliveries: Sequence[Delivery], identities: dict[str, Identity]
) -> list[Connection]:
    """Build connections the way the store does: name/email of the earliest event having one."""
    by_key: dict[str, list[Delivery]] = defaultdict(list)
    for d in deliveries:
        by_key[d.key].append(d)
    connections = []
    for key, items in by_key.items():
        name = min(((d.event.at, d.name) for d in items if d.name), default=(T0, ""))[1]
        email = min(
            ((d.event.at, d.email) for d in items if d.email), default=(T0, "")
        )[1]
        ident = identities[key]
        connections.append(
            Connection(
                key=key,
                pk=int(key[1:]),
                name=name,
                email=email,
                zoom_user_id=ident.zoom_user_id,
                registrant_id=ident.registrant_id,
                parent_key=ident.parent_key,
                events=tuple(d.event for d in items),
            )
        )
    return connections


@st.composite
def events(draw: st.DrawFn) -> ConnectionEvent:
    kind = draw(st.sampled_from(list(Kind)))
    # Few distinct times, so that ties (where kind order decides) are common.
    minute = draw(st.sampled_from([-5, 0, 9, 10, 30, 49, 50, 65]))
    second = draw(st.sampled_from([0, 0, 1]))
    room = draw(st.sampled_from(["a", "b"])) if kind.name.startswith("BREAKOUT") else ""
    detail = draw(st.sampled_from(DETAILS[kind])) if kind in DETAILS else ""
    return ConnectionEvent(kind, t(minute, second), room, detail)


@st.composite
def meetings(
    draw: st.DrawFn,
) -> tuple[MeetingFacts, list[Delivery], dict[str, Identity]]:
    keys = [f"u{i}" for i in range(1, draw(st.integers(1, 6)) + 1)]
    identities = {
        key: Identity(
            draw(st.sampled_from(["", "", "z1", "z2", "host"])),
            draw(st.sampled_from(["", "", "r1"])),
            draw(st.sampled_from(["", "", "u1", "u9"])),
        )
        for key in keys
    }
    deliveries = draw(
        st.lists(
            st.builds(
                Delivery,
                st.sampled_from(keys),
                events(),
                st.sampled_from(NAMES),
                st.sampled_from(EMAILS),
            ),
            min_size=1,
            max_size=25,
        )
    )
    facts = MeetingFacts(
        started_at=draw(st.sampled_from([None, t(0), t(5)])),
        ended_at=draw(st.sampled_from([None, t(60), t(50)])),
        host_id=draw(st.sampled_from(["", "host"])),
    )
    return facts, deliveries, identities


def compute(facts: MeetingFacts, connections: Sequence[Connection]) -> MeetingResult:
    return compute_meeting(facts, connections, ROSTER, LINKS, Policy(), NOW)


@given(meetings(), st.randoms(use_true_random=False), st.integers(0, 3))
def test_compute_meeting_ignores_delivery_order_and_duplicates(
    meeting: tuple[MeetingFacts, list[Delivery], dict[str, Identity]],
    rnd: random.Random,
    copies: int,
) -> None:
    facts, deliveries, identities = meeting
    redelivered = deliveries + [rnd.choice(deliveries) for _ in range(copies * 3)]
    rnd.shuffle(redelivered)
    expected = compute(facts, fold(deliveries, identities))
    assert compute(facts, fold(redelivered, identities)) == expected


@given(meetings())
def test_compute_meeting_union_never_exceeds_meeting(
    meeting: tuple[MeetingFacts, list[Delivery], dict[str, Identity]],
) -> None:
    facts, deliveries, identities = meeting
    result = compute(facts, fold(deliveries, identities))
    assert result.end is not None
    if result.start is None:
        assert all(p.intervals == () for p in result.persons)
        return
    span = max(result.end - result.start, timedelta(0))
    for person in result.persons:
        assert all(
            result.start <= i.start < i.end <= result.end for i in person.intervals
        )
        total = sum((i.end - i.start for i in person.intervals), timedelta(0))
        assert total <= span
        assert person.attended_seconds <= span.total_seconds()
    assert all(0 <= r.attended_percent <= 100 for r in result.records)


@st.composite
def stays(draw: st.DrawFn) -> list[ConnectionEvent]:
    marks = sorted(
        draw(st.lists(st.integers(-600, 4200), min_size=1, max_size=8, unique=True))
    )
    kinds = [Kind.JOINED, Kind.LEFT] * len(marks)
    return [ConnectionEvent(k, t(0, s)) for k, s in zip(kinds, marks, strict=False)]


@given(
    stays(),
    meetings(),
    st.floats(0, 1),
    st.floats(0, 1),
    st.integers(0, 100),
)
def test_compute_meeting_overlapping_device_changes_nothing(
    own: list[ConnectionEvent],
    others: tuple[MeetingFacts, list[Delivery], dict[str, Identity]],
    a: float,
    b: float,
    pick: int,
) -> None:
    facts, deliveries, identities = others
    facts = replace(facts, started_at=t(0))
    first = Connection("u7", 7, name="Ana Díaz", zoom_user_id="z7", events=tuple(own))
    connections = [*fold(deliveries, identities), first]
    before = compute(facts, connections)
    person = next(p for p in before.persons if 7 in p.connection_pks)
    if not person.intervals:
        return
    span = person.intervals[pick % len(person.intervals)]
    lo, hi = sorted((a, b))
    join = _between(span.start, span.end, lo)
    leave = _between(span.start, span.end, hi)
    device = Connection(
        "u8",
        8,
        zoom_user_id="z7",
        events=(ConnectionEvent(Kind.JOINED, join), ConnectionEvent(Kind.LEFT, leave)),
    )
    after = compute(facts, [*connections, device])
    merged = next(p for p in after.persons if 8 in p.connection_pks)
    assert 7 in merged.connection_pks
    assert merged.intervals == person.intervals
    assert merged.attended_seconds == person.attended_seconds
    assert [(r.status, r.attended_seconds) for r in after.records] == [
        (r.status, r.attended_seconds) for r in before.records
    ]


def _between(start: datetime, end: datetime, fraction: float) -> datetime:
    """Return a time between start and end, to the second."""
    seconds = int((end - start).total_seconds() * fraction)
    return start + timedelta(seconds=seconds)
