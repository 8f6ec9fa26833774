"""One meeting's attendance from its stored facts: persons, records, guests (CONTRACT §5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from attendance.core import intervals as iv
from attendance.core.matching import Roster, normalize_email, normalize_name
from attendance.core.model import (
    Connection,
    IdentityLink,
    Interval,
    Kind,
    LinkKind,
    LinkSource,
    MatchedBy,
    MeetingFacts,
    MeetingResult,
    Person,
    Policy,
    Presence,
    Record,
    Student,
)
from attendance.core.policy import attended_percent, status_for
from attendance.core.reconcile import ReportRow, reconcile
from attendance.core.schedule import Window, classify
from attendance.core.sessions import ConnState, sweep
from attendance.core.status import Status

_NEVER = datetime.min.replace(tzinfo=UTC)  # sorts "no time" consistently
_SECOND = timedelta(seconds=1)
_STEP_RANK = {step: rank for rank, step in enumerate(MatchedBy)}
_COHOST_ROLES = frozenset({"host", "co-host"})
_LEARNED_FROM = frozenset({MatchedBy.EMAIL, MatchedBy.ALIAS})


@dataclass(frozen=True, slots=True)
class _Conn:
    """A connection with what the meeting derives from it alone."""

    conn: Connection
    state: ConnState
    #: Main-room and breakout intervals, already clipped to [S', E'] (§5.9).
    main: tuple[Interval, ...]
    breakout: tuple[Interval, ...]
    student_pk: int | None
    matched_by: MatchedBy | None
    zoom_user_id: str
    registrant_id: str
    email: str

    @property
    def identified(self) -> bool:
        """Whether it carries anything that merges persons besides its display name."""
        return bool(
            self.student_pk is not None
            or self.zoom_user_id
            or self.registrant_id
            or self.email
        )


class DerivationCache:
    """What one meeting's connections derive on their own, kept between computations.

    A late event changes one connection; the thousands of others derive exactly
    what they did last time. An entry is reused only for the same connection (the
    same object, or a reloaded one equal in every field and event) under the same
    S', E', E and roster: a derivation is a pure function of exactly those.
    """

    def __init__(self) -> None:
        self._context: tuple[object, ...] | None = None
        self._entries: dict[int, tuple[Connection, _Conn]] = {}
        #: Persons by their connections' pks: reused while every derivation is.
        self._persons: dict[tuple[int, ...], tuple[list[_Conn], str, Person]] = {}
        self._index: tuple[Sequence[Student], tuple[IdentityLink, ...], Roster] | None
        self._index = None

    def roster_index(
        self, roster: Sequence[Student], links: Sequence[IdentityLink]
    ) -> Roster:
        """``Roster(roster, links)``, reused for the same roster list and equal links."""
        links = tuple(links)
        if self._index is not None:
            last_roster, last_links, index = self._index
            if last_roster is roster and last_links == links:
                return index
        index = Roster(roster, links)
        self._index = (roster, links, index)
        return index

    def person(self, conns: list[_Conn], host_id: str) -> Person:
        """``_person(conns, host_id)``, reused when the very same derivations recur."""
        key = tuple([c.conn.pk for c in conns])
        cached = self._persons.get(key)
        # List equality tries identity first: the same derivations compare at C speed.
        if cached is not None and cached[1] == host_id and cached[0] == conns:
            return cached[2]
        made = _person(conns, host_id)
        self._persons[key] = (conns, host_id, made)
        return made

    def derive(
        self,
        conn: Connection,
        index: Roster,
        span: tuple[datetime | None, datetime],
        end: datetime,
        ended: bool,
    ) -> _Conn:
        cached = self._entries.get(conn.pk)
        if cached is not None and (cached[0] is conn or cached[0] == conn):
            return cached[1]
        derived = _derive(conn, index, span, end, ended)
        self._entries[conn.pk] = (conn, derived)
        return derived

    def prepare(self, context: tuple[object, ...]) -> None:
        """Forget everything unless S', E', E, the roster and the links are unchanged."""
        if context != self._context:
            self._context = context
            self._entries.clear()
            self._persons.clear()


def meeting_start(
    started_at: datetime | None, connections: Sequence[Connection]
) -> datetime | None:
    """S of CONTRACT §5: ``meeting.started``'s time, else the earliest main-room join."""
    if started_at is not None:
        return started_at
    joins = [e.at for c in connections for e in c.events if e.kind is Kind.JOINED]
    return min(joins, default=None)


