"""The durable job queue: enqueue, claim under a lease, run, retry, defer, record.

Any process may run due jobs; a claim is one short write transaction
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's single writer elsewhere), so
a job never runs twice at once. A job whose process died keeps its claim only
until ``lease_until``; then it is claimed again. Every run leaves a ``job_runs``
row: what it fetched, what it changed, its error.

Failures back off (``BACKOFF``); a daily Zoom rate limit defers the job to the
time Zoom names without counting an attempt (CONTRACT §6); a report Zoom does not
have yet is asked for again later, then given up as "not available".
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError

from attendance.database import begin_write
from attendance.errors import ZoomError, ZoomRateLimited
from attendance.extensions import db
from attendance.models import Job, JobRun, JobStatus
from attendance.models.types import utcnow
from attendance.services.job_results import JobResult

log = logging.getLogger(__name__)

#: Waits after each failed attempt; the last one repeats until MAX_ATTEMPTS.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
)
#: Failed attempts before a job is given up (``failed``).
MAX_ATTEMPTS = 8
#: Runs a due-jobs pass makes at most, so one pass stays short.
PASS_LIMIT = 20
#: The shortest wait after a rate limit, doubled for each one in a row up to DEFER_MAX.
DEFER_MIN = timedelta(minutes=1)
DEFER_MAX = timedelta(hours=1)
#: Deferrals in a row before a job is given up (about two days of hourly tries).
MAX_DEFERRALS = 48

Handler = Callable[[Job], JobResult]
_HANDLERS: dict[str, Handler] = {}
#: Called when a job's attempts are spent or it ends "not available" (per kind).
_GIVE_UP: dict[str, Callable[[Job, str, str], None]] = {}
#: Called after every run of a job of the kind, in the settling transaction.
_SETTLED: dict[str, Callable[[Job, str, str | None], None]] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""

    def register(function: Handler) -> Handler:
        _HANDLERS[kind] = function
        return function

    return register


def on_give_up(kind: str, function: Callable[[Job, str, str], None]) -> None:
    """Have ``function(job, outcome, error)`` run when a job of ``kind`` stops for good."""
    _GIVE_UP[kind] = function


def on_settled(kind: str, function: Callable[[Job, str, str | None], None]) -> None:
    """Have ``function(job, outcome, error)`` run after each run of a job of ``kind``."""
    _SETTLED[kind] = function


def worker_name() -> str:
    """This process, as a job's ``locked_by``: host and pid."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def enqueue(
    kind: str,
    key: str,
    *,
    run_at: datetime | None = None,
    meeting_id: int | None = None,
    connection_id: int | None = None,
    args: dict[str, Any] | None = None,
) -> Job:
    """Queue ``key``'s job to run at ``run_at`` (now by default); flushes, the caller commits.

    Idempotent by key: a queued job keeps the earlier of the two times, a
    finished one is queued again (a fresh run, attempts reset), a running one is
    left to finish.
    """
    when = run_at or utcnow()
    job = db.session.scalar(select(Job).where(Job.key == key))
    if job is None:
        job = Job(
            kind=kind,
            key=key,
            meeting_id=meeting_id,
            connection_id=connection_id,
            args=json.dumps(args or {}),
            status=JobStatus.QUEUED.value,
            run_at=when,
        )
        try:
            with db.session.begin_nested():
                db.session.add(job)
        except IntegrityError:  # another request queued the same key meanwhile
            job = db.session.scalars(select(Job).where(Job.key == key)).one()
        else:
            return job
    if job.status == JobStatus.QUEUED.value:
        job.run_at = min(job.run_at, when)
    elif job.status in (JobStatus.DONE.value, JobStatus.FAILED.value):
        job.status = JobStatus.QUEUED.value
        job.run_at = when
        job.attempts = 0
        job.deferrals = 0
        job.last_error = None
        job.args = json.dumps(args or {})
    db.session.flush()
    return job


