"""Reconciling a meeting with Zoom's participant report (CONTRACT §6).

Three steps, so the event loop and the intake are never held for long:

1. fetch the report over HTTP (``fetch_report``), outside any transaction;
2. store it in one short write transaction: the meeting's rows replaced as a
   whole, a participant row for each connection only the report has, the
   meeting's ``events_version`` bumped (so every process's cache reloads);
3. compute attendance without and with the rows on a native thread (the pure
   core, off the loop), then store the result and the per-student changes in a
   second short write transaction; recomputed there only if events arrived
   between the two.

A rerun replaces the same rows with the same rows: it changes nothing twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, insert, select, update

from attendance.core.model import MeetingResult, Source
from attendance.core.reconcile import ReportRow, ReportStatus
from attendance.database import begin_write, begin_write_afresh
from attendance.errors import Conflict, ZoomApiError, ZoomNotFound
from attendance.extensions import db
from attendance.models import (
    Meeting,
    Participant,
    ReconcileState,
    Reconciliation,
    ReportRowRecord,
    ZoomConnection,
)
from attendance.models.connection import ConnectionStatus
from attendance.models.types import iso, to_micros, utcnow
from attendance.services import generation
from attendance.services.job_results import JobResult
from attendance.services.meeting_inputs import MeetingInputs, load_inputs
from attendance.services.pacing import offload
from attendance.services.sql import insert_ignoring_conflicts
from attendance.services.zoom_clients import client_for, credentials_of
from attendance.zoom.rest import ZoomClient
from attendance.zoom.rest_rows import ReportParticipant

log = logging.getLogger(__name__)

#: The most report rows a meeting keeps: a 10,000-seat webinar's join sessions
#: several times over (ZOOM-REST.md §5: one row per join session).
MAX_REPORT_ROWS = 50_000
#: Rows inserted per statement (SQLite's bound-parameter limit is 32,766).
_CHUNK = 500


def report_row(row: ReportParticipant) -> ReportRow | None:
    """A REST row as the core's ReportRow; None when it names no connection or time."""
    if not row.user_id or row.join_time is None or row.leave_time is None:
        return None
    account_id = row.participant_user_id or row.id
    status = (
        ReportStatus.IN_WAITING_ROOM
        if row.status == ReportStatus.IN_WAITING_ROOM.value
        else ReportStatus.IN_MEETING
    )
    return ReportRow(
        user_id=row.user_id,
        join_time=row.join_time,
        leave_time=row.leave_time,
        name=row.name,
        email=row.user_email,
        zoom_user_id=account_id,
        registrant_id=row.registrant_id,
        status=status,
    )


def _rows(items: Iterable[ReportParticipant]) -> list[ReportRow]:
    """The rows that name a connection and times, up to ``MAX_REPORT_ROWS``.

    :raises ZoomApiError: past it: no class has that many join sessions, and
        storing them would hold the write lock for seconds.
    """
    rows: list[ReportRow] = []
    for item in items:
        row = report_row(item)
        if row is None:
            continue
        if len(rows) >= MAX_REPORT_ROWS:
            raise ZoomApiError(
                200, None, f"a report of more than {MAX_REPORT_ROWS} rows: not stored"
            )
        rows.append(row)
    return rows


def fetch_report(client: ZoomClient, meeting: Meeting) -> list[ReportRow]:
    """Every row of the instance's report, else of its past participants (§6).

    By UUID only, never the meeting number (ZOOM-REST.md §0.3).

    :raises ZoomNotFound: when Zoom has neither (yet).
    """
    return fetch_rows(client, meeting.uuid, webinar=meeting.is_webinar)


def fetch_rows(client: ZoomClient, uuid: str, *, webinar: bool) -> list[ReportRow]:
    """``fetch_report`` by the instance's UUID, needing no session (HTTP only)."""
    if webinar:
        return _rows(client.webinar_report_participants(uuid))
    try:
        return _rows(client.report_participants(uuid))
    except ZoomNotFound:
        log.info("no report for meeting %s: trying past participants", uuid)
    return _rows(client.past_participants(uuid))


@dataclass(frozen=True, slots=True)
class Change:
    """What reconciliation changed for one student (or one unmatched person)."""

    student_pk: int | None
    participant_pk: int | None
    seconds_before: int
    seconds_after: int
    status_before: str | None
    status_after: str | None

    def as_json(self) -> dict[str, Any]:
        who: dict[str, Any] = (
            {"student_pk": self.student_pk}
            if self.student_pk is not None
            else {"participant_pk": self.participant_pk}
        )
        return {
            **who,
            "seconds_before": self.seconds_before,
            "seconds_after": self.seconds_after,
            "status_before": self.status_before,
            "status_after": self.status_after,
        }


