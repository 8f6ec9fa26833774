"""Generating a meeting's attendance: load its facts, ``compute_meeting``, store the diff.

Storing only what changed keeps a late event's regeneration cheap: it usually
moves one person, so it writes a handful of rows, not the whole meeting.
"""

from __future__ import annotations

import gc
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select

from attendance.core import sessions as core_sessions
from attendance.core.compute import DerivationCache, compute_meeting
from attendance.core.matching import normalize_name
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
    Student,
)
from attendance.errors import NotFound, ValidationFailed
from attendance.extensions import db
from attendance.models import (
    AttendanceRecord,
    Course,
    IdentityLinkRow,
    Meeting,
    MeetingGuest,
    Participant,
    ParticipantEvent,
    ParticipantSession,
    StudentAlias,
)
from attendance.models import Student as StudentRow
from attendance.models.types import EPOCH, to_micros, utcnow
from attendance.services import meeting_cache
from attendance.services.pacing import offload
from attendance.text import is_digits

log = logging.getLogger(__name__)


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


def _events_where(condition) -> dict[int, dict]:
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
        at = EPOCH + timedelta(microseconds=at_us)
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
        events = _events_where(ParticipantEvent.meeting_id == meeting_id)
        which = Participant.meeting_id == meeting_id
    else:
        events = _events_where(ParticipantEvent.participant_id.in_(sorted(only)))
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
        )
        for pk, key, name, email, zoom_user_id, registrant_id, parent_key in rows
    ]


#: course id -> (its roster stamp, its students): rosters change only by import.
_rosters: dict[int, tuple[int, list[Student]]] = {}
_ROSTERS_KEPT = 64


def load_roster(course_id: int | None) -> list[Student]:
    """The course's students as the core sees them (aliases split into e-mails and names).

    Kept per process while the course's ``roster_version`` stamp is unchanged (the
    same list object, which lets the core reuse its matching index too).
    """
    if course_id is None:
        return []
    stamp = db.session.scalar(
        select(Course.roster_version).where(Course.id == course_id)
    )
    cached = _rosters.get(course_id)
    if stamp and cached is not None and cached[0] == stamp:
        return cached[1]
    roster = _load_roster(course_id)
    if stamp:  # 0: no import has stamped this roster yet; nothing to key on
        if len(_rosters) >= _ROSTERS_KEPT:
            _rosters.clear()
        _rosters[course_id] = (stamp, roster)
    return roster


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
        )
        for pk, student_id, first, last, email in rows
    ]


def load_links(meeting: Meeting) -> list[IdentityLink]:
    """Manual links (remembered ones, and this meeting's own), and links learned in
    *earlier* meetings of the course."""
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
        ).where(
            IdentityLinkRow.course_id == meeting.course_id,
            or_(
                (IdentityLinkRow.source == LinkSource.MANUAL.value)
                & (
                    IdentityLinkRow.meeting_id.is_(None)
                    | (IdentityLinkRow.meeting_id == meeting.id)
                ),
                earlier,
            ),
        )
    )
    return [
        IdentityLink(LinkKind(k), v, sid, LinkSource(src)) for k, v, sid, src in rows
    ]


def _cached_connections(
    meeting: Meeting, changed: tuple[int, set[int]] | None
) -> tuple[list[Connection], DerivationCache | None]:
    """The meeting's connections, from this process's cache where it is current.

    ``changed`` is what the current batch did to the meeting: (its events_version
    after the batch, the connections it touched). Only those are reloaded when the
    cached copy is of the version just before; any other gap means a full load.
    """
    entry = meeting_cache.cache.get(meeting.id, meeting.uuid)
    # Read now, not from the loaded row: another process may have committed since.
    current = db.session.scalar(
        select(Meeting.events_version).where(Meeting.id == meeting.id)
    )
    if entry is not None and changed is not None and entry.version == changed[0] - 1:
        connections = dict(entry.connections)
        for c in load_connections(meeting.id, only=changed[1]):
            connections[c.pk] = c
        fresh = meeting_cache.Entry(
            meeting.uuid, changed[0], connections, entry.derivations
        )
    elif entry is not None and changed is None and entry.version == current:
        fresh = entry
    else:
        version = current
        loaded = {c.pk: c for c in load_connections(meeting.id)}
        fresh = meeting_cache.Entry(meeting.uuid, version, loaded)
    meeting_cache.stage(db.session(), meeting.id, fresh)
    return list(fresh.connections.values()), fresh.derivations


