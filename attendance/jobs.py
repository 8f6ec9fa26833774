"""Scheduled jobs (APScheduler 3): thin wrappers that call services in an app context.

Exactly one scheduler per deployment (../shared/STACK.md): inside the server when
it is the only process, else ``flask --app app scheduler``; never under tests.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from attendance.database import begin_write
from attendance.extensions import db
from attendance.ingest import applier
from attendance.ingest.meetings import close_stale, stale_meetings
from attendance.models import Meeting
from attendance.models.types import utcnow
from attendance.services import jobs as job_queue
from attendance.services import zoom_jobs
from attendance.services.generation import generate

log = logging.getLogger(__name__)


def apply_queued_events(app: Flask) -> None:
    """Apply events left queued: stored by a process that died before applying them."""
    with app.app_context():
        try:
            applied = 0
            while outcomes := applier.apply_queued(200):
                applied += len(outcomes)
            if applied:
                log.info("scheduler applied %d queued events", applied)
        finally:
            db.session.remove()


def close_stale_meetings(app: Flask) -> int:
    """End meetings whose ``meeting.ended`` was lost, and generate their attendance."""
    closed = 0
    with app.app_context():
        try:
            minutes = app.config["STALE_MEETING_MINUTES"]
            ids = [m.id for m in stale_meetings(utcnow(), minutes)]
            db.session.rollback()
            for meeting_id in ids:
                begin_write()  # one write transaction per meeting, lock taken up front
                meeting = db.session.get(Meeting, meeting_id)
                if meeting is None or meeting.status != "live":
                    db.session.rollback()
                    continue  # ended meanwhile (its meeting.ended arrived)
                close_stale(meeting)
                generate(meeting)
                db.session.commit()
                closed += 1
                log.info("closed stale meeting %s", meeting_id)
        finally:
            db.session.remove()
    return closed


def purge_old_events(app: Flask) -> int:
    """Delete applied webhook events older than ``EVENT_RETENTION_DAYS`` (0: keep all)."""
    from attendance.services.retention import cutoff, purge_events

    days = app.config["EVENT_RETENTION_DAYS"]
    if days <= 0:
        return 0
    with app.app_context():
        try:
            return purge_events(cutoff(days))
        finally:
            db.session.remove()


def purge_old_runs(app: Flask) -> int:
    """Delete the records of job runs older than ``services.jobs.RUN_RETENTION``."""
    with app.app_context():
        try:
            return job_queue.purge_runs()
        finally:
            db.session.remove()


def run_due_jobs(app: Flask) -> int:
    """Run the durable jobs that are due (reconcile, backfill, users sync)."""
    with app.app_context():
        try:
            return job_queue.run_due()
        finally:
            db.session.remove()


def queue_reconciliations(app: Flask) -> int:
    """Queue a reconciliation for every meeting that ended since the last pass."""
    with app.app_context():
        try:
            return zoom_jobs.queue_ended_meetings()
        finally:
            db.session.remove()


def queue_daily_zoom_jobs(app: Flask) -> int:
    """Queue each connection's daily backfill and users sync."""
    with app.app_context():
        try:
            return zoom_jobs.queue_daily()
        finally:
            db.session.remove()


def _add_jobs(scheduler: BaseScheduler, app: Flask) -> None:
    _every(scheduler, app, apply_queued_events, seconds=60)
    _every(scheduler, app, close_stale_meetings, minutes=5)
    # Under the id services.jobs.wake() looks for ("Reconcile now").
    assert run_due_jobs.__name__ == job_queue.RUNNER_JOB_ID  # noqa: S101
    _every(scheduler, app, run_due_jobs, seconds=app.config["JOBS_POLL_SECONDS"])
    _every(scheduler, app, queue_reconciliations, seconds=60)
    _every(scheduler, app, purge_old_runs, hours=24)
    _every(scheduler, app, queue_daily_zoom_jobs, first=timedelta(minutes=1), hours=24)
    if app.config["EVENT_RETENTION_DAYS"] > 0:
        # Hourly: each run deletes about an hour of events, in small batches.
        _every(scheduler, app, purge_old_events, hours=1)


def _every(
    scheduler: BaseScheduler,
    app: Flask,
    job: Any,
    first: timedelta | None = None,
    **interval: int,
) -> None:
    """Run ``job(app)`` at this interval, never two at once, missed runs coalesced.

    ``first``: run it first this soon after the start instead of one interval later.
    """
    extra = {"next_run_time": utcnow() + first} if first is not None else {}
    scheduler.add_job(
        job,
        "interval",
        args=[app],
        id=job.__name__,
        max_instances=1,
        coalesce=True,
        replace_existing=True,
        **extra,
        **interval,
    )


def start_background_scheduler(app: Flask) -> BackgroundScheduler:
    """Start the jobs in this process (the single-process server)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    _add_jobs(scheduler, app)
    scheduler.start()
    app.extensions["attendance.scheduler"] = scheduler
    log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    return scheduler


def run_blocking_scheduler(app: Flask) -> None:
    """Run the jobs in the foreground: the dedicated scheduler process."""
    scheduler = BlockingScheduler(timezone="UTC")
    _add_jobs(scheduler, app)
    app.extensions["attendance.scheduler"] = scheduler
    scheduler.start()
