"""One connection's events swept into intervals and folded into its current state (§5.1)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from attendance.core import intervals as iv
from attendance.core.model import ConnectionEvent, Interval, Kind, Presence

#: Order of kinds at equal times. Leaving a waiting state comes before entering the
#: meeting (Zoom sends ``left_waiting_room`` with ``admitted`` at the same instant),
#: openers come before closers (a join and a leave at the same time make an empty
#: interval, never a dangling open one), neutral events sit in between.
_KIND_ORDER: dict[Kind, int] = {
    kind: rank
    for rank, kind in enumerate(
        (
            Kind.JOINED_WAITING_ROOM,
            Kind.JBH_WAITING,
            Kind.LEFT_WAITING_ROOM,
            Kind.JBH_WAITING_LEFT,
            Kind.ADMITTED,
            Kind.JBH_JOINED,
            Kind.JOINED,
            Kind.BREAKOUT_JOINED,
            Kind.ROLE_CHANGED,
            Kind.SHARING_STARTED,
            Kind.UPDATED,
            Kind.SHARING_ENDED,
            Kind.BREAKOUT_LEFT,
            Kind.PUT_IN_WAITING_ROOM,
            Kind.LEFT,
        )
    )
}

_MAIN_CLOSERS = frozenset({Kind.LEFT, Kind.PUT_IN_WAITING_ROOM})
_IN_MEETING = frozenset({Kind.JOINED, Kind.ADMITTED, Kind.JBH_JOINED})
_LEAVING = frozenset({Kind.LEFT, Kind.JBH_WAITING_LEFT, Kind.LEFT_WAITING_ROOM})
_WAITING = frozenset(
    {Kind.JOINED_WAITING_ROOM, Kind.PUT_IN_WAITING_ROOM, Kind.JBH_WAITING}
)
_TRUE = frozenset({"on", "true"})
_FALSE = frozenset({"off", "false"})


@dataclass(frozen=True, slots=True)
class ConnState:
    """Where one connection is now and what it is doing, for the live dashboard."""

    presence: Presence
    in_breakout_room: bool
    sharing: bool
    audio: bool | None
    video: bool | None
    #: The latest ROLE_CHANGED detail, "" if the role never changed.
    role: str
    first_event_at: datetime | None
    #: When ``audio``, ``video`` and ``role`` were last set: to pick the most recent
    #: value across a person's connections.
    audio_at: datetime | None = None
    video_at: datetime | None = None
    role_at: datetime | None = None


def ordered(events: Iterable[ConnectionEvent]) -> list[ConnectionEvent]:
    """Return the distinct events in sweep order, so delivery order and duplicates vanish."""
    return sorted(
        set(events), key=lambda e: (e.at, _KIND_ORDER[e.kind], e.room, e.detail)
    )


def sweep(
    events: Iterable[ConnectionEvent],
    end: datetime,
    ended: bool,
    reported: Sequence[Interval] = (),
) -> tuple[list[Interval], list[Interval], ConnState]:
    """Return main intervals, breakout intervals and state, ordering the events only once.

    ``reported``: the connection's report rows (§6), see ``main_intervals``.
    """
    distinct = ordered(events)
    main = _main(distinct, end, reported)
    return main, _breakout(distinct, end), _state(distinct, ended)


def main_intervals(
    events: Iterable[ConnectionEvent], end: datetime, reported: Sequence[Interval] = ()
) -> list[Interval]:
    """Sweep main-room joins and leaves into intervals, closing one still open at ``end``.

    With ``reported`` (the connection's rows of Zoom's participant report) the
    webhooks win, except as §6 says: an interval closed at ``end`` for want of a
    leave ends at the rows' latest leave if earlier (never before its start), and
    a connection with no main-room interval takes the rows' union as its intervals.
    """
    return _main(ordered(events), end, reported)


def breakout_intervals(
    events: Iterable[ConnectionEvent], end: datetime
) -> list[Interval]:
    """Sweep breakout joins and leaves per room into intervals, closing open ones at ``end``."""
    return _breakout(ordered(events), end)


def connection_state(events: Iterable[ConnectionEvent], ended: bool) -> ConnState:
    """Fold a connection's distinct events, in time order, into its current state."""
    return _state(ordered(events), ended)


def _main(
    events: list[ConnectionEvent], end: datetime, reported: Sequence[Interval] = ()
) -> list[Interval]:
    """Sweep ordered events into main-room intervals (§5.1), reconciled with ``reported``."""
    intervals: list[Interval] = []
    opened: datetime | None = None
    for event in events:
        if event.kind is Kind.JOINED:
            if opened is None:
                opened = event.at
        elif event.kind in _MAIN_CLOSERS and opened is not None:
            intervals.append(Interval(opened, event.at))
            opened = None
    left_open = opened is not None and end > opened
    if opened is not None and left_open:
        intervals.append(Interval(opened, end))
    main = [i for i in intervals if i.end > i.start]
    return _reconciled(main, left_open, end, reported) if reported else main