def course_policy(course: Course | None) -> Policy:
    """The course's attendance policy as the core takes it (the defaults without one)."""
    if course is None:
        return Policy()
    return Policy(
        late_after_minutes=course.late_after_minutes,
        left_early_minutes=course.left_early_minutes,
        min_attendance_percent=course.min_attendance_percent,
    )


def load_inputs(
    meeting: Meeting,
    changed: tuple[int, set[int]] | None = None,
    cached: bool = False,
    connections: list[Connection] | None = None,
) -> MeetingInputs:
    """Load one meeting's facts, connections, roster, links and policy."""
    course = db.session.get(Course, meeting.course_id) if meeting.course_id else None
    policy = course_policy(course)
    derivations = None
    if cached:
        connections, derivations = _cached_connections(meeting, changed)
    elif connections is None:
        connections = load_connections(meeting.id)
    return MeetingInputs(
        derivations=derivations,
        facts=MeetingFacts(
            started_at=meeting.start_time,
            ended_at=meeting.effective_end,
            host_id=meeting.host_id or "",
        ),
        connections=connections,
        roster=load_roster(meeting.course_id),
        links=load_links(meeting),
        policy=policy,
    )


def _compute(
    inputs: MeetingInputs, now: datetime, persons_only: bool = False
) -> MeetingResult:
    """Run the pure core with the cyclic garbage collector paused.

    A large meeting allocates ~100,000 short-lived, acyclic objects (events,
    intervals, tuples); reference counting frees them all, but their allocation
    triggers generation-2 collections that cost a third of the computation.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return compute_meeting(
            inputs.facts,
            inputs.connections,
            inputs.roster,
            inputs.links,
            inputs.policy,
            now,
            cache=inputs.derivations,
            persons_only=persons_only,
        )
    finally:
        if paused:
            gc.enable()


def compute(meeting: Meeting, now: datetime | None = None) -> MeetingResult:
    """The meeting's attendance as of ``now`` (E = now while it is live); stores nothing."""
    return _compute(load_inputs(meeting), now or utcnow())


def compute_off_loop(meeting: Meeting, now: datetime | None = None) -> MeetingResult:
    """``compute``, with the pure part on a native thread under eventlet.

    For read paths only (a live meeting's report and CSV): a big class takes a
    second and more, which on the loop delayed every webhook. Never inside a
    write transaction: SQLite's lock would be held while the thread works.
    """
    return offload(_compute, load_inputs(meeting), now or utcnow())


def compute_persons(
    meeting: Meeting,
    end: datetime,
    derivations: DerivationCache | None = None,
    connections: list[Connection] | None = None,
) -> MeetingResult:
    """Only the persons of a meeting up to ``end`` (the live room's view).

    ``connections``: the meeting's connections when the caller holds them already.
    """
    inputs = load_inputs(meeting, connections=connections)
    return _compute(replace(inputs, derivations=derivations), end, persons_only=True)


def generate(
    meeting: Meeting, changed: tuple[int, set[int]] | None = None
) -> MeetingResult:
    """Compute and store an ended meeting's attendance (flushes; the caller commits).

    Manual statuses and notes are kept; everything else follows the events.
    ``changed`` is what the current batch did to the meeting's connections (see
    ``_cached_connections``); with it, unchanged connections come from the cache.
    """
    inputs = load_inputs(meeting, changed, cached=True)
    now = utcnow()
    result = _compute(inputs, now)
    _store_records(meeting, result, now)
    _store_guests(meeting, result)
    _store_learned_links(meeting, result)
    meeting.participant_count = result.participant_count
    meeting.attendance_generated_at = now
    meeting.attendance_error = None
    db.session.flush()
    return result


_RECORD_FIELDS = (
    "status",
    "late",
    "left_early",
    "attended_seconds",
    "attended_percent",
    "first_join",
    "last_leave",
    "sessions",
    "matched_by",
    "participant_id",
)


def _store_records(meeting: Meeting, result: MeetingResult, now: datetime) -> None:
    existing = {
        r.student_id: r
        for r in db.session.scalars(
            select(AttendanceRecord).where(AttendanceRecord.meeting_id == meeting.id)
        )
    }
    for rec in result.records:
        values = {
            "status": rec.status.value,
            "late": rec.late,
            "left_early": rec.left_early,
            "attended_seconds": rec.attended_seconds,
            "attended_percent": rec.attended_percent,
            "first_join": rec.first_join,
            "last_leave": rec.last_leave,
            "sessions": rec.sessions,
            "matched_by": rec.matched_by.value if rec.matched_by else None,
            "participant_id": rec.participant_pk,
        }
        row = existing.pop(rec.student_pk, None)
        if row is None:
            db.session.add(
                AttendanceRecord(
                    meeting_id=meeting.id,
                    student_id=rec.student_pk,
                    generated_at=now,
                    **values,
                )
            )
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.generated_at = now
    for stale in existing.values():  # students no longer on the roster
        db.session.delete(stale)