def changes_between(before: MeetingResult, after: MeetingResult) -> list[Change]:
    """Per student, then per unmatched person, what differs between two results."""
    out: list[Change] = []
    was = {r.student_pk: r for r in before.records}
    for rec in after.records:
        old = was.get(rec.student_pk)
        old_seconds = old.attended_seconds if old else 0
        old_status = old.status.value if old else None
        if old_seconds != rec.attended_seconds or old_status != rec.status.value:
            out.append(
                Change(
                    rec.student_pk,
                    None,
                    old_seconds,
                    rec.attended_seconds,
                    old_status,
                    rec.status.value,
                )
            )
    guests_before = {g.pk: g.attended_seconds for g in before.guests}
    for guest in after.guests:
        old_seconds = guests_before.pop(guest.pk, 0)
        if old_seconds != guest.attended_seconds:
            out.append(
                Change(None, guest.pk, old_seconds, guest.attended_seconds, None, None)
            )
    out.extend(
        Change(None, pk, seconds, 0, None, None)
        for pk, seconds in guests_before.items()
        if seconds
    )
    return out


def store_rows(meeting: Meeting, rows: Sequence[ReportRow]) -> int:
    """Step 2: replace the meeting's report rows (commits). Returns the new events_version."""
    rows = sorted(set(rows), key=_row_order)
    meeting_id = meeting.id
    # Called after reads (a job, the CLI): a writer from here. A backfill's
    # create is one already, and its new meeting is kept.
    begin_write_afresh()
    keys = sorted({r.user_id for r in rows})
    known = _participant_ids(meeting_id, keys)
    missing = [k for k in keys if k not in known]
    if missing:
        first: dict[str, ReportRow] = {}
        for row in rows:  # sorted by join time: the earliest row names it
            first.setdefault(row.user_id, row)
        table = Participant.__table__
        for start in range(0, len(missing), _CHUNK):
            db.session.execute(
                insert_ignoring_conflicts(table, "meeting_id", "user_key"),
                [
                    {
                        "meeting_id": meeting_id,
                        "user_key": key[:255],
                        "name": first[key].name[:300],
                        "email": first[key].email[:254],
                        "zoom_user_id": first[key].zoom_user_id[:100],
                        "registrant_id": first[key].registrant_id[:100],
                        "participant_uuid": "",
                        "customer_key": "",
                        "parent_key": "",
                    }
                    for key in missing[start : start + _CHUNK]
                ],
            )
        known = _participant_ids(meeting_id, keys)
    db.session.execute(
        delete(ReportRowRecord).where(ReportRowRecord.meeting_id == meeting_id)
    )
    values = [
        {
            "meeting_id": meeting_id,
            "participant_id": known[r.user_id],
            "join_us": to_micros(r.join_time),
            "leave_us": to_micros(r.leave_time),
            "name": r.name[:300],
            "email": r.email[:254],
            "zoom_user_id": r.zoom_user_id[:100],
            "registrant_id": r.registrant_id[:100],
            "status": r.status.value,
        }
        for r in rows
    ]
    for start in range(0, len(values), _CHUNK):
        db.session.execute(insert(ReportRowRecord), values[start : start + _CHUNK])
    db.session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id)
        .values(events_version=Meeting.events_version + 1)
    )
    version = db.session.scalars(
        select(Meeting.events_version).where(Meeting.id == meeting_id)
    ).one()
    db.session.commit()
    return int(version)


def _row_order(row: ReportRow) -> tuple[Any, ...]:
    return (row.join_time, row.user_id, row.leave_time, row.name, row.email)


def _participant_ids(meeting_id: int, keys: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), _CHUNK):
        for pk, key in db.session.execute(
            select(Participant.id, Participant.user_key).where(
                Participant.meeting_id == meeting_id,
                Participant.user_key.in_(
                    [k[:255] for k in keys[start : start + _CHUNK]]
                ),
            )
        ):
            found[key] = pk
    return found


def _before_and_after(inputs: MeetingInputs) -> tuple[MeetingResult, MeetingResult]:
    """Attendance from webhooks alone, and reconciled (pure: runs off the loop)."""
    webhooks_only = [c for c in inputs.connections if c.source is not Source.REPORT]
    alone = MeetingInputs(
        inputs.facts, webhooks_only, inputs.roster, inputs.links, inputs.policy
    )
    now = utcnow()
    return generation.compute_inputs(alone, now), generation.compute_inputs(inputs, now)