def compute_meeting(
    facts: MeetingFacts,
    connections: Sequence[Connection],
    roster: Sequence[Student],
    links: Sequence[IdentityLink],
    policy: Policy,
    now: datetime,
    cache: DerivationCache | None = None,
    persons_only: bool = False,
    report: Sequence[ReportRow] = (),
) -> MeetingResult:
    """Derive a meeting's persons and attendance from the set of its events (§5).

    ``cache`` (optional) reuses per-connection derivations of an earlier call
    for the same meeting; the result is identical with or without it.
    ``persons_only`` stops after the persons (no records, guests or links): what
    the live room needs, at about half the cost for a large meeting.
    ``report`` (optional) are the meeting's participant report rows: the
    connections are reconciled with them first (§6, ``core.reconcile``).
    """
    end = facts.ended_at if facts.ended_at is not None else now
    if report:
        connections = reconcile(connections, report, end).connections
    start = meeting_start(facts.started_at, connections)
    window = classify(start, facts.ended_at, facts.schedule)
    span = _span(window, end)
    index = cache.roster_index(roster, links) if cache else Roster(roster, links)
    ended = facts.ended_at is not None
    if cache is not None:
        cache.prepare((span, end, ended, tuple(roster), tuple(links)))
        derived = (cache.derive(c, index, span, end, ended) for c in connections)
    else:
        derived = (_derive(c, index, span, end, ended) for c in connections)
    conns = sorted(
        derived,
        key=lambda d: (*_time_key(d.state.first_event_at), d.conn.key),
    )
    host_id = facts.host_id.strip()
    make = cache.person if cache is not None else _person
    persons = tuple(make(group, host_id) for group in _merge(conns))
    if persons_only:
        visible_count = sum(1 for p in persons if not p.is_host)
        return MeetingResult(
            start=start,
            end=end,
            persons=persons,
            records=(),
            guests=(),
            participant_count=visible_count,
            window=window,
        )
    lo, hi = span
    duration = hi - lo if lo is not None else timedelta(0)
    by_student = {
        p.student_pk: p for p in persons if p.student_pk is not None and not p.is_host
    }
    records = tuple(
        _record(s.pk, by_student.get(s.pk), lo, hi, duration, policy) for s in roster
    )
    visible = [p for p in persons if not p.is_host]
    guests = tuple(
        sorted(
            (p for p in visible if p.student_pk is None),
            key=lambda p: (*_time_key(p.first_join), p.name, p.pk),
        )
    )
    return MeetingResult(
        start=start,
        end=end,
        persons=persons,
        records=records,
        guests=guests,
        participant_count=len(visible),
        learned_links=_learned_links(visible),
        window=window,
    )


def _span(window: Window, end: datetime) -> tuple[datetime | None, datetime]:
    """[S', E'] of the window; while live E' is now (``end``), at most the slot's end."""
    hi = end if window.end is None else window.end
    if window.limit is not None:
        hi = min(hi, window.limit)
    return window.start, hi


def _derive(
    conn: Connection,
    roster: Roster,
    span: tuple[datetime | None, datetime],
    end: datetime,
    ended: bool,
) -> _Conn:
    """Sweep (open intervals close at E), clip to [S', E'] and match one connection."""
    zoom_user_id, registrant_id = conn.zoom_user_id.strip(), conn.registrant_id.strip()
    student_pk, matched_by = roster.match(
        conn.name, conn.email, (zoom_user_id,), (registrant_id,)
    )
    main, breakout, state = sweep(conn.events, end, ended, conn.reported)
    lo, hi = span
    if lo is None:  # no [S, E] to clip to: nothing can count
        main, breakout = [], []
    else:
        main, breakout = iv.clip(main, lo, hi), iv.clip(breakout, lo, hi)
    return _Conn(
        conn=conn,
        state=state,
        main=tuple(main),
        breakout=tuple(breakout),
        student_pk=student_pk,
        matched_by=matched_by,
        zoom_user_id=zoom_user_id,
        registrant_id=registrant_id,
        email=normalize_email(conn.email),
    )


