"""Reconciling with Zoom's participant report (CONTRACT §6): each rule, then properties."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attendance.core import intervals as iv
from attendance.core.compute import compute_meeting
from attendance.core.model import (
    Connection,
    Kind,
    MatchedBy,
    MeetingFacts,
    MeetingResult,
    Person,
    Policy,
    Source,
)
from attendance.core.reconcile import (
    ReconcileChange,
    ReportRow,
    ReportStatus,
    reconcile,
)
from attendance.core.sessions import main_intervals
from attendance.core.status import Status
from tests.core.builders import conn, ev, stay, student, t
from tests.core.test_properties import (
    EMAILS,
    NAMES,
    Delivery,
    Identity,
    fold,
    meetings,
)

ANA = student(1, "Ana", "Díaz", "ana@uni.edu")
BEN = student(2, "Ben", "Okafor", "ben@uni.edu")
ROSTER = [ANA, BEN]
FACTS = MeetingFacts(started_at=t(0), ended_at=t(60))
E = t(60)
NOW = t(90)
WAITING = ReportStatus.IN_WAITING_ROOM


def row(
    user_id: str,
    join: float,
    leave: float,
    status: ReportStatus = ReportStatus.IN_MEETING,
    **ids: str,
) -> ReportRow:
    """A report row of ``user_id`` from minute ``join`` to minute ``leave``."""
    return ReportRow(
        user_id=user_id, join_time=t(join), leave_time=t(leave), status=status, **ids
    )


def run(
    connections: Sequence[Connection],
    rows: Sequence[ReportRow],
    facts: MeetingFacts = FACTS,
) -> MeetingResult:
    return compute_meeting(
        facts, connections, ROSTER, (), Policy(), NOW, report=tuple(rows)
    )


def person_with(result: MeetingResult, pk: int) -> Person | None:
    return next((p for p in result.persons if pk in p.connection_pks), None)


def spans(person: Person | None) -> list[tuple[float, float]]:
    """The person's intervals as (minute, minute) pairs after T0."""
    if person is None:
        return []
    return [
        ((i.start - t(0)) / timedelta(minutes=1), (i.end - t(0)) / timedelta(minutes=1))
        for i in person.intervals
    ]


@pytest.mark.parametrize(
    ("connections", "rows", "pk", "expected"),
    [
        pytest.param(
            [
                conn(
                    "u1", ev(Kind.JOINED_WAITING_ROOM, 0), ev(Kind.LEFT_WAITING_ROOM, 5)
                )
            ],
            [row("u1", 0, 5, WAITING), row("u2", 0, 30, WAITING)],
            1,
            [],
            id="waiting-room rows are dropped",
        ),
        pytest.param(
            [conn("u1", *stay(10, 40))],
            [row("u1", 5, 50)],
            1,
            [(10, 40)],
            id="webhooks win over longer rows",
        ),
        pytest.param(
            [conn("u1", *stay(10, 40))],
            [row("u1", 10, 30)],
            1,
            [(10, 40)],
            id="webhooks win over an earlier leave when theirs arrived",
        ),
        pytest.param(
            [conn("u1", *stay(10))],
            [row("u1", 10, 35)],
            1,
            [(10, 35)],
            id="a lost leave ends at the rows' latest leave_time",
        ),
        pytest.param(
            [conn("u1", *stay(10))],
            [row("u1", 10, 25), row("u1", 26, 35), row("u1", 27, 30)],
            1,
            [(10, 35)],
            id="the latest leave_time of several rows",
        ),
        pytest.param(
            [conn("u1", *stay(10))],
            [row("u1", 10, 75)],
            1,
            [(10, 60)],
            id="a leave after E changes nothing",
        ),
        pytest.param(
            [conn("u1", *stay(10, 20), *stay(30))],
            [row("u1", 10, 15)],
            1,
            [(10, 20)],
            id="never before the interval's start",
        ),
        pytest.param(
            [conn("u1", ev(Kind.LEFT, 30))],
            [row("u1", 5, 30)],
            1,
            [(5, 30)],
            id="no main-room interval: a lost join",
        ),
        pytest.param(
            [conn("u1", ev(Kind.JOINED_WAITING_ROOM, 0))],
            [row("u1", 0, 20), row("u1", 25, 40), row("u1", 25, 40)],
            1,
            [(0, 20), (25, 40)],
            id="no main-room interval: the rows' intervals",
        ),
        pytest.param(
            [],
            [row("u3", 0, 20), row("u3", 10, 30), row("u3", 40, 50)],
            -1,
            [(0, 30), (40, 50)],
            id="a report-only connection's rejoin rows are unioned",
        ),
        pytest.param(
            [],
            [row("u4", 0, 60, email="x@y.org"), row("u5", 20, 40, email="x@y.org")],
            -1,
            [(0, 60)],
            id="a breakout row inside a main-room row counts once",
        ),
    ],
)
def test_reconcile_rule(
    connections: list[Connection],
    rows: list[ReportRow],
    pk: int,
    expected: list[tuple[float, float]],
) -> None:
    assert spans(person_with(run(connections, rows), pk)) == expected