def apply_report(meeting: Meeting, rows: Sequence[ReportRow]) -> JobResult:
    """Store a fetched report and regenerate the meeting's attendance with it (commits).

    Manual statuses stay (generation keeps them). The reconciliation's record
    (``reconciliations``) says what changed, per student, against webhooks alone.
    """
    meeting_id = meeting.id
    version = store_rows(meeting, rows)
    stored = db.session.get(Meeting, meeting_id)
    if stored is None:
        db.session.rollback()
        return JobResult(len(rows), 0, "the meeting was deleted meanwhile")
    inputs = load_inputs(stored)
    db.session.rollback()  # no transaction held while the core works
    before, computed = offload(_before_and_after, inputs)
    begin_write()
    stored = db.session.get(Meeting, meeting_id)
    if stored is None:
        db.session.rollback()
        return JobResult(len(rows), 0, "the meeting was deleted meanwhile")
    meeting = stored
    current = db.session.scalars(
        select(Meeting.events_version).where(Meeting.id == meeting_id)
    ).one()
    if meeting.effective_end is None:  # live: nothing to store until it ends
        after = computed
    elif current == version:
        after = computed
        generation.store_result(meeting, after, utcnow())
    else:  # events arrived between the two transactions: compute with them
        log.info("meeting %s changed while reconciling: regenerating", meeting_id)
        after = generation.generate(meeting)
    changes = changes_between(before, after)
    _record(meeting, len(rows), changes)
    db.session.commit()
    waiting = sum(1 for r in rows if r.status is ReportStatus.IN_WAITING_ROOM)
    students = sum(1 for c in changes if c.student_pk is not None)
    fetched = f"{len(rows)} report rows" + (
        f" ({waiting} in the waiting room)" if waiting else ""
    )
    summary = (
        f"{fetched}; {students} students' attendance changed"
        if changes
        else f"{fetched}; nothing changed"
    )
    return JobResult(fetched=len(rows), changed=len(changes), summary=summary)


def reconcile_blocker(meeting: Meeting) -> Literal["live", "no_credentials"] | None:
    """Why the meeting cannot be reconciled now, or None when it can."""
    if meeting.effective_end is None:
        return "live"
    if credentials_of(meeting.connection_id) is None:
        return "no_credentials"
    return None


def check_reconcilable(meeting: Meeting) -> None:
    """Whether the meeting can be reconciled: it has ended, its connection has credentials.

    :raises Conflict: otherwise, saying which.
    """
    blocker = reconcile_blocker(meeting)
    if blocker == "live":
        raise Conflict("the meeting is still live: it is reconciled once it has ended")
    if blocker == "no_credentials":
        raise Conflict(
            "the meeting's Zoom connection has no API credentials: "
            "add its Server-to-Server OAuth client id and secret first"
        )


def reconcile_now(meeting: Meeting) -> JobResult:
    """Fetch the ended meeting's report and apply it, here and now (the CLI's way).

    :raises Conflict: while it is live, or without API credentials.
    :raises ZoomNotFound: when Zoom has no report for it (yet).
    """
    check_reconcilable(meeting)
    client = client_for(meeting.connection_id)
    assert client is not None  # noqa: S101 - checked just above
    meeting_id, uuid, webinar = meeting.id, meeting.uuid, meeting.is_webinar
    db.session.rollback()  # no transaction held while Zoom answers
    with client:
        rows = fetch_rows(client, uuid, webinar=webinar)
    fresh = db.session.get(Meeting, meeting_id)
    if fresh is None:
        raise Conflict("the meeting was deleted meanwhile")
    return apply_report(fresh, rows)


def _record(meeting: Meeting, rows: int, changes: Sequence[Change]) -> None:
    state = db.session.get(Reconciliation, meeting.id)
    if state is None:
        state = Reconciliation(meeting_id=meeting.id)
        db.session.add(state)
    now = utcnow()
    state.status = ReconcileState.DONE.value
    state.at = now
    state.rows = rows
    state.changes = json.dumps([c.as_json() for c in changes])
    state.error = None
    if meeting.connection_id is not None:
        connection = db.session.get(ZoomConnection, meeting.connection_id)
        if connection is not None:
            connection.last_reconcile_at = now
            connection.status = ConnectionStatus.OK.value
            connection.error = None


def mark(meeting_id: int, status: ReconcileState, error: str | None = None) -> None:
    """Record a reconciliation's state without a result (pending, not available, error)."""
    state = db.session.get(Reconciliation, meeting_id)
    if state is None:
        state = Reconciliation(meeting_id=meeting_id)
        db.session.add(state)
    state.status = status.value
    state.error = error
    if status is not ReconcileState.PENDING:
        state.at = utcnow()


def state_json(meeting_id: int) -> dict[str, Any]:
    """CONTRACT §6's reconciliation object; ``pending`` for a meeting never queued."""
    state = db.session.get(Reconciliation, meeting_id)
    if state is None:
        return {
            "status": "pending",
            "at": None,
            "rows": 0,
            "changes": [],
            "error": None,
        }
    try:
        changes = json.loads(state.changes or "[]")
    except ValueError:
        changes = []
    return {
        "status": state.status,
        "at": iso(state.at),
        "rows": state.rows,
        "changes": changes if isinstance(changes, list) else [],
        "error": state.error,
    }
