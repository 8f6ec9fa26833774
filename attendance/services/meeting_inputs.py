"""What a meeting's attendance is computed from, read as the core's plain objects.

Its connections and their events, the course's roster (kept per process while
unchanged), identity links and policy: a few column queries, no ORM objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select

from attendance.core.compute import DerivationCache, meeting_start
from attendance.core.enrollment import withdrawn_from
from attendance.core.matching import is_specific_name
from attendance.core.model import (
    Connection,
    ConnectionEvent,
    IdentityLink,
    Kind,
    LinkKind,
    LinkSource,
    MeetingFacts,
    Policy,
    Source,
    Student,
)
from attendance.core.reconcile import ReportRow, ReportStatus
from attendance.core.schedule import Schedule, Slot, zone_named
from attendance.errors import NotFound
from attendance.extensions import db
from attendance.models import (
    Course,
    IdentityLinkRow,
    Meeting,
    Participant,
    ParticipantEvent,
    ReportRowRecord,
    StudentAlias,
)
from attendance.models import Student as StudentRow
from attendance.models.types import from_micros, utcnow
from attendance.text import is_digits


@dataclass(frozen=True, slots=True)
class MeetingInputs:
    """Everything ``compute_meeting`` needs for one meeting, loaded in a few queries."""

    facts: MeetingFacts
    connections: list[Connection]
    roster: list[Student]
    links: list[IdentityLink]
    policy: Policy
    #: Per-connection derivations kept from an earlier computation, if cached.
    derivations: DerivationCache | None = None
    #: The meeting's participant report rows, once reconciled (CONTRACT §6).
    report: tuple[ReportRow, ...] = ()


def load_events(condition) -> dict[int, dict]:
    """Participant events matching ``condition``, by participant: its meeting and events."""
    kinds = {k.value: k for k in Kind}
    out: dict[int, dict] = {}
    for pid, mid, kind, at_us, room, detail in db.session.connection().execute(
        select(
            ParticipantEvent.participant_id,
            ParticipantEvent.meeting_id,
            ParticipantEvent.kind,
            ParticipantEvent.at_us,
            ParticipantEvent.room,
            ParticipantEvent.detail,
        ).where(condition)
    ):
        entry = out.get(pid)
        if entry is None:
            entry = out[pid] = {"meeting_id": mid, "events": []}
        at = from_micros(at_us)
        entry["events"].append(
            ConnectionEvent(kinds[kind], at, room or "", detail or "")
        )
    return out


def load_connections(meeting_id: int, only: set[int] | None = None) -> list[Connection]:
    """The meeting's connections with their event sets (two queries, no ORM objects).

    Executed on the session's connection, not the session: column rows need none
    of the ORM's loading machinery, which cost more than the query here.
    """
    conn = db.session.connection()
    if only is None:
        events = load_events(ParticipantEvent.meeting_id == meeting_id)
        which = Participant.meeting_id == meeting_id
    else:
        events = load_events(ParticipantEvent.participant_id.in_(sorted(only)))
        which = Participant.id.in_(sorted(only))
    rows = conn.execute(
        select(
            Participant.id,
            Participant.user_key,
            Participant.name,
            Participant.email,
            Participant.zoom_user_id,
            Participant.registrant_id,
            Participant.parent_key,
        ).where(which)
    )
    return [
        Connection(
            key=key,
            pk=pk,
            name=name or "",
            email=email or "",
            zoom_user_id=zoom_user_id or "",
            registrant_id=registrant_id or "",
            parent_key=parent_key or "",
            events=tuple(events.get(pk, {}).get("events", ())),
            # A connection with no event of its own was made by reconciliation
            # from the report alone: its rows are its events (core.reconcile).
            source=Source.WEBHOOK if pk in events else Source.REPORT,
        )
        for pk, key, name, email, zoom_user_id, registrant_id, parent_key in rows
    ]


def load_report(meeting_id: int) -> tuple[ReportRow, ...]:
    """The meeting's stored report rows (none until it is reconciled)."""
    return tuple(
        ReportRow(
            user_id=key,
            join_time=from_micros(join_us),
            leave_time=from_micros(leave_us),
            name=name or "",
            email=email or "",
            zoom_user_id=zoom_user_id or "",
            registrant_id=registrant_id or "",
            status=ReportStatus(status)
            if status in ReportStatus._value2member_map_
            else ReportStatus.IN_MEETING,
        )
        for key, join_us, leave_us, name, email, zoom_user_id, registrant_id, status in (
            db.session.connection().execute(
                select(
                    Participant.user_key,
                    ReportRowRecord.join_us,
                    ReportRowRecord.leave_us,
                    ReportRowRecord.name,
                    ReportRowRecord.email,
                    ReportRowRecord.zoom_user_id,
                    ReportRowRecord.registrant_id,
                    ReportRowRecord.status,
                )
                .join(Participant, Participant.id == ReportRowRecord.participant_id)
                .where(ReportRowRecord.meeting_id == meeting_id)
            )
        )
    )