def _store_guests(meeting: Meeting, result: MeetingResult) -> None:
    """Replace the meeting's guests, unless they are exactly what is stored already."""
    columns = (
        "participant_id",
        "name",
        "email",
        "attended_seconds",
        "first_join",
        "last_leave",
        "sessions",
        "role",
        "position",
    )
    wanted = [
        (
            g.pk,
            g.name[:300],
            g.email[:254],
            g.attended_seconds,
            g.first_join,
            g.last_leave,
            g.sessions,
            "co-host" if g.role in ("co-host", "host") else "guest",
            position,
        )
        for position, g in enumerate(result.guests)
    ]
    table = MeetingGuest.__table__
    current = [
        tuple(row)
        for row in db.session.connection().execute(
            select(*(table.c[c] for c in columns))
            .where(table.c.meeting_id == meeting.id)
            .order_by(table.c.position)
        )
    ]
    if current == wanted:
        return
    db.session.execute(
        delete(MeetingGuest).where(MeetingGuest.meeting_id == meeting.id)
    )
    if wanted:
        db.session.execute(
            insert(MeetingGuest),
            [
                {"meeting_id": meeting.id, **dict(zip(columns, row, strict=True))}
                for row in wanted
            ],
        )


def refresh_sessions(participant_ids: set[int]) -> None:
    """Re-sweep the given connections' events into ``participant_sessions`` (a diff).

    Open intervals are stored open (no end): the same rows hold while the
    meeting is live and after it ends, so only touched connections are written.
    """
    if not participant_ids:
        return
    conn = db.session.connection()
    ids = sorted(participant_ids)
    loaded = _events_where(ParticipantEvent.participant_id.in_(ids))
    events = {pid: e["events"] for pid, e in loaded.items()}
    meeting_of = {pid: e["meeting_id"] for pid, e in loaded.items()}
    wanted: set[tuple] = set()
    for pid, evs in events.items():
        for kind, room, interval in core_sessions.open_sweep(evs):
            stop = to_micros(interval[1]) if interval[1] is not None else None
            wanted.add((pid, kind, room, to_micros(interval[0]), stop))
    table = ParticipantSession.__table__
    current = {
        (pid, kind, room or "", start, stop): sid
        for sid, pid, kind, room, start, stop in conn.execute(
            select(
                table.c.id,
                table.c.participant_id,
                table.c.kind,
                table.c.room,
                table.c.start_us,
                table.c.end_us,
            ).where(table.c.participant_id.in_(ids))
        )
    }
    gone = [sid for key, sid in current.items() if key not in wanted]
    if gone:
        db.session.execute(
            delete(ParticipantSession).where(ParticipantSession.id.in_(gone))
        )
    new = [
        {
            "meeting_id": meeting_of[pid],
            "participant_id": pid,
            "kind": kind,
            "room": room,
            "start_us": start,
            "end_us": stop,
        }
        for pid, kind, room, start, stop in wanted - current.keys()
    ]
    if new:
        db.session.execute(insert(ParticipantSession), new)


def _store_learned_links(meeting: Meeting, result: MeetingResult) -> None:
    if meeting.course_id is None:
        return
    db.session.execute(
        delete(IdentityLinkRow).where(
            IdentityLinkRow.meeting_id == meeting.id,
            IdentityLinkRow.source == LinkSource.LEARNED.value,
        )
    )
    learned_at = result.start or meeting.start_time
    rows = [
        {
            "course_id": meeting.course_id,
            "student_id": link.student_pk,
            "kind": link.kind.value,
            "value": link.value,
            "source": LinkSource.LEARNED.value,
            "meeting_id": meeting.id,
            "learned_at": learned_at,
            "created_at": utcnow(),
        }
        for link in result.learned_links
    ]
    if rows:
        db.session.execute(insert(IdentityLinkRow), rows)