def _reconciled(
    main: list[Interval], left_open: bool, end: datetime, reported: Sequence[Interval]
) -> list[Interval]:
    """Apply the report's two exceptions to the webhooks' main intervals (§6)."""
    if not main:
        return iv.union(reported)
    leave = max(i.end for i in reported)
    if left_open and leave < end:
        # The last interval is the one closed at E: a leave Zoom never delivered.
        last = main[-1]
        main[-1] = Interval(last.start, max(last.start, leave))
        return [i for i in main if i.end > i.start]
    return main


def _breakout(events: list[ConnectionEvent], end: datetime) -> list[Interval]:
    """Sweep ordered events into breakout intervals, per room (§5.1)."""
    intervals: list[Interval] = []
    opened: dict[str, datetime] = {}
    for event in events:
        if event.kind is Kind.BREAKOUT_JOINED:
            opened.setdefault(event.room, event.at)
        elif event.kind is Kind.BREAKOUT_LEFT and event.room in opened:
            intervals.append(Interval(opened.pop(event.room), event.at))
    intervals.extend(Interval(at, end) for at in opened.values() if end > at)
    return sorted(i for i in intervals if i.end > i.start)


def _state(events: list[ConnectionEvent], ended: bool) -> ConnState:
    """Fold ordered events into the connection's current state."""
    main = Presence.LEFT  # where the main-room events alone put it
    presence = main  # where the latest event put it
    rooms: set[str] = set()  # breakout rooms it is in: moving rooms never drops it out
    sharing = False
    audio: bool | None = None
    video: bool | None = None
    audio_at: datetime | None = None
    video_at: datetime | None = None
    role = ""
    role_at: datetime | None = None
    for event in events:
        kind = event.kind
        if kind in _IN_MEETING:
            main = presence = Presence.IN_MEETING
        elif kind in _LEAVING:
            # LEFT_WAITING_ROOM sorts before JOINED/ADMITTED at the same time, and a
            # later one overrides it anyway: "left unless admitted at or after".
            main = presence = Presence.LEFT
            rooms.clear()
        elif kind in _WAITING:
            main = presence = Presence.IN_WAITING_ROOM
        elif kind is Kind.BREAKOUT_JOINED:
            # A breakout connection often has only breakout events: in a room is in
            # the meeting; leaving the room goes back to where the main room left it.
            rooms.add(event.room)
            presence = Presence.IN_MEETING
        elif kind is Kind.BREAKOUT_LEFT and event.room in rooms:
            rooms.discard(event.room)
            presence = Presence.IN_MEETING if rooms else main
        elif kind is Kind.SHARING_STARTED:
            sharing = True
        elif kind is Kind.SHARING_ENDED:
            sharing = False
        elif kind is Kind.ROLE_CHANGED:
            role, role_at = event.detail.strip(), event.at
        elif kind is Kind.UPDATED:
            flags = _parse_flags(event.detail)
            if "audio" in flags:
                audio, audio_at = flags["audio"], event.at
            if "video" in flags:
                video, video_at = flags["video"], event.at
            if "sharing" in flags:
                sharing = flags["sharing"]
    if ended:
        presence, sharing = Presence.LEFT, False
        rooms.clear()
    return ConnState(
        presence=presence,
        in_breakout_room=bool(rooms),
        sharing=sharing,
        audio=audio,
        video=video,
        role=role,
        first_event_at=events[0].at if events else None,
        audio_at=audio_at,
        video_at=video_at,
        role_at=role_at,
    )


@functools.lru_cache(maxsize=256)
def _parse_flags(detail: str) -> Mapping[str, bool]:
    """Read "audio=on,video=off,sharing=true"; unknown keys and values are ignored.

    Cached (the same few details repeat all meeting long): never mutate the result.
    """
    flags: dict[str, bool] = {}
    for part in detail.split(","):
        key, _, value = part.partition("=")
        key, value = key.strip().casefold(), value.strip().casefold()
        if key in ("audio", "video", "sharing"):
            if value in _TRUE:
                flags[key] = True
            elif value in _FALSE:
                flags[key] = False
    return flags


def open_sweep(
    events: Iterable[ConnectionEvent],
) -> list[tuple[str, str, tuple[datetime, datetime | None]]]:
    """A connection's intervals as stored: (kind "main"/"breakout", room, (start, end)).

    Like ``main_intervals`` and ``breakout_intervals`` but an interval still open
    keeps ``None`` as its end instead of being closed at E.
    """
    far = datetime.max.replace(tzinfo=UTC)
    out: list[tuple[str, str, tuple[datetime, datetime | None]]] = []
    evs = list(events)
    for interval in main_intervals(evs, far):
        out.append(
            (
                "main",
                "",
                (interval.start, None if interval.end == far else interval.end),
            )
        )
    for room in sorted({e.room for e in evs if e.room}):
        in_room = [e for e in evs if e.room == room]
        for interval in breakout_intervals(in_room, far):
            end = None if interval.end == far else interval.end
            out.append(("breakout", room, (interval.start, end)))
    return out