def job_args(job: Job) -> dict[str, Any]:
    """A job's arguments (an object; anything else reads as none)."""
    try:
        value = json.loads(job.args or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Claim:
    """A job this runner holds: its id and the claim's own token (``jobs.locked_by``)."""

    job_id: int
    token: str


def claim(now: datetime | None = None, lease: timedelta | None = None) -> Claim | None:
    """Take the most overdue job (or one whose claim expired), or None. Commits.

    The claim's token is written on the job: a runner whose lease ran out and
    whose job was claimed again settles nothing of the job (only its run is kept).
    """
    now = now or utcnow()
    lease = lease or timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])
    begin_write()
    job = db.session.scalar(
        select(Job)
        .where(
            or_(
                and_(Job.status == JobStatus.QUEUED.value, Job.run_at <= now),
                and_(Job.status == JobStatus.RUNNING.value, Job.lease_until < now),
            )
        )
        .order_by(Job.run_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if job is None:
        db.session.rollback()
        return None
    if job.status == JobStatus.RUNNING.value:
        log.warning(
            "job %s (%s): its runner %s died; running it again",
            job.id,
            job.key,
            job.locked_by,
        )
    token = f"{worker_name()}:{secrets.token_hex(4)}"
    job.status = JobStatus.RUNNING.value
    job.lease_until = now + lease
    job.locked_by = token
    held = Claim(job.id, token)
    db.session.commit()
    return held


def run_claimed(held: Claim) -> JobRun | None:
    """Run a job this runner claimed, record the run, and settle the job. Commits."""
    job_id = held.job_id
    job = db.session.get(Job, job_id)
    if job is None:
        db.session.rollback()
        return None
    run = JobRun(
        job_id=job.id,
        kind=job.kind,
        meeting_id=job.meeting_id,
        connection_id=job.connection_id,
        started_at=utcnow(),
    )
    function = _HANDLERS.get(job.kind)
    # Nothing held while the body calls Zoom; it reads the job again as it needs.
    db.session.rollback()
    try:
        if function is None:
            raise LookupError(f"no handler for jobs of kind {job.kind!r}")
        result = function(job)
    except ZoomRateLimited as exc:
        db.session.rollback()
        return _settle(held, run, "deferred", str(exc), run_at=exc.reset_at)
    except ZoomError as exc:
        db.session.rollback()
        return _settle(held, run, "retry", _describe(exc))
    except Exception as exc:  # noqa: BLE001 - recorded on the run, retried with backoff
        db.session.rollback()
        log.exception("job %s failed", job_id)
        return _settle(held, run, "retry", _describe(exc))
    return _settle(held, run, result.outcome, None, result=result)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _settle(
    held: Claim,
    run: JobRun,
    outcome: str,
    error: str | None,
    *,
    run_at: datetime | None = None,
    result: JobResult | None = None,
) -> JobRun:
    """Record the run and decide the job's next state, in one write transaction.

    Job bodies commit their own work: what the session holds now is at most a
    read, which SQLite could not turn into a write once another connection
    writes (``database is locked`` at once, whatever the busy timeout).
    """
    db.session.rollback()
    begin_write()
    job = db.session.get(Job, held.job_id)
    now = utcnow()
    run.finished_at = now
    run.error = error
    if result is not None:
        run.fetched, run.changed = result.fetched, result.changed
        run.summary = result.summary
    if job is None:  # its meeting or connection was deleted meanwhile
        db.session.rollback()
        return run
    if job.locked_by != held.token:
        # Our lease ran out and another runner holds the job now: it settles it.
        log.warning(
            "job %s: claimed again by %s while this run went on", job.id, job.locked_by
        )
        run.outcome = outcome
        run.summary = (run.summary + " (the job was claimed again meanwhile)").strip()
        db.session.add(run)
        db.session.commit()
        return run
    job.lease_until = None
    job.locked_by = None
    job.last_error = error
    gave_up = False
    if outcome == "done":
        job.status = JobStatus.DONE.value
        job.deferrals = 0
    elif outcome == "deferred":
        job.deferrals += 1
        if job.deferrals > MAX_DEFERRALS:
            job.status = JobStatus.FAILED.value
            outcome, gave_up = "failed", True
            run.summary = f"rate limited {MAX_DEFERRALS} times in a row: given up"
        else:
            job.status = JobStatus.QUEUED.value
            job.run_at = deferred_until(now, run_at, job.deferrals)
            run.summary = (
                f"deferred until {job.run_at:%Y-%m-%d %H:%M} UTC (Zoom's rate limit)"
            )
    else:  # retry or not_available: back off, give up after MAX_ATTEMPTS
        job.attempts += 1
        job.deferrals = 0
        if job.attempts >= MAX_ATTEMPTS:
            job.status = JobStatus.FAILED.value
            outcome = "failed" if outcome == "retry" else outcome
            gave_up = True
        else:
            job.status = JobStatus.QUEUED.value
            job.run_at = now + BACKOFF[min(job.attempts, len(BACKOFF)) - 1]
            if not run.summary:
                run.summary = (
                    f"again at {job.run_at:%H:%M} UTC (attempt {job.attempts + 1})"
                )
    run.outcome = outcome
    db.session.add(run)
    if gave_up and job.kind in _GIVE_UP:
        _GIVE_UP[job.kind](job, outcome, error or "")
    if job.kind in _SETTLED:
        _SETTLED[job.kind](job, outcome, error)
    db.session.commit()
    return run


def deferred_until(
    now: datetime, reset_at: datetime | None, deferrals: int
) -> datetime:
    """When a rate-limited job runs again: Zoom's reset time, within sane bounds.

    At least ``DEFER_MIN`` doubled for each deferral in a row (up to
    ``DEFER_MAX``): a Zoom answering 429 with no wait, or a time already past,
    is not asked again at once. At most the next 01:00 UTC (daily limits reset
    at 00:00 GMT, ZOOM.md §5): a date years ahead does not park the job.
    """
    floor = now + min(DEFER_MIN * 2 ** max(deferrals - 1, 0), DEFER_MAX)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    ceiling = max(midnight + timedelta(hours=1), floor)
    return min(max(reset_at or floor, floor), ceiling)


def run_due(limit: int = PASS_LIMIT) -> int:
    """Claim and run due jobs, one at a time, up to ``limit``; how many ran."""
    ran = 0
    while ran < limit:
        held = claim()
        if held is None:
            break
        run_claimed(held)
        ran += 1
    return ran


def recent_runs(
    *, meeting_id: int | None = None, connection_id: int | None = None, limit: int = 10
) -> list[JobRun]:
    """The newest runs for a meeting or a connection, newest first."""
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc())
    if meeting_id is not None:
        query = query.where(JobRun.meeting_id == meeting_id)
    if connection_id is not None:
        query = query.where(JobRun.connection_id == connection_id)
    return list(db.session.scalars(query.limit(limit)))


#: The scheduler's job that runs due jobs (``attendance.jobs.run_due_jobs``).
RUNNER_JOB_ID = "run_due_jobs"


def wake() -> bool:
    """Have this process's scheduler, if it has one, run due jobs now ("Reconcile now").

    Without one (several processes, tests), the scheduler process finds the job
    within ``JOBS_POLL_SECONDS``.
    """
    scheduler = current_app.extensions.get("attendance.scheduler")
    if scheduler is None or not getattr(scheduler, "running", False):
        return False
    job = scheduler.get_job(RUNNER_JOB_ID)
    if job is None:
        return False
    job.modify(next_run_time=utcnow())
    return True


#: Runs older than this are deleted (daily): what a page shows is the last few.
RUN_RETENTION = timedelta(days=90)
_PURGE_BATCH = 1000


def purge_runs(before: datetime | None = None) -> int:
    """Delete job runs started before ``before`` (default: ``RUN_RETENTION`` ago).

    In batches of short write transactions, so the write lock is never held long.
    """
    before = before or utcnow() - RUN_RETENTION
    deleted = 0
    while True:
        begin_write()
        ids = db.session.scalars(
            select(JobRun.id)
            .where(JobRun.started_at < before)
            .order_by(JobRun.started_at)
            .limit(_PURGE_BATCH)
        ).all()
        if ids:
            db.session.execute(delete(JobRun).where(JobRun.id.in_(ids)))
        db.session.commit()
        deleted += len(ids)
        if len(ids) < _PURGE_BATCH:
            return deleted