def test_reconcile_report_only_connection_merges_into_a_student_by_email() -> None:
    webhook = [conn("u1", *stay(0, 20), name="iPad", email="ana@uni.edu")]
    rows = [row("u2", 25, 55, name="Ana D", email=" ANA@uni.edu", zoom_user_id="z1")]
    result = run(webhook, rows)
    ana = person_with(result, 1)
    assert ana is not None and ana.connection_pks == (1, -1)
    assert spans(ana) == [(0, 20), (25, 55)]
    assert ana.zoom_user_ids == ("z1",)
    assert ana.sessions == 2
    record = result.records[0]
    assert (record.status, record.attended_seconds) == (Status.PRESENT, 50 * 60)


def test_reconcile_report_only_connection_keeps_its_ids_name_and_source() -> None:
    rows = [
        row("u9", 30, 40, name="Benjamin", registrant_id="r9"),
        row("u9", 5, 10, name="Ben Okafor", zoom_user_id="z9"),
    ]
    done = reconcile([], rows, E)
    (added,) = done.connections
    assert done.added == (added,)
    assert (added.key, added.pk, added.source) == ("u9", -1, Source.REPORT)
    # The earliest row's name, as webhooks take the earliest event's.
    assert (added.name, added.zoom_user_id, added.registrant_id) == (
        "Ben Okafor",
        "z9",
        "r9",
    )
    assert done.changes == (ReconcileChange("u9", -1, 0, 15 * 60),)
    # Matched by name, as any webhook connection would be.
    result = run([], rows)
    assert (result.records[1].matched_by, result.records[1].participant_pk) == (
        MatchedBy.NAME,
        -1,
    )


def test_reconcile_report_only_connection_given_back_keeps_its_pk() -> None:
    first = reconcile([conn("u1", *stay(0))], [row("u2", 0, 10), row("u3", 0, 5)], E)
    stored = [replace(c, pk=40 + i) for i, c in enumerate(first.connections)]
    again = reconcile(stored, [row("u2", 0, 10), row("u3", 0, 5)], E)
    assert [(c.key, c.pk) for c in again.connections] == [
        ("u1", 40),
        ("u2", 41),
        ("u3", 42),
    ]


def test_reconcile_changes_list_what_moved_from_webhooks_alone() -> None:
    connections = [conn("u1", *stay(10)), conn("u2", *stay(0, 30)), conn("u3")]
    rows = [row("u1", 10, 40), row("u2", 0, 10), row("u3", 5, 15)]
    assert reconcile(connections, rows, E).changes == (
        ReconcileChange("u1", 1, 50 * 60, 30 * 60),
        ReconcileChange("u3", 3, 0, 10 * 60),
    )


# Properties ------------------------------------------------------------------

KEYS = ["u1", "u2", "u3", "r1", "r2"]