def regenerate_ended(
    meeting_ids: set[int], changed: dict[int, tuple[int, set[int]]] | None = None
) -> None:
    """After a batch: regenerate each touched meeting that has ended, isolated from the rest.

    A failure is recorded on the meeting (``attendance_error``) and logged; the
    events stay applied, and ``flask attendance recompute`` retries it.
    """
    for meeting_id in sorted(meeting_ids):
        meeting = db.session.get(Meeting, meeting_id)
        if meeting is None or meeting.effective_end is None:
            continue
        try:
            with db.session.begin_nested():
                generate(meeting, (changed or {}).get(meeting_id))
        except Exception as exc:  # noqa: BLE001 - recorded on the meeting
            log.exception("attendance of meeting %s failed", meeting_id)
            meeting = db.session.get(Meeting, meeting_id)
            if meeting is not None:
                meeting.attendance_error = f"{type(exc).__name__}: {exc}"[:4000]


def regenerate_course(course_id: int) -> int:
    """Regenerate every ended meeting of a course (its roster or policy changed)."""
    ids = set(
        db.session.scalars(
            select(Meeting.id).where(
                Meeting.course_id == course_id,
                or_(
                    Meeting.end_time.is_not(None), Meeting.closed_stale_at.is_not(None)
                ),
            )
        )
    )
    regenerate_ended(ids)
    return len(ids)


def find_meeting(ref: str) -> Meeting:
    """A meeting by id or uuid.

    :raises NotFound: when there is none.
    """
    meeting = None
    if is_digits(ref):
        meeting = db.session.get(Meeting, int(ref))
    if meeting is None:
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == ref))
    if meeting is None:
        raise NotFound(f"no meeting {ref!r} (give its id or uuid)")
    return meeting


#: Statuses an instructor may set (CONTRACT §3); Excused only ever comes from here.
MANUAL_STATUSES = ("Present", "Late", "Left Early", "Absent", "Excused")


def override_status(
    meeting: Meeting, student_pk: int, status: str | None, note: str | None, by: str
) -> AttendanceRecord:
    """Set (or with ``status=None`` clear) a manual status; it survives every regeneration.

    :raises NotFound: when the student has no record in this meeting.
    :raises ValidationFailed: when the status is not one of MANUAL_STATUSES.
    """
    if status is not None and status not in MANUAL_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(MANUAL_STATUSES)}")
    record = db.session.scalar(
        select(AttendanceRecord).where(
            AttendanceRecord.meeting_id == meeting.id,
            AttendanceRecord.student_id == student_pk,
        )
    )
    if record is None:
        raise NotFound("no attendance record for that student in this meeting")
    record.manual_status = status
    record.note = note
    record.overridden_by = by
    record.overridden_at = utcnow()
    return record


def match_participant(
    meeting: Meeting, participant_pk: int, student_pk: int, remember: bool, by: str
) -> None:
    """Assign the person of ``participant_pk`` to a student, as a ``manual`` match.

    The person's display name, Zoom user ids and registrant ids become manual
    links: for the whole course with ``remember`` (later meetings match by
    themselves), else for this meeting only. The meeting is regenerated.

    :raises NotFound: when the participant or the student is not of this meeting.
    """
    student = db.session.get(StudentRow, student_pk)
    if student is None or student.course_id != meeting.course_id:
        raise NotFound("no such student in this meeting's course")
    person = next(
        (p for p in compute(meeting).persons if participant_pk in p.connection_pks),
        None,
    )
    if person is None:
        raise NotFound("no such participant in this meeting")
    values = [(LinkKind.NAME, normalize_name(person.name))]
    values += [(LinkKind.ZOOM_USER, v) for v in person.zoom_user_ids]
    values += [(LinkKind.REGISTRANT, v) for v in person.registrant_ids]
    scope = None if remember else meeting.id
    for kind, value in values:
        if not value:
            continue
        db.session.execute(
            delete(IdentityLinkRow).where(
                IdentityLinkRow.course_id == meeting.course_id,
                IdentityLinkRow.source == LinkSource.MANUAL.value,
                IdentityLinkRow.kind == kind.value,
                IdentityLinkRow.value == value,
                IdentityLinkRow.meeting_id.is_(None)
                if scope is None
                else IdentityLinkRow.meeting_id == scope,
            )
        )
        db.session.add(
            IdentityLinkRow(
                course_id=meeting.course_id,
                student_id=student.id,
                kind=kind.value,
                value=value[:300],
                source=LinkSource.MANUAL.value,
                meeting_id=scope,
                created_by=by,
            )
        )
    db.session.flush()
    if meeting.effective_end is not None:
        generate(meeting)
