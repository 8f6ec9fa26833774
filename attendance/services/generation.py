"""Generating a meeting's attendance: load its facts, ``compute_meeting``, store the diff.

Storing only what changed keeps a late event's regeneration cheap: it usually
moves one person, so it writes a handful of rows, not the whole meeting.
"""

from __future__ import annotations

import gc
import logging
from datetime import datetime

from sqlalchemy import delete, insert, or_, select

from attendance.core.compute import DerivationCache, compute_meeting
from attendance.core.model import (
    Connection,
    LinkKind,
    LinkSource,
    MeetingResult,
    Student,
)
from attendance.extensions import db
from attendance.models import AttendanceRecord, IdentityLinkRow, Meeting, MeetingGuest
from attendance.models.types import utcnow
from attendance.services import meeting_cache
from attendance.services.meeting_inputs import (
    MeetingInputs,
    load_inputs,
)
from attendance.services.pacing import offload

log = logging.getLogger(__name__)


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
            report=inputs.report,
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
    roster: list[Student] | None = None,
) -> MeetingResult:
    """Only the persons of a meeting up to ``end`` (the live room's view).

    ``connections`` and ``roster``: the meeting's, when the caller holds them already.
    """
    inputs = load_inputs(meeting, connections, derivations, roster)
    return _compute(inputs, end, persons_only=True)


def generate(
    meeting: Meeting, changed: meeting_cache.Change | None = None
) -> MeetingResult:
    """Compute and store an ended meeting's attendance (flushes; the caller commits).

    Manual statuses and notes are kept; everything else follows the events.
    ``changed`` is what the current batch did to the meeting's connections (see
    ``meeting_cache.reconcile``); with it, unchanged connections come from the cache.
    """
    entry = meeting_cache.connections(
        meeting, [changed] if changed else [], staged=True
    )
    inputs = load_inputs(meeting, list(entry.connections.values()), entry.derivations)
    now = utcnow()
    result = _compute(inputs, now)
    store_result(meeting, result, now)
    return result


def compute_inputs(inputs: MeetingInputs, now: datetime) -> MeetingResult:
    """The pure computation of loaded inputs: touches no session, so it may run off the loop."""
    return _compute(inputs, now)


def store_result(meeting: Meeting, result: MeetingResult, now: datetime) -> None:
    """Store a computed result as the meeting's attendance (flushes; the caller commits)."""
    _store_records(meeting, result, now)
    _store_guests(meeting, result)
    _store_learned_links(meeting, result)
    _store_window(meeting, result)
    meeting.participant_count = result.participant_count
    meeting.attendance_generated_at = now
    meeting.attendance_error = None
    db.session.flush()


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
            g.role,  # "guest" or "co-host": compute maps roles, the host is no guest
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


def _store_window(meeting: Meeting, result: MeetingResult) -> None:
    """Record whether the instance is a scheduled class and its [S', E'] (§5.9)."""
    window = result.window
    if window is None:  # compute always gives one; [S, E] is what it would say
        meeting.scheduled, meeting.window_start = True, result.start
        meeting.window_end = result.end
        return
    meeting.scheduled = window.scheduled
    meeting.window_start = window.start
    meeting.window_end = window.end


def _store_learned_links(meeting: Meeting, result: MeetingResult) -> None:
    if meeting.course_id is None:
        return
    db.session.execute(
        delete(IdentityLinkRow).where(
            IdentityLinkRow.meeting_id == meeting.id,
            IdentityLinkRow.source == LinkSource.LEARNED.value,
        )
    )
    forgotten = {
        (kind, value, student)
        for kind, value, student in db.session.execute(
            select(
                IdentityLinkRow.kind, IdentityLinkRow.value, IdentityLinkRow.student_id
            ).where(
                IdentityLinkRow.course_id == meeting.course_id,
                IdentityLinkRow.source == LinkSource.FORGOTTEN.value,
            )
        )
    }
    learned_at = result.start or meeting.start_time
    # Which step taught each link (email or alias): the step that matched its person.
    steps = {
        (kind, value, p.student_pk): p.matched_by.value
        for p in result.persons
        if p.student_pk is not None and p.matched_by is not None
        for kind, values in (
            (LinkKind.ZOOM_USER, p.zoom_user_ids),
            (LinkKind.REGISTRANT, p.registrant_ids),
        )
        for value in values
    }
    rows = [
        {
            "course_id": meeting.course_id,
            "student_id": link.student_pk,
            "kind": link.kind.value,
            "value": link.value,
            "source": LinkSource.LEARNED.value,
            "learned_by": steps.get((link.kind, link.value, link.student_pk)),
            "meeting_id": meeting.id,
            "learned_at": learned_at,
            "created_at": utcnow(),
        }
        for link in result.learned_links
        if (link.kind.value, link.value, link.student_pk) not in forgotten
    ]
    if rows:
        db.session.execute(insert(IdentityLinkRow), rows)


def regenerate_ended(
    meeting_ids: set[int], changed: dict[int, meeting_cache.Change] | None = None
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