@dataclass(slots=True)
class _KeptRoster:
    """A course's full roster under one stamp, and the meeting rosters cut from it."""

    stamp: int
    students: list[Student]
    #: The pks off a meeting's roster (withdrawn) -> the roster without them: the
    #: same list for every meeting they are off, so the core reuses its index.
    without: dict[frozenset[int], list[Student]] = field(default_factory=dict)


#: course id -> its roster: rosters change only by an import or a student's edit,
#: and both give the course a new ``roster_version`` stamp.
_rosters: dict[int, _KeptRoster] = {}
_ROSTERS_KEPT = 64


def load_roster(course_id: int | None) -> list[Student]:
    """The course's students as the core sees them (aliases split into e-mails and names).

    Every student, withdrawn or not: ``meeting_roster`` is a meeting's. Kept per
    process while the course's ``roster_version`` stamp is unchanged (the same
    list object, which lets the core reuse its matching index too).
    """
    if course_id is None:
        return []
    stamp = db.session.scalar(
        select(Course.roster_version).where(Course.id == course_id)
    )
    cached = _rosters.get(course_id)
    if stamp and cached is not None and cached.stamp == stamp:
        return cached.students
    roster = _load_roster(course_id)
    if stamp:  # 0: no import has stamped this roster yet; nothing to key on
        if len(_rosters) >= _ROSTERS_KEPT:
            _rosters.clear()
        _rosters[course_id] = _KeptRoster(stamp, roster)
    return roster


def meeting_roster(
    meeting: Meeting,
    roster: list[Student] | None = None,
    connections: Sequence[Connection] | None = None,
) -> list[Student]:
    """The students on ``meeting``'s roster: the course's, less those withdrawn (§5.8).

    ``roster``: the course's roster (or a meeting's already), when the caller
    holds it; ``connections``: the meeting's, to find its start without a query
    when Zoom sent no ``meeting.started``. The same list comes back for the same
    roster and the same students off it.
    """
    return _roster_at(
        meeting.course_id, roster, lambda: _meeting_start(meeting, connections)
    )


def roster_now(course_id: int | None) -> list[Student]:
    """The course's students enrolled today: a meeting starting now has them."""
    return _roster_at(course_id, None, utcnow)


def _roster_at(
    course_id: int | None,
    roster: list[Student] | None,
    start: Callable[[], datetime],
) -> list[Student]:
    """The course's roster less the students withdrawn by ``start()`` (read if needed)."""
    full = load_roster(course_id) if roster is None else roster
    if course_id is None or all(s.withdrawn_on is None for s in full):
        return full
    course = db.session.get(Course, course_id)
    gone = withdrawn_from(full, start(), zone_named(course.timezone if course else ""))
    if not gone:
        return full
    kept = _rosters.get(course_id)
    if kept is None or kept.students is not full:
        return [s for s in full if s.pk not in gone]
    cut = kept.without.get(gone)
    if cut is None:
        cut = kept.without[gone] = [s for s in full if s.pk not in gone]
    return cut


def _meeting_start(
    meeting: Meeting, connections: Sequence[Connection] | None
) -> datetime:
    """When the instance starts, for the roster rule: S of CONTRACT §5 where known.

    S is ``meeting.started``'s time, else the earliest main-room join; an
    instance with neither yet (nothing but an end, or nothing at all) is placed
    at its end, else now.
    """
    if connections is not None:
        start = meeting_start(meeting.start_time, connections)
        if start is not None:
            return start
    elif meeting.start_time is not None:
        return meeting.start_time
    elif meeting.id is not None:
        first = db.session.scalar(
            select(func.min(ParticipantEvent.at_us)).where(
                ParticipantEvent.meeting_id == meeting.id,
                ParticipantEvent.kind == Kind.JOINED.value,
            )
        )
        if first is not None:
            return from_micros(first)
    return meeting.effective_end or utcnow()


def forget_rosters() -> None:
    """Drop this process's roster cache (tests that reset the database)."""
    _rosters.clear()


def _load_roster(course_id: int) -> list[Student]:
    conn = db.session.connection()
    aliases: dict[int, list[str]] = defaultdict(list)
    for student_pk, value in conn.execute(
        select(StudentAlias.student_id, StudentAlias.value)
        .join(StudentRow, StudentRow.id == StudentAlias.student_id)
        .where(StudentRow.course_id == course_id)
        .order_by(StudentAlias.id)
    ):
        aliases[student_pk].append(value)
    rows = conn.execute(
        select(
            StudentRow.id,
            StudentRow.student_id,
            StudentRow.first_name,
            StudentRow.last_name,
            StudentRow.email,
            StudentRow.withdrawn_on,
        )
        .where(StudentRow.course_id == course_id)
        .order_by(StudentRow.last_name, StudentRow.first_name, StudentRow.student_id)
    )
    return [
        Student(
            pk=pk,
            student_id=student_id,
            first_name=first or "",
            last_name=last or "",
            email=email or "",
            alias_emails=tuple(a for a in aliases.get(pk, ()) if "@" in a),
            alias_names=tuple(a for a in aliases.get(pk, ()) if "@" not in a),
            withdrawn_on=withdrawn_on,
        )
        for pk, student_id, first, last, email, withdrawn_on in rows
    ]


