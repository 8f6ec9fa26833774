"""The health report of ``GET /api/zoom/health``: the truth about accepting webhooks, fast.

Health is asked often (load balancers, 40 at a time) and must answer within a
few seconds even while the database hangs. What the intake knows about itself
(writer and worker alive, a failed or stalled write) comes from memory; the
database part is one short, time-bounded transaction whose answer is shared by
every health request within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from flask import Flask
from sqlalchemy import func, select

from attendance import message_queue
from attendance.database import WRITE_OPTION, bound_statement_time
from attendance.extensions import db
from attendance.models import EventStatus, Job, JobStatus, WebhookEvent
from attendance.models.types import iso, utcnow
from attendance.version import __version__

log = logging.getLogger(__name__)

#: Health requests within this long of the last database probe share its answer.
CACHE_SECONDS = 1.0
#: The database probe's statements may wait on a lock or run this long (PostgreSQL).
PROBE_STATEMENT_MS = 1000
#: A failed probe is tried again (a lock held for a moment by another process)…
PROBE_ATTEMPTS = 3
#: …after this pause.
PROBE_RETRY_SECONDS = 0.15
#: Counting queued events stops here: a backlog larger than this is reported as this.
UNAPPLIED_COUNT_CAP = 100_000
#: A queued job this long past its time has not been picked up by any scheduler.
JOB_OVERDUE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class _Probe:
    ok: bool
    last_event_at: datetime | None = None
    failed: int = 0
    unapplied: int = 0
    oldest_unapplied_at: datetime | None = None
    #: Durable jobs (reconcile, backfill, users sync): waiting, overdue, given up.
    jobs_queued: int = 0
    jobs_overdue: int = 0
    jobs_failed: int = 0


def _probe_database() -> _Probe:
    """One bounded transaction: latest arrival, failures, the unapplied backlog.

    Each query is answered from an index (received_at; status, id).
    """
    # Only SQLite's lock fails fast enough to try again inside health's budget.
    attempts = PROBE_ATTEMPTS if db.engine.dialect.name == "sqlite" else 1
    for attempt in range(attempts):
        probe = _probe_once()
        if probe.ok or attempt == attempts - 1:
            return probe
        time.sleep(PROBE_RETRY_SECONDS)  # cooperative under eventlet's monkey patch
    raise AssertionError("unreachable")


def _probe_once() -> _Probe:
    table = WebhookEvent.__table__
    queued = table.c.status == EventStatus.QUEUED.value
    # SQLite: take the write lock (BEGIN IMMEDIATE, nothing written). In WAL mode a
    # read works beside another process's write lock, so a read-only probe said
    # ``ok`` while every webhook would have been refused.
    options = {WRITE_OPTION: True}
    try:
        with db.engine.connect().execution_options(**options) as conn, conn.begin():
            bound_statement_time(conn, PROBE_STATEMENT_MS)
            last = conn.scalar(select(func.max(table.c.received_at)))
            failed = conn.scalar(
                select(func.count())
                .select_from(table)
                .where(table.c.status == EventStatus.FAILED.value)
            )
            backlog = (
                select(table.c.id).where(queued).limit(UNAPPLIED_COUNT_CAP).subquery()
            )
            unapplied = conn.scalar(select(func.count()).select_from(backlog))
            oldest = conn.scalar(
                select(table.c.received_at).where(queued).order_by(table.c.id).limit(1)
            )
            jobs = _job_counts(conn)
    except Exception as exc:  # noqa: BLE001 - any database failure means degraded
        lines = str(exc).splitlines()
        log.warning(
            "health: database probe failed: %s: %s",
            type(exc).__name__,
            lines[0] if lines else "",
        )
        return _Probe(ok=False)
    # The columns' UTC type makes both aware, on SQLite too.
    return _Probe(True, last, int(failed or 0), int(unapplied or 0), oldest, *jobs)


def _job_counts(conn: Any) -> tuple[int, int, int]:
    """Jobs waiting, waiting longer than ``JOB_OVERDUE`` past their time, and failed.

    Overdue jobs mean no scheduler is running them (or it is stuck): health says so.
    """
    jobs = Job.__table__
    queued = jobs.c.status == JobStatus.QUEUED.value
    counts = conn.execute(
        select(jobs.c.status, func.count()).group_by(jobs.c.status)
    ).all()
    by_status = {status: int(n) for status, n in counts}
    overdue = conn.scalar(
        select(func.count())
        .select_from(jobs)
        .where(queued, jobs.c.run_at < utcnow() - JOB_OVERDUE)
    )
    return (
        by_status.get(JobStatus.QUEUED.value, 0),
        int(overdue or 0),
        by_status.get(JobStatus.FAILED.value, 0),
    )


class _Cached:
    """A shared, single-flight answer of the database probe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # green under eventlet's monkey patch
        self.at = float("-inf")
        self.writes = -1
        self.value: _Probe | None = None

    def get(self, app: Flask, writes: int) -> _Probe:
        """The probe's answer, fresh if older than CACHE_SECONDS or ``writes`` moved.

        ``writes`` counts the intake's stores: once it moves, the figures are stale.
        """
        with self.lock:  # one probe at a time; the others take its answer
            stale = time.monotonic() - self.at > CACHE_SECONDS or writes != self.writes
            if self.value is None or stale:
                with app.app_context():
                    self.value = _probe_database()
                self.at, self.writes = time.monotonic(), writes
            return self.value


def _scheduler(app: Flask) -> str:
    scheduler = app.extensions.get("attendance.scheduler")
    return "running" if scheduler is not None and scheduler.running else "disabled"


class Intake(Protocol):
    """What health reads of the intake (``attendance.ingest.writer.Intake``)."""

    writes: int

    def state(self) -> Any: ...


def health_report(app: Flask, intake: Intake) -> tuple[dict[str, Any], int]:
    """The report and its HTTP status: 503 ``degraded`` when webhooks cannot be accepted.

    That is: the database does not answer, or the intake cannot store (its
    writer is down or stuck, or its last write failed and a probe write still
    fails: a full disk, a locked table).
    """
    state = app.extensions["attendance.state"]
    cached = app.extensions.setdefault("attendance.health", _Cached())
    probe = cached.get(app, intake.writes)
    own = intake.state()
    accepting = probe.ok and own.accepting
    checks = {
        "database": "ok" if probe.ok else "unavailable",
        "message_queue": message_queue.state_of(app),
        "scheduler": _scheduler(app),
        "intake": "ok" if own.accepting else "degraded",
    }
    oldest = probe.oldest_unapplied_at
    report = {
        "status": "ok" if accepting else "degraded",
        "checks": checks,
        "webhook": {
            "secret_configured": bool(app.config["ZOOM_WEBHOOK_SECRETS"]),
            "last_event_at": iso(probe.last_event_at),
            "last_validation_at": iso(state.get("last_validation_at")),
            "failed_events": probe.failed,
        },
        "intake": {
            "mode": own.mode,
            "writer": own.writer,
            "worker": own.worker,
            "waiting": own.waiting,
            "unapplied": probe.unapplied,
            "oldest_unapplied_seconds": (
                round((utcnow() - oldest).total_seconds(), 1) if oldest else None
            ),
            "restarts": own.restarts,
        },
        "jobs": {
            "queued": probe.jobs_queued,
            "overdue": probe.jobs_overdue,
            "failed": probe.jobs_failed,
        },
        "version": __version__,
    }
    return report, 200 if accepting else 503
