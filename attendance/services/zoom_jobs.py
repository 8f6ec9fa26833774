"""The Zoom jobs (CONTRACT §6): reconcile a meeting, backfill missed meetings, sync users.

Their bodies run in the job queue (``services.jobs``); the sweeps here queue
them: a reconciliation for every meeting that ended with a connection that has
credentials, ``RECONCILE_DELAY_MINUTES`` after its end; a backfill and a users
sync a day per connection with credentials.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, func, or_, select

from attendance.database import begin_write
from attendance.errors import Conflict, ZoomError, ZoomNotFound, ZoomRateLimited
from attendance.extensions import db
from attendance.models import (
    Job,
    JobStatus,
    Meeting,
    ReconcileState,
    Reconciliation,
    ZoomConnection,
)
from attendance.models.connection import ConnectionStatus
from attendance.models.types import utcnow
from attendance.services import jobs, reconciliation
from attendance.services.job_results import JobResult
from attendance.services.zoom_clients import (
    connection_ids_with_credentials,
    credentials_of,
)

log = logging.getLogger(__name__)

RECONCILE = "reconcile"
BACKFILL = "backfill"
USERS_SYNC = "users_sync"
#: A person's "Reconcile now" is refused this soon after the last one finished.
RECONCILE_COOLDOWN = timedelta(seconds=60)
#: Meetings that ended longer ago than this are not reconciled by the sweep
#: (older ones, e.g. from before an upgrade, only on request).
SWEEP_DAYS = 7


def reconcile_key(meeting_id: int) -> str:
    return f"{RECONCILE}:meeting:{meeting_id}"


def _connection_key(kind: str, connection_id: int | None) -> str:
    return f"{kind}:connection:{'env' if connection_id is None else connection_id}"


# -- reconciliation ----------------------------------------------------------


def request_reconcile(
    meeting: Meeting, run_at: datetime | None = None, *, by_sweep: bool = False
) -> Job:
    """Queue the meeting's reconciliation (now by default); flushes, the caller commits.

    :raises Conflict: while the meeting is live, when its connection has no
        credentials to ask Zoom with, or (asked by a person) when it was
        reconciled moments ago: the school's Zoom quota is shared.
    """
    reconciliation.check_reconcilable(meeting)
    # Read, then write: as a writer from the start, or SQLite refuses the write
    # at once when the intake committed in between.
    meeting_id = meeting.id
    db.session.rollback()
    begin_write()
    fresh = db.session.get(Meeting, meeting_id)
    if fresh is None:
        raise Conflict("the meeting was deleted meanwhile")
    meeting = fresh
    if not by_sweep:
        _not_too_soon(meeting_id)
    reconciliation.mark(meeting.id, ReconcileState.PENDING)
    return jobs.enqueue(
        RECONCILE,
        reconcile_key(meeting.id),
        run_at=run_at,
        meeting_id=meeting.id,
        connection_id=meeting.connection_id,
    )


def _not_too_soon(meeting_id: int) -> None:
    """Refuse a request within ``RECONCILE_COOLDOWN`` of the last finished reconciliation."""
    state = db.session.get(Reconciliation, meeting_id)
    if state is None or state.at is None or meeting_job(meeting_id) is not None:
        return
    wait = state.at + RECONCILE_COOLDOWN - utcnow()
    if wait > timedelta(0):
        raise Conflict(
            "it was reconciled moments ago: try again in "
            f"{max(int(wait.total_seconds()), 1)} s"
        )


def meeting_job(meeting_id: int) -> Job | None:
    """The meeting's reconciliation job while it waits or runs; None otherwise."""
    job = db.session.scalar(select(Job).where(Job.key == reconcile_key(meeting_id)))
    if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        return None
    return job


@jobs.handler(RECONCILE)
def run_reconcile(job: Job) -> JobResult:
    """Fetch the meeting's report and apply it; a missing report is asked for again later."""
    meeting = db.session.get(Meeting, job.meeting_id) if job.meeting_id else None
    if meeting is None:
        return JobResult(summary="the meeting no longer exists")
    meeting_id = meeting.id
    if credentials_of(meeting.connection_id) is None:
        _mark_now(meeting_id, ReconcileState.NOT_AVAILABLE, "no API credentials")
        return JobResult(summary="its connection has no API credentials")
    try:
        return reconciliation.reconcile_now(meeting)
    except ZoomNotFound:
        db.session.rollback()
        return JobResult(
            outcome="not_available", summary="Zoom has no report for it yet"
        )
    except ZoomRateLimited:
        raise
    except ZoomError as exc:
        _mark_now(meeting_id, ReconcileState.ERROR, str(exc)[:2000])
        raise