def load_links(meeting: Meeting) -> list[IdentityLink]:
    """Manual links (remembered ones, and this meeting's own), links learned in
    *earlier* meetings of the course, and the Zoom account's (true for every meeting)."""
    if meeting.course_id is None:
        return []
    earlier = IdentityLinkRow.source == LinkSource.LEARNED.value
    if meeting.start_time is not None:
        earlier = earlier & (IdentityLinkRow.learned_at < meeting.start_time)
    else:
        earlier = earlier & (IdentityLinkRow.meeting_id != meeting.id)
    rows = db.session.execute(
        select(
            IdentityLinkRow.kind,
            IdentityLinkRow.value,
            IdentityLinkRow.student_id,
            IdentityLinkRow.source,
            IdentityLinkRow.meeting_id,
        ).where(
            IdentityLinkRow.course_id == meeting.course_id,
            or_(
                (IdentityLinkRow.source == LinkSource.MANUAL.value)
                & (
                    IdentityLinkRow.meeting_id.is_(None)
                    | (IdentityLinkRow.meeting_id == meeting.id)
                ),
                earlier,
                IdentityLinkRow.source == LinkSource.ACCOUNT.value,
            ),
        )
    )
    # A remembered display name counts only when specific (§5.7): a generic one
    # ("iPhone") stored before that rule must not credit anyone (this meeting's
    # own links may use any name: they keep its match, nothing more).
    return [
        IdentityLink(LinkKind(k), v, sid, LinkSource(src))
        for k, v, sid, src, scope in rows
        if not (
            k == LinkKind.NAME.value
            and src == LinkSource.MANUAL.value
            and scope is None
            and not is_specific_name(v)
        )
    ]


def course_policy(course: Course | None) -> Policy:
    """The course's attendance policy as the core takes it (the defaults without one)."""
    if course is None:
        return Policy()
    return Policy(
        late_after_minutes=course.late_after_minutes,
        left_early_minutes=course.left_early_minutes,
        min_attendance_percent=course.min_attendance_percent,
    )


def course_schedule(course: Course | None) -> Schedule | None:
    """The course's weekly slots in its zone as the core takes them (§5.9); None without."""
    if course is None or not course.slots:
        return None
    slots = tuple(Slot(s.weekday, s.start_minute, s.minutes) for s in course.slots)
    return Schedule(slots, zone_named(course.timezone))


def load_inputs(
    meeting: Meeting,
    connections: list[Connection] | None = None,
    derivations: DerivationCache | None = None,
    roster: list[Student] | None = None,
) -> MeetingInputs:
    """Load one meeting's facts, connections, roster, links and policy.

    ``connections``, ``derivations`` and ``roster``: what the caller holds
    already (a cached copy, see ``meeting_cache``); each is loaded without it.
    The roster is the meeting's: withdrawn students are off it (``meeting_roster``).
    """
    course = db.session.get(Course, meeting.course_id) if meeting.course_id else None
    return MeetingInputs(
        derivations=derivations,
        facts=MeetingFacts(
            started_at=meeting.start_time,
            ended_at=meeting.effective_end,
            host_id=meeting.host_id or "",
            schedule=course_schedule(course),
        ),
        connections=load_connections(meeting.id)
        if connections is None
        else connections,
        roster=meeting_roster(meeting, roster, connections),
        links=load_links(meeting),
        policy=course_policy(course),
        # Only ended meetings are reconciled: a live room's refresh asks nothing more.
        report=load_report(meeting.id) if meeting.effective_end else (),
    )


#: The largest id a database integer holds: a longer number is no meeting's id
#: (SQLite's driver raises OverflowError on one rather than finding nothing).
_MAX_ID = 2**63 - 1
#: A uuid column's length: a longer reference is no meeting's uuid.
_MAX_REF = 255


def find_meeting(ref: str) -> Meeting:
    """A meeting by id or uuid.

    A reference no meeting can have (a NUL, which PostgreSQL refuses in text; more
    than a uuid's length) is none, without asking the database.

    :raises NotFound: when there is none.
    """
    if "\x00" in ref or len(ref) > _MAX_REF:
        raise NotFound("no such meeting (give its id or uuid)")
    meeting = None
    if is_digits(ref) and int(ref) <= _MAX_ID:
        meeting = db.session.get(Meeting, int(ref))
    if meeting is None:
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == ref))
    if meeting is None:
        raise NotFound(f"no meeting {ref!r} (give its id or uuid)")
    return meeting
