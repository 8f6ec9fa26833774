"""The per-connection sweep (CONTRACT §5.1) and state fold."""

from __future__ import annotations

import itertools

import pytest

from attendance.core.model import ConnectionEvent, Interval, Kind, Presence
from attendance.core.sessions import (
    breakout_intervals,
    connection_state,
    main_intervals,
)
from tests.core.builders import ev, t

J, L, W = Kind.JOINED, Kind.LEFT, Kind.PUT_IN_WAITING_ROOM
BJ, BL = Kind.BREAKOUT_JOINED, Kind.BREAKOUT_LEFT
E = t(60)


def span(a: float, b: float) -> Interval:
    return Interval(t(a), t(b))


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([ev(J, 0), ev(L, 30)], [span(0, 30)], id="join-leave"),
        pytest.param([ev(L, 30), ev(J, 0)], [span(0, 30)], id="leave-arrives-first"),
        pytest.param(
            [ev(J, 0), ev(L, 30), ev(J, 0), ev(L, 30)], [span(0, 30)], id="duplicates"
        ),
        pytest.param([ev(J, 5)], [span(5, 60)], id="open-closes-at-E"),
        pytest.param([ev(J, 61)], [], id="open-after-E-dropped"),
        pytest.param([ev(J, 60)], [], id="open-at-E-empty"),
        pytest.param([ev(J, 50), ev(L, 70)], [span(50, 70)], id="late-leave-after-E"),
        pytest.param(
            [ev(J, 0), ev(J, 10), ev(L, 20)], [span(0, 20)], id="join-while-open"
        ),
        pytest.param(
            [ev(L, 5), ev(J, 10), ev(L, 20)], [span(10, 20)], id="leave-while-closed"
        ),
        pytest.param(
            [ev(J, 0), ev(L, 10), ev(L, 15), ev(J, 20), ev(L, 30)],
            [span(0, 10), span(20, 30)],
            id="two-stays",
        ),
        pytest.param([ev(J, 0), ev(W, 10)], [span(0, 10)], id="waiting-room-closes"),
        pytest.param([ev(J, 10), ev(L, 10)], [], id="join-and-leave-same-time"),
        pytest.param(
            [ev(J, 0), ev(L, 10), ev(J, 10), ev(L, 20)],
            [span(0, 10)],
            id="rejoin-at-leave-time-join-first",
        ),
        pytest.param(
            [
                ev(Kind.JOINED_WAITING_ROOM, 0),
                ev(Kind.ADMITTED, 2),
                ev(Kind.JBH_JOINED, 3),
                ev(BJ, 4, room="r"),
            ],
            [],
            id="only-joined-opens",
        ),
    ],
)
def test_main_intervals_sweep(
    events: list[ConnectionEvent], expected: list[Interval]
) -> None:
    assert main_intervals(events, E) == expected


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            [ev(BJ, 5, room="a"), ev(BL, 15, room="a")], [span(5, 15)], id="one-room"
        ),
        pytest.param(
            [ev(BL, 15, room="a"), ev(BJ, 5, room="a")],
            [span(5, 15)],
            id="out-of-order",
        ),
        pytest.param(
            [ev(BJ, 5, room="a"), ev(BL, 15, room="b")],
            [span(5, 60)],
            id="other-room-leave",
        ),
        pytest.param(
            [ev(BJ, 5, room="a"), ev(BJ, 10, room="b"), ev(BL, 12, room="a")],
            [span(5, 12), span(10, 60)],
            id="per-room",
        ),
        pytest.param(
            [ev(BJ, 5, room="a"), ev(W, 10), ev(BL, 20, room="a")],
            [span(5, 20)],
            id="waiting-room-does-not-close",
        ),
        pytest.param([ev(BJ, 65, room="a")], [], id="open-after-E-dropped"),
        pytest.param([ev(J, 0), ev(L, 30)], [], id="main-events-ignored"),
    ],
)
def test_breakout_intervals_sweep(
    events: list[ConnectionEvent], expected: list[Interval]
) -> None:
    assert breakout_intervals(events, E) == expected


