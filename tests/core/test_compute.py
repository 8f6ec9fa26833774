"""compute_meeting: persons, records, guests and learned links of one meeting (§5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from attendance.core.compute import compute_meeting
from attendance.core.model import (
    Connection,
    ConnectionEvent,
    IdentityLink,
    Interval,
    Kind,
    LinkKind,
    LinkSource,
    MatchedBy,
    MeetingFacts,
    MeetingResult,
    Policy,
    Presence,
    Record,
    Student,
)
from attendance.core.status import Status
from tests.core.builders import conn, ev, stay, student, t

ANA = student(1, "Ana", "Díaz", "ana@uni.edu")
BEN = student(2, "Ben", "Okafor", "ben@uni.edu", alias_emails=("benny@home.org",))
CAI = student(3, "Cai", "Wen")
ROSTER = [ANA, BEN, CAI]
FACTS = MeetingFacts(started_at=t(0), ended_at=t(60), host_id="host-zu")
NOW = t(90)
DEFAULT_POLICY = Policy()


def run(
    connections: Sequence[Connection],
    roster: Sequence[Student] = ROSTER,
    links: Sequence[IdentityLink] = (),
    facts: MeetingFacts = FACTS,
    policy: Policy = DEFAULT_POLICY,
    now: datetime = NOW,
) -> MeetingResult:
    return compute_meeting(facts, connections, roster, links, policy, now)


def record_of(result: MeetingResult, student_pk: int) -> Record:
    return next(r for r in result.records if r.student_pk == student_pk)


def groups(result: MeetingResult) -> list[tuple[int, ...]]:
    return [p.connection_pks for p in result.persons]


P, LT, LE, A = Status.PRESENT, Status.LATE, Status.LEFT_EARLY, Status.ABSENT


@pytest.mark.parametrize(
    ("events", "status", "late", "left_early", "seconds", "percent"),
    [
        pytest.param(stay(0, 60), P, False, False, 3600, 100.0, id="whole"),
        pytest.param(
            stay(-5, 70), P, False, False, 3600, 100.0, id="clipped-to-meeting"
        ),
        pytest.param(stay(10, 60), P, False, False, 3000, 83.3, id="late-at-10:00"),
        pytest.param(
            (ev(Kind.JOINED, 10, 1), ev(Kind.LEFT, 60)),
            LT,
            True,
            False,
            2999,
            83.3,
            id="late-at-10:01",
        ),
        pytest.param(
            stay(0, 50), P, False, False, 3000, 83.3, id="left-early-at-50:00"
        ),
        pytest.param(
            (ev(Kind.JOINED, 0), ev(Kind.LEFT, 49, 59)),
            LE,
            False,
            True,
            2999,
            83.3,
            id="left-early-at-49:59",
        ),
        pytest.param(stay(0, 30), LE, False, True, 1800, 50.0, id="min-percent-at-50%"),
        pytest.param(
            (ev(Kind.JOINED, 0), ev(Kind.LEFT, 29, 59)),
            A,
            False,
            True,
            1799,
            50.0,
            id="min-percent-one-second-below",
        ),
        pytest.param(
            (*stay(0, 20), ev(Kind.JOINED, 30), ev(Kind.LEFT, 45)),
            LE,
            False,
            True,
            2100,
            58.3,
            id="two-stays-summed",
        ),
        pytest.param(
            (ev(Kind.LEFT, 30), ev(Kind.JOINED, 0)),
            LE,
            False,
            True,
            1800,
            50.0,
            id="leave-before-join-out-of-order",
        ),
        pytest.param(
            (ev(Kind.JOINED, 0), ev(Kind.LEFT, 75)),
            P,
            False,
            False,
            3600,
            100.0,
            id="late-leave-after-E-replaces-closure",
        ),
        pytest.param(
            (ev(Kind.JOINED, 0),), P, False, False, 3600, 100.0, id="open-closes-at-E"
        ),
        pytest.param(
            (
                ev(Kind.JOINED, 0),
                ev(Kind.PUT_IN_WAITING_ROOM, 35),
                ev(Kind.ADMITTED, 40),
            ),
            LE,
            False,
            True,
            2100,
            58.3,
            id="waiting-room-time-never-counts",
        ),
        pytest.param(
            (
                *stay(0, 20),
                ev(Kind.BREAKOUT_JOINED, 15, room="r"),
                ev(Kind.BREAKOUT_LEFT, 45, room="r"),
            ),
            LE,
            False,
            True,
            2700,
            75.0,
            id="breakout-extends-main",
        ),
        pytest.param(
            (ev(Kind.JOINED, 0, 0.4), ev(Kind.LEFT, 30, 0.9)),
            LE,
            False,
            True,
            1800,
            50.0,
            id="seconds-floored",
        ),
    ],
)
def test_compute_meeting_status_of_one_student(
    events: tuple[ConnectionEvent, ...],
    status: Status,
    late: bool,
    left_early: bool,
    seconds: int,
    percent: float,
) -> None:
    result = run([conn("u1", *events, email="ana@uni.edu")])
    record = record_of(result, ANA.pk)
    assert (record.status, record.late, record.left_early) == (status, late, left_early)
    assert (record.attended_seconds, record.attended_percent) == (seconds, percent)
    assert (record.matched_by, record.participant_pk) == (MatchedBy.EMAIL, 1)


def test_compute_meeting_records_follow_roster_order_and_absent_unseen() -> None:
    result = run([conn("u1", *stay(0, 60), email="ben@uni.edu")])
    assert [r.student_pk for r in result.records] == [1, 2, 3]
    ana = record_of(result, ANA.pk)
    assert (ana.status, ana.attended_seconds, ana.matched_by, ana.participant_pk) == (
        A,
        0,
        None,
        None,
    )
    assert (ana.first_join, ana.last_leave, ana.sessions, ana.late) == (
        None,
        None,
        0,
        False,
    )
    assert record_of(result, BEN.pk).status is P


@pytest.mark.parametrize(
    ("connections", "expected"),
    [
        pytest.param(
            [
                conn("u1", *stay(0, 40), zoom_user_id="z1", name="Laptop"),
                conn("u2", *stay(10, 60), zoom_user_id="z1", name="Phone"),
            ],
            [(1, 2)],
            id="two-devices-same-zoom-user",
        ),
        pytest.param(
            [
                conn(
                    "u1",
                    *stay(0, 20),
                    name="Guest X",
                    email="x@y.org",
                    zoom_user_id="z1",
                ),
                conn(
                    "u2",
                    *stay(25, 60),
                    name="Guest X",
                    email="X@Y.org ",
                    zoom_user_id="z2",
                ),
            ],
            [(1, 2)],
            id="rejoin-new-user-id-same-email",
        ),
        pytest.param(
            [
                conn("u1", *stay(0, 20), registrant_id="r1", name="A"),
                conn("u2", *stay(25, 60), registrant_id="r1", name="B"),
            ],
            [(1, 2)],
            id="same-registrant",
        ),
        pytest.param(
            [
                conn("u1", *stay(0, 20), name="Cai Wen"),
                conn("u2", *stay(25, 60), name="wen, cai (he/him)"),
            ],
            [(1, 2)],
            id="same-student-by-name",
        ),
        pytest.param(
            [
                conn("u1", *stay(0, 20), name="Cai Wen", zoom_user_id="z1"),
                conn("u2", *stay(25, 60), zoom_user_id="z1"),
                conn("u3", *stay(30, 60), name="Cai Wen"),
            ],
            [(1, 2, 3)],
            id="chain-of-identifiers",
        ),
        pytest.param(
            [
                conn("u1", *stay(0, 60), name="Guest Bob"),
                conn(
                    "u2",
                    ev(Kind.BREAKOUT_JOINED, 10, room="r"),
                    parent_key="u1",
                    name="Bob",
                ),
            ],
            [(1, 2)],
            id="breakout-joins-parent",
        ),
        pytest.param(
            [
                conn("u1", *stay(0, 60), name="Guest Bob"),
                conn(
                    "u2",
                    ev(Kind.BREAKOUT_JOINED, 10, room="r"),
                    parent_key="u9",
                    name="Guest Bob",
                ),
            ],
            [(1,), (2,)],
            id="breakout-missing-parent-own-person-no-name-merge",
        ),
        pytest.param(
            [
                conn("u1", *stay(0, 60), name="Guest Bob"),
                conn("u2", *stay(1, 60), email="ana@uni.edu"),
                conn(
                    "u3",
                    ev(Kind.BREAKOUT_JOINED, 10, room="r"),
                    parent_key="u1",
                    email="ana@uni.edu",
                ),
            ],
            [(1,), (2, 3)],
            id="breakout-with-own-identifiers",
        ),
        pytest.param(
            [
                conn("u1", *stay(0, 20), name="Guest Bob"),
                conn("u2", *stay(25, 60), name="guest  BOB (iPad)"),
                conn("u3", *stay(5, 60), name="Guest Bob", zoom_user_id="zb"),
            ],
            [(1, 2), (3,)],
            id="name-only-guests-merge-only-among-themselves",
        ),
        pytest.param(
            [
                conn("u1", *stay(0, 20), name=""),
                conn("u2", *stay(25, 60), name=""),
                conn("u3", *stay(25, 60), name="(she/her)"),
            ],
            [(1,), (2,), (3,)],
            id="empty-names-merge-with-nothing",
        ),
        pytest.param(
            [
                conn("u2", *stay(5, 60), name="Z", zoom_user_id="z1"),
                conn("u1", *stay(5, 60), name="Y", zoom_user_id="z1"),
                conn("u3", *stay(0, 60), name="Guest"),
            ],
            [(3,), (1, 2)],
            id="ordered-by-first-event-then-key",
        ),
    ],
)
def test_compute_meeting_merges_connections_into_persons(
    connections: list[Connection], expected: list[tuple[int, ...]]
) -> None:
    assert groups(run(connections)) == expected


def test_compute_meeting_two_devices_count_once() -> None:
    result = run(
        [
            conn("u1", *stay(0, 40), zoom_user_id="z1", email="ana@uni.edu"),
            conn("u2", *stay(10, 55), zoom_user_id="z1"),
        ]
    )
    (person,) = result.persons
    assert person.intervals == (Interval(t(0), t(55)),)
    assert (person.attended_seconds, person.sessions) == (3300, 2)
    assert record_of(result, ANA.pk).status is P


def test_compute_meeting_person_takes_earliest_step_and_representative() -> None:
    result = run(
        [
            conn(
                "u5",
                *stay(20, 60),
                name="Later",
                email="ana@uni.edu",
                zoom_user_id="z1",
            ),
            conn("u4", *stay(0, 10), name="Ana Díaz", zoom_user_id="z1"),
        ]
    )
    (person,) = result.persons
    assert (person.pk, person.name, person.email) == (4, "Ana Díaz", "ana@uni.edu")
    assert (person.student_pk, person.matched_by) == (ANA.pk, MatchedBy.EMAIL)
    assert person.connection_pks == (4, 5)


def test_compute_meeting_conflicting_students_earliest_step_wins() -> None:
    result = run(
        [
            conn("u1", *stay(0, 60), name="Cai Wen", zoom_user_id="z1"),
            conn("u2", *stay(5, 60), email="ben@uni.edu", zoom_user_id="z1"),
        ]
    )
    (person,) = result.persons
    assert (person.student_pk, person.matched_by) == (BEN.pk, MatchedBy.EMAIL)
    assert record_of(result, CAI.pk).participant_pk is None
    assert record_of(result, BEN.pk).participant_pk == 1


def test_compute_meeting_breakout_connection_adds_time_but_no_session() -> None:
    result = run(
        [
            conn("u1", *stay(0, 20), email="ana@uni.edu"),
            conn(
                "u2",
                ev(Kind.BREAKOUT_JOINED, 20, room="r"),
                ev(Kind.BREAKOUT_LEFT, 60, room="r"),
                parent_key="u1",
            ),
        ]
    )
    record = record_of(result, ANA.pk)
    assert (record.attended_seconds, record.sessions, record.status) == (3600, 1, P)


def test_compute_meeting_host_is_neither_record_nor_guest() -> None:
    result = run(
        [
            conn("u1", *stay(0, 60), name="Prof", zoom_user_id="host-zu"),
            conn(
                "u2",
                *stay(1, 60),
                name="Prof (phone)",
                zoom_user_id="host-zu",
                email="ana@uni.edu",
            ),
            conn("u3", *stay(0, 60), name="Visitor"),
        ]
    )
    host = next(p for p in result.persons if p.is_host)
    assert (host.role, host.student_pk, host.connection_pks) == ("host", None, (1, 2))
    assert [g.pk for g in result.guests] == [3]
    assert result.participant_count == 1
    assert record_of(result, ANA.pk).participant_pk is None
    assert result.learned_links == ()


def test_compute_meeting_start_falls_back_to_first_join_host_included() -> None:
    facts = MeetingFacts(started_at=None, ended_at=t(60), host_id="host-zu")
    result = run(
        [
            conn("u1", *stay(0, 60), zoom_user_id="host-zu"),
            conn(
                "u2",
                ev(Kind.JOINED_WAITING_ROOM, -5),
                *stay(10, 60),
                email="ana@uni.edu",
            ),
        ],
        facts=facts,
    )
    assert result.start == t(0)
    record = record_of(result, ANA.pk)
    assert (record.status, record.late, record.attended_percent) == (P, False, 83.3)


def test_compute_meeting_without_any_start_is_all_absent() -> None:
    facts = MeetingFacts(started_at=None, ended_at=None)
    result = run(
        [
            conn("u1", ev(Kind.JOINED_WAITING_ROOM, 0), email="ana@uni.edu"),
            conn("u2", ev(Kind.JBH_WAITING, 1), name="Early Guest"),
            conn("u3", ev(Kind.BREAKOUT_JOINED, 2, room="r"), name="Odd"),
        ],
        facts=facts,
    )
    assert (result.start, result.end) == (None, NOW)
    assert {r.status for r in result.records} == {A}
    assert all(p.attended_seconds == 0 and p.intervals == () for p in result.persons)
    assert record_of(result, ANA.pk).matched_by is MatchedBy.EMAIL
    assert result.participant_count == 3


def test_compute_meeting_waiting_only_student_keeps_match() -> None:
    result = run(
        [
            conn(
                "u7",
                ev(Kind.JOINED_WAITING_ROOM, 5),
                ev(Kind.LEFT_WAITING_ROOM, 9),
                email="benny@home.org",
            ),
            conn("u8", ev(Kind.JBH_WAITING, 0), name="Only Waiting"),
        ]
    )
    record = record_of(result, BEN.pk)
    assert (record.status, record.attended_seconds, record.matched_by) == (
        A,
        0,
        MatchedBy.ALIAS,
    )
    assert (record.participant_pk, record.first_join, record.sessions) == (7, None, 0)
    (guest,) = result.guests
    assert (guest.pk, guest.attended_seconds, guest.presence) == (8, 0, Presence.LEFT)
    assert result.participant_count == 2


@pytest.mark.parametrize(
    ("role_events", "expected"),
    [
        ([], "guest"),
        ([("u1", 5, "co-host")], "co-host"),
        ([("u1", 5, "host")], "co-host"),
        ([("u1", 5, "co-host"), ("u1", 9, "attendee")], "guest"),
        (
            [("u1", 9, "co-host"), ("u2", 5, "attendee")],
            "co-host",
        ),  # latest across devices
        ([("u1", 5, "co-host"), ("u2", 9, "attendee")], "guest"),
    ],
)
def test_compute_meeting_role_of_guest(
    role_events: list[tuple[str, float, str]], expected: str
) -> None:
    extra = {
        key: tuple(
            ev(Kind.ROLE_CHANGED, m, detail=d) for k, m, d in role_events if k == key
        )
        for key in ("u1", "u2")
    }
    result = run(
        [
            conn("u1", *stay(0, 30), *extra["u1"], zoom_user_id="zg"),
            conn("u2", *stay(30, 60), *extra["u2"], zoom_user_id="zg"),
        ]
    )
    (guest,) = result.guests
    assert guest.role == expected


def test_compute_meeting_live_state_aggregates_connections() -> None:
    facts = MeetingFacts(started_at=t(0), ended_at=None)
    result = run(
        [
            conn(
                "u1",
                *stay(0, 20),
                ev(Kind.UPDATED, 5, detail="audio=on,video=on"),
                ev(Kind.SHARING_STARTED, 6),
                zoom_user_id="z1",
            ),
            conn(
                "u2",
                ev(Kind.JOINED, 21),
                ev(Kind.UPDATED, 25, detail="video=off"),
                ev(Kind.BREAKOUT_JOINED, 26, room="r"),
                zoom_user_id="z1",
            ),
        ],
        facts=facts,
        now=t(40),
    )
    (person,) = result.persons
    assert result.end == t(40)
    assert (person.presence, person.in_breakout_room, person.sharing) == (
        Presence.IN_MEETING,
        True,
        True,
    )
    assert (person.audio, person.video) == (True, False)
    assert person.attended_seconds == 40 * 60 - 60

    ended = run([conn("u1", *stay(0, 20), ev(Kind.SHARING_STARTED, 6))])
    assert ended.persons[0].presence is Presence.LEFT
    assert ended.persons[0].sharing is False


@pytest.mark.parametrize(
    ("presences", "expected"),
    [
        ((ev(Kind.JOINED, 0), ev(Kind.JOINED_WAITING_ROOM, 1)), Presence.IN_MEETING),
        ((ev(Kind.JOINED_WAITING_ROOM, 1),), Presence.IN_WAITING_ROOM),
        ((ev(Kind.JBH_WAITING_LEFT, 1),), Presence.LEFT),
    ],
)
def test_compute_meeting_presence_any_connection(
    presences: tuple[ConnectionEvent, ...], expected: Presence
) -> None:
    facts = MeetingFacts(started_at=t(0), ended_at=None)
    connections = [
        conn(f"u{i}", e, zoom_user_id="z1") for i, e in enumerate(presences, start=1)
    ]
    connections.append(conn("u9", *stay(0, 2), zoom_user_id="z1"))
    (person,) = run(connections, facts=facts, now=t(10)).persons
    assert person.presence is expected


def test_compute_meeting_sessions_count_main_time_inside_meeting() -> None:
    result = run(
        [
            conn("u1", *stay(-20, -5), email="ana@uni.edu"),  # before S
            conn("u2", *stay(0, 30), email="ana@uni.edu"),
            conn("u3", *stay(30, 30), email="ana@uni.edu"),  # zero length
            conn("u4", *stay(40, 60), email="ana@uni.edu"),
            conn("u5", ev(Kind.BREAKOUT_JOINED, 30, room="r"), email="ana@uni.edu"),
            conn("u6", *stay(61, 70), email="ana@uni.edu"),  # after E
        ]
    )
    record = record_of(result, ANA.pk)
    assert (record.sessions, record.attended_seconds) == (2, 3600)
    assert (record.participant_pk, record.first_join, record.last_leave) == (
        1,
        t(0),
        t(60),
    )


def test_compute_meeting_guests_ordered_by_first_join_then_name() -> None:
    result = run(
        [
            conn("u1", ev(Kind.JOINED_WAITING_ROOM, 0), name="Waiting"),
            conn("u2", *stay(5, 60), name="Zed"),
            conn("u3", *stay(5, 60), name="Amy"),
            conn("u4", *stay(-10, 60), name="Early"),
            conn("u5", ev(Kind.JBH_WAITING, 0), name="Also Waiting"),
        ]
    )
    assert [g.name for g in result.guests] == [
        "Early",
        "Amy",
        "Zed",
        "Also Waiting",
        "Waiting",
    ]


def test_compute_meeting_learned_links_from_email_and_alias_only() -> None:
    result = run(
        [
            conn(
                "u1",
                *stay(0, 60),
                email="ana@uni.edu",
                zoom_user_id="za",
                registrant_id="ra",
            ),
            conn("u2", *stay(0, 60), zoom_user_id="za2", registrant_id="ra"),
            conn("u3", *stay(0, 60), email="benny@home.org", zoom_user_id="zb"),
            conn("u4", *stay(0, 60), name="Cai Wen", zoom_user_id="zc"),
            conn("u5", *stay(0, 60), name="Guest", zoom_user_id="zg"),
        ]
    )
    learned = LinkSource.LEARNED
    assert result.learned_links == (
        IdentityLink(LinkKind.REGISTRANT, "ra", 1, learned),
        IdentityLink(LinkKind.ZOOM_USER, "za", 1, learned),
        IdentityLink(LinkKind.ZOOM_USER, "za2", 1, learned),
        IdentityLink(LinkKind.ZOOM_USER, "zb", 2, learned),
    )


def test_compute_meeting_uses_links_for_later_meetings() -> None:
    links = [
        IdentityLink(LinkKind.ZOOM_USER, "za", ANA.pk, LinkSource.LEARNED),
        IdentityLink(LinkKind.NAME, "Cai from home", CAI.pk, LinkSource.MANUAL),
    ]
    result = run(
        [
            conn("u1", *stay(0, 60), name="Someone", zoom_user_id="za"),
            conn("u2", *stay(0, 60), name="CAI FROM HOME (phone)"),
        ],
        links=links,
    )
    assert record_of(result, ANA.pk).matched_by is MatchedBy.ZOOM_USER
    assert record_of(result, CAI.pk).matched_by is MatchedBy.MANUAL
    assert result.learned_links == ()


def test_compute_meeting_now_before_start_is_absent() -> None:
    facts = MeetingFacts(started_at=t(10), ended_at=None)
    result = run([conn("u1", *stay(0), email="ana@uni.edu")], facts=facts, now=t(5))
    record = record_of(result, ANA.pk)
    assert (record.status, record.attended_seconds, record.attended_percent) == (
        A,
        0,
        0.0,
    )