def _merge(conns: Sequence[_Conn]) -> list[list[_Conn]]:
    """Group connections into persons (§5.2); groups and members keep ``conns`` order."""
    parent = list(range(len(conns)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    owner: dict[tuple[str, object], int] = {}
    by_key: dict[str, int] = {}
    for i, c in enumerate(conns):
        by_key.setdefault(c.conn.key, i)
    for i, c in enumerate(conns):
        if c.identified:
            keys: list[tuple[str, object]] = [
                ("student", c.student_pk),
                ("zoom_user", c.zoom_user_id),
                ("registrant", c.registrant_id),
                ("email", c.email),
            ]
        elif c.conn.parent_key:
            # A breakout connection with no identifiers of its own: its main-room
            # connection's person, or a person of its own (never merged by name).
            if c.conn.parent_key in by_key:
                join(i, by_key[c.conn.parent_key])
            continue
        else:
            # Only display names are left, and they merge only among themselves.
            keys = [("name", normalize_name(c.conn.name))]
        for key in keys:
            if key[1] is None or key[1] == "":
                continue
            if key in owner:
                join(i, owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[_Conn]] = {}
    for i, c in enumerate(conns):
        groups.setdefault(find(i), []).append(c)
    return [groups[root] for root in sorted(groups)]


def _person(conns: list[_Conn], host_id: str) -> Person:
    """Build one person from its connections, earliest first."""
    first = conns[0]
    is_host = bool(host_id) and any(c.zoom_user_id == host_id for c in conns)
    # The earliest step wins; min() keeps the earliest connection among equals. The
    # host's own roster match (an instructor on the roster) is not a student's.
    matches = [
        (c.matched_by, c.student_pk)
        for c in conns
        if c.matched_by is not None and c.student_pk is not None and not is_host
    ]
    matched_by, student_pk = min(
        matches, key=lambda m: _STEP_RANK[m[0]], default=(None, None)
    )
    spans = iv.union(i for c in conns for i in (*c.main, *c.breakout))
    states = [c.state for c in conns]
    presences = {s.presence for s in states}
    presence = next(
        (p for p in (Presence.IN_MEETING, Presence.IN_WAITING_ROOM) if p in presences),
        Presence.LEFT,
    )
    return Person(
        pk=first.conn.pk,
        connection_pks=tuple(c.conn.pk for c in conns),
        name=first.conn.name,
        email=next((c.conn.email for c in conns if c.conn.email), ""),
        zoom_user_ids=tuple(sorted({c.zoom_user_id for c in conns} - {""})),
        registrant_ids=tuple(sorted({c.registrant_id for c in conns} - {""})),
        student_pk=student_pk,
        matched_by=matched_by,
        is_host=is_host,
        role="host" if is_host else _role(states),
        intervals=tuple(spans),
        attended_seconds=iv.total(spans) // _SECOND,
        first_join=spans[0].start if spans else None,
        last_leave=spans[-1].end if spans else None,
        sessions=sum(1 for c in conns if c.main),
        presence=presence,
        in_breakout_room=any(s.in_breakout_room for s in states),
        sharing=any(s.sharing for s in states),
        audio=_latest_flag([(s.audio_at, s.audio) for s in states]),
        video=_latest_flag([(s.video_at, s.video) for s in states]),
    )


def _role(states: Sequence[ConnState]) -> str:
    """Return "co-host" if the person's latest role change made them host or co-host."""
    changes = [(s.role_at, s.role) for s in states if s.role_at is not None]
    if not changes:
        return "guest"
    _, role = max(changes)
    return "co-host" if role.casefold() in _COHOST_ROLES else "guest"


def _latest_flag(values: Sequence[tuple[datetime | None, bool | None]]) -> bool | None:
    """Return the most recently set value of a flag across connections, None if never set."""
    seen = [(at, value) for at, value in values if at is not None]
    return max(seen)[1] if seen else None


def _record(
    student_pk: int,
    person: Person | None,
    start: datetime | None,
    end: datetime,
    duration: timedelta,
    policy: Policy,
) -> Record:
    """Return one roster student's attendance, Absent if no person matched them."""
    if person is None:
        return Record(
            student_pk=student_pk,
            status=Status.ABSENT,
            late=False,
            left_early=False,
            attended_seconds=0,
            attended_percent=0.0,
            first_join=None,
            last_leave=None,
            sessions=0,
            matched_by=None,
            participant_pk=None,
        )
    attended = iv.total(person.intervals)
    status, late, left_early = status_for(
        person.first_join, person.last_leave, attended, start, end, policy
    )
    return Record(
        student_pk=student_pk,
        status=status,
        late=late,
        left_early=left_early,
        attended_seconds=person.attended_seconds,
        attended_percent=attended_percent(attended, duration),
        first_join=person.first_join,
        last_leave=person.last_leave,
        sessions=person.sessions,
        matched_by=person.matched_by,
        participant_pk=person.pk,
    )


def _learned_links(persons: Sequence[Person]) -> tuple[IdentityLink, ...]:
    """Return the ids of persons matched by email or alias, for later meetings to match."""
    found: set[tuple[LinkKind, str, int]] = set()
    for p in persons:
        if p.student_pk is None or p.matched_by not in _LEARNED_FROM:
            continue
        found.update((LinkKind.ZOOM_USER, v, p.student_pk) for v in p.zoom_user_ids)
        found.update((LinkKind.REGISTRANT, v, p.student_pk) for v in p.registrant_ids)
    return tuple(
        IdentityLink(kind, value, student_pk, LinkSource.LEARNED)
        for kind, value, student_pk in sorted(found)
    )


def _time_key(at: datetime | None) -> tuple[bool, datetime]:
    """Sort key putting a missing time last."""
    return (at is None, at if at is not None else _NEVER)