@pytest.mark.parametrize(
    ("events", "presence", "in_breakout"),
    [
        pytest.param([], Presence.LEFT, False, id="nothing"),
        pytest.param([ev(J, 0)], Presence.IN_MEETING, False, id="joined"),
        pytest.param([ev(Kind.ADMITTED, 0)], Presence.IN_MEETING, False, id="admitted"),
        pytest.param(
            [ev(Kind.JBH_JOINED, 0)], Presence.IN_MEETING, False, id="jbh-joined"
        ),
        pytest.param([ev(J, 0), ev(L, 5)], Presence.LEFT, False, id="left"),
        pytest.param(
            [ev(L, 5), ev(J, 0)], Presence.LEFT, False, id="left-out-of-order"
        ),
        pytest.param(
            [ev(Kind.JBH_WAITING, 0)], Presence.IN_WAITING_ROOM, False, id="jbh-wait"
        ),
        pytest.param(
            [ev(Kind.JBH_WAITING, 0), ev(Kind.JBH_WAITING_LEFT, 1)],
            Presence.LEFT,
            False,
            id="jbh-wait-left",
        ),
        pytest.param(
            [ev(Kind.JOINED_WAITING_ROOM, 0)],
            Presence.IN_WAITING_ROOM,
            False,
            id="waiting",
        ),
        pytest.param(
            [ev(J, 0), ev(W, 5)], Presence.IN_WAITING_ROOM, False, id="put-in-waiting"
        ),
        pytest.param(
            [ev(Kind.JOINED_WAITING_ROOM, 0), ev(Kind.LEFT_WAITING_ROOM, 3)],
            Presence.LEFT,
            False,
            id="gave-up-waiting",
        ),
        pytest.param(
            [ev(Kind.LEFT_WAITING_ROOM, 3), ev(Kind.ADMITTED, 3)],
            Presence.IN_MEETING,
            False,
            id="left-waiting-when-admitted-same-time",
        ),
        pytest.param(
            [ev(Kind.JOINED, 3), ev(Kind.LEFT_WAITING_ROOM, 3)],
            Presence.IN_MEETING,
            False,
            id="left-waiting-when-joined-same-time",
        ),
        pytest.param(
            [ev(Kind.LEFT_WAITING_ROOM, 3), ev(Kind.JOINED, 4)],
            Presence.IN_MEETING,
            False,
            id="left-waiting-then-joined",
        ),
        pytest.param(
            [ev(Kind.ADMITTED, 2), ev(Kind.LEFT_WAITING_ROOM, 3)],
            Presence.LEFT,
            False,
            id="left-waiting-after-admission",
        ),
        pytest.param(
            [ev(BJ, 5, room="a")], Presence.IN_MEETING, True, id="breakout-only"
        ),
        pytest.param(
            [ev(BJ, 5, room="a"), ev(BL, 9, room="a")],
            Presence.LEFT,
            False,
            id="breakout-left",
        ),
        pytest.param(
            [ev(J, 0), ev(BJ, 5, room="a"), ev(BL, 9, room="a")],
            Presence.IN_MEETING,
            False,
            id="back-in-main-room",
        ),
        pytest.param(
            [ev(BJ, 5, room="a"), ev(BJ, 9, room="b"), ev(BL, 9, room="a")],
            Presence.IN_MEETING,
            True,
            id="moved-rooms-same-time",
        ),
        pytest.param(
            [ev(J, 0), ev(BJ, 5, room="a"), ev(L, 9)],
            Presence.LEFT,
            False,
            id="leave-resets",
        ),
    ],
)
def test_connection_state_presence(
    events: list[ConnectionEvent], presence: Presence, in_breakout: bool
) -> None:
    state = connection_state(events, ended=False)
    assert (state.presence, state.in_breakout_room) == (presence, in_breakout)


@pytest.mark.parametrize(
    ("events", "sharing", "audio", "video"),
    [
        pytest.param([], False, None, None, id="never"),
        pytest.param([ev(Kind.SHARING_STARTED, 1)], True, None, None, id="sharing"),
        pytest.param(
            [ev(Kind.SHARING_ENDED, 2), ev(Kind.SHARING_STARTED, 1)],
            False,
            None,
            None,
            id="sharing-ended",
        ),
        pytest.param(
            [ev(Kind.UPDATED, 1, detail="audio=on,video=off,sharing=on")],
            True,
            True,
            False,
            id="all-flags",
        ),
        pytest.param(
            [
                ev(Kind.UPDATED, 2, detail="video=true"),
                ev(Kind.UPDATED, 1, detail="audio=on,video=false"),
            ],
            False,
            True,
            True,
            id="subset-later-wins",
        ),
        pytest.param(
            [ev(Kind.UPDATED, 1, detail=" Audio = OFF , colour=red, video=maybe")],
            False,
            False,
            None,
            id="lenient-parse",
        ),
    ],
)
def test_connection_state_flags(
    events: list[ConnectionEvent], sharing: bool, audio: bool | None, video: bool | None
) -> None:
    state = connection_state(events, ended=False)
    assert (state.sharing, state.audio, state.video) == (sharing, audio, video)


@pytest.mark.parametrize(
    ("events", "role"),
    [
        ([], ""),
        ([ev(Kind.ROLE_CHANGED, 1, detail="co-host")], "co-host"),
        (
            [
                ev(Kind.ROLE_CHANGED, 5, detail="attendee"),
                ev(Kind.ROLE_CHANGED, 1, detail="co-host"),
            ],
            "attendee",
        ),
    ],
)
def test_connection_state_role_is_latest(
    events: list[ConnectionEvent], role: str
) -> None:
    assert connection_state(events, ended=False).role == role


def test_connection_state_ended_clears_live_flags() -> None:
    events = [ev(J, 0), ev(BJ, 5, room="a"), ev(Kind.SHARING_STARTED, 6)]
    state = connection_state(events, ended=True)
    assert (state.presence, state.in_breakout_room, state.sharing) == (
        Presence.LEFT,
        False,
        False,
    )


def test_connection_state_first_event_at() -> None:
    events = [ev(L, 9), ev(Kind.JBH_WAITING, 2), ev(J, 3)]
    assert connection_state(events, ended=False).first_event_at == t(2)
    assert connection_state([], ended=False).first_event_at is None


def test_connection_state_ignores_order_at_equal_times() -> None:
    same_time = [
        ev(Kind.ROLE_CHANGED, 5, detail="attendee"),
        ev(Kind.ROLE_CHANGED, 5, detail="co-host"),
        ev(Kind.UPDATED, 5, detail="audio=on"),
        ev(Kind.UPDATED, 5, detail="audio=off"),
        ev(Kind.SHARING_ENDED, 5),
        ev(Kind.SHARING_STARTED, 5),
        ev(J, 5),
        ev(L, 5),
    ]
    states = {
        connection_state(order, ended=False)
        for order in itertools.permutations(same_time)
    }
    assert len(states) == 1
    (state,) = states
    assert (state.role, state.audio, state.sharing, state.presence) == (
        "co-host",
        True,
        False,
        Presence.LEFT,
    )