@st.composite
def rows(draw: st.DrawFn) -> list[ReportRow]:
    """Report rows of webhook keys and report-only keys, at few distinct times."""
    minutes = [-5, 0, 9, 10, 30, 49, 50, 65]
    out = []
    for _ in range(draw(st.integers(0, 10))):
        join = draw(st.sampled_from(minutes))
        out.append(
            ReportRow(
                user_id=draw(st.sampled_from(KEYS)),
                join_time=t(join),
                leave_time=t(draw(st.sampled_from(minutes))),
                name=draw(st.sampled_from(NAMES)),
                email=draw(st.sampled_from(EMAILS)),
                zoom_user_id=draw(st.sampled_from(["", "", "z1", "z3"])),
                registrant_id=draw(st.sampled_from(["", "", "r1"])),
                status=draw(st.sampled_from(list(ReportStatus))),
            )
        )
    return out


Meeting = tuple[MeetingFacts, list[Delivery], dict[str, Identity]]


def end_of(facts: MeetingFacts) -> datetime:
    """E as compute_meeting takes it: now while live."""
    return facts.ended_at if facts.ended_at is not None else NOW


def compute(
    facts: MeetingFacts, connections: Sequence[Connection], report: Sequence[ReportRow]
) -> MeetingResult:
    return compute_meeting(
        facts, connections, ROSTER, (), Policy(), NOW, report=tuple(report)
    )


@given(meetings(), rows(), st.randoms(use_true_random=False), st.integers(0, 3))
def test_reconcile_ignores_row_order_and_duplicates(
    meeting: Meeting, report: list[ReportRow], rnd: random.Random, copies: int
) -> None:
    facts, deliveries, identities = meeting
    connections = fold(deliveries, identities)
    again = report + [rnd.choice(report) for _ in range(copies * 3) if report]
    rnd.shuffle(again)
    end = end_of(facts)
    assert reconcile(connections, again, end) == reconcile(connections, report, end)
    assert compute(facts, connections, again) == compute(facts, connections, report)


@given(meetings())
def test_reconcile_a_report_that_repeats_the_webhooks_changes_nothing(
    meeting: Meeting,
) -> None:
    facts, deliveries, identities = meeting
    connections = fold(deliveries, identities)
    end = end_of(facts)
    report = [
        ReportRow(user_id=c.key, join_time=i.start, leave_time=i.end, name=c.name)
        for c in connections
        for i in main_intervals(c.events, end)
    ]
    assert reconcile(connections, report, end).changes == ()
    assert compute(facts, connections, report) == compute(facts, connections, ())


@given(meetings(), rows())
def test_reconcile_never_makes_a_webhook_interval_longer(
    meeting: Meeting, report: list[ReportRow]
) -> None:
    facts, deliveries, identities = meeting
    connections = fold(deliveries, identities)
    end = end_of(facts)
    done = reconcile(connections, report, end)
    for before, after in zip(connections, done.connections, strict=False):
        assert after.key == before.key and after.events == before.events
        webhook = main_intervals(before.events, end)
        if not webhook:
            continue
        reconciled = main_intervals(after.events, end, after.reported)
        # Every reconciled instant was already a webhook instant.
        assert iv.total(iv.union([*webhook, *reconciled])) == iv.total(webhook)


@given(meetings(), rows())
def test_reconcile_without_rows_is_todays_compute_meeting(
    meeting: Meeting, waiting: list[ReportRow]
) -> None:
    facts, deliveries, identities = meeting
    connections = fold(deliveries, identities)
    today = compute_meeting(facts, connections, ROSTER, (), Policy(), NOW)
    assert compute(facts, connections, ()) == today
    # Rows of the waiting room alone are no rows at all.
    only_waiting = [
        ReportRow(
            user_id=r.user_id,
            join_time=r.join_time,
            leave_time=r.leave_time,
            status=WAITING,
        )
        for r in waiting
    ]
    assert compute(facts, connections, only_waiting) == today
    assert reconcile(connections, only_waiting, end_of(facts)).connections == (
        tuple(connections)
    )