def _mark_now(meeting_id: int, state: ReconcileState, error: str) -> None:
    """Record a reconciliation's state in a write transaction of its own."""
    db.session.rollback()
    begin_write()
    reconciliation.mark(meeting_id, state, error)
    db.session.commit()


def _reconcile_gave_up(job: Job, outcome: str, error: str) -> None:
    if job.meeting_id is None:
        return
    state = (
        ReconcileState.NOT_AVAILABLE
        if outcome == "not_available"
        else ReconcileState.ERROR
    )
    reconciliation.mark(job.meeting_id, state, error or None)


jobs.on_give_up(RECONCILE, _reconcile_gave_up)


def _connection_health(job: Job, outcome: str, error: str | None) -> None:
    """A connection's status follows its jobs: an error until one succeeds again."""
    if job.connection_id is None:
        return  # the environment's connection: health and the logs show it
    connection = db.session.get(ZoomConnection, job.connection_id)
    if connection is None:
        return
    if outcome in ("retry", "failed") and error:
        connection.status = ConnectionStatus.ERROR.value
        connection.error = f"{job.kind.replace('_', ' ')}: {error}"[:2000]
    elif outcome == "done":
        connection.status = ConnectionStatus.OK.value
        connection.error = None


for _kind in (RECONCILE, BACKFILL, USERS_SYNC):
    jobs.on_settled(_kind, _connection_health)


def queue_ended_meetings(now: datetime | None = None) -> int:
    """Queue a reconciliation for each recently ended meeting not yet queued (commits)."""
    now = now or utcnow()
    delay = timedelta(minutes=current_app.config["RECONCILE_DELAY_MINUTES"])
    end = func.coalesce(Meeting.end_time, Meeting.closed_stale_at)
    allowed = connection_ids_with_credentials()
    if not allowed:
        return 0
    ids = [c for c in allowed if c is not None]
    which: ColumnElement[bool] = Meeting.connection_id.in_(ids)
    if None in allowed:
        which = or_(Meeting.connection_id.is_(None), which)
    rows = db.session.execute(
        select(Meeting.id, end)
        .outerjoin(Reconciliation, Reconciliation.meeting_id == Meeting.id)
        .where(
            Reconciliation.meeting_id.is_(None),
            end.is_not(None),
            end >= now - timedelta(days=SWEEP_DAYS),
            which,
        )
        .order_by(Meeting.id)
        .limit(200)
    ).all()
    for meeting_id, ended in rows:
        meeting = db.session.get(Meeting, meeting_id)
        if meeting is not None:
            request_reconcile(meeting, run_at=ended + delay, by_sweep=True)
            db.session.commit()
    return len(rows)


# -- backfill and users --------------------------------------------------------


@jobs.handler(BACKFILL)
def run_backfill(job: Job) -> JobResult:
    from attendance.services.backfill import backfill

    args = jobs.job_args(job)
    course = args.get("course")
    return backfill(job.connection_id, course if isinstance(course, str) else None)


@jobs.handler(USERS_SYNC)
def run_users_sync(job: Job) -> JobResult:
    from attendance.services.account_users import sync_users

    return sync_users(job.connection_id)


def queue_daily(now: datetime | None = None) -> int:
    """Queue each connection's backfill and users sync (commits); how many were queued."""
    count = 0
    for connection_id in connection_ids_with_credentials():
        for kind in (USERS_SYNC, BACKFILL):
            jobs.enqueue(
                kind,
                _connection_key(kind, connection_id),
                run_at=now,
                connection_id=connection_id,
            )
            count += 1
    db.session.commit()
    return count


def request_connection_job(kind: str, connection_id: int | None) -> Job:
    """Queue a connection's backfill or users sync now (flushes)."""
    if credentials_of(connection_id) is None:
        raise Conflict("the connection has no API credentials")
    db.session.rollback()  # a writer from the start (see request_reconcile)
    begin_write()
    return jobs.enqueue(
        kind, _connection_key(kind, connection_id), connection_id=connection_id
    )
