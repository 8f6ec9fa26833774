"""Durable background work: the jobs table, each run's record, and meetings' reconciliation.

Why a table and not APScheduler's SQLAlchemy job store: APScheduler 3 forbids two
schedulers sharing a store, has no per-job retry or backoff, and pickles callables.
A row per job claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's one
writer serialises claims) under a lease lets any process run due work, never twice
at once, and a job whose runner died is claimed again when its lease ends.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from attendance.extensions import db
from attendance.models.types import UTCDateTime, utcnow


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for run_at
    RUNNING = "running"  # claimed until lease_until
    DONE = "done"
    FAILED = "failed"  # gave up after max attempts


class Job(db.Model):  # type: ignore[name-defined,misc]
    """One piece of background work; ``key`` makes enqueueing it idempotent."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "run_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: reconcile | backfill | users_sync
    kind: Mapped[str] = mapped_column(String(32))
    #: e.g. ``reconcile:meeting:42``: one live job per key.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("zoom_connections.id", ondelete="CASCADE"), index=True
    )
    #: Arguments beyond the meeting and connection (JSON object).
    args: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Failed attempts so far (a deferral for a rate limit is not one).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Deferrals for Zoom's rate limits in a row: each waits longer (see ``services.jobs``).
    deferrals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )


class JobRun(db.Model):  # type: ignore[name-defined,misc]
    """What one run of a job did: fetched, changed, or the error (shown on pages)."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("zoom_connections.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: done | not_available | deferred | retry | failed
    outcome: Mapped[str] = mapped_column(String(16), default="")
    #: Rows, instances or users fetched from Zoom.
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    #: How many things it changed (students' time, meetings created, links learned).
    changed: Mapped[int] = mapped_column(Integer, default=0)
    #: One line a person reads ("3 students' time changed").
    summary: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)


class ReconcileState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    NOT_AVAILABLE = "not_available"
    ERROR = "error"


class Reconciliation(db.Model):  # type: ignore[name-defined,misc]
    """A meeting's reconciliation with Zoom's report (CONTRACT §6): one row per meeting."""

    __tablename__ = "reconciliations"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default=ReconcileState.PENDING)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON list of CONTRACT §6's change objects.
    changes: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )


class ReportRowRecord(db.Model):  # type: ignore[name-defined,misc]
    """One row of a meeting's participant report as fetched (the second source, §6).

    A meeting's rows are replaced as a whole by each reconciliation, so a rerun
    changes nothing; generation reads them with the events.
    """

    __tablename__ = "report_rows"
    __table_args__ = (Index("ix_report_rows_meeting", "meeting_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE")
    )
    #: The participant row of the connection (``user_id``), created if only the report has it.
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    join_us: Mapped[int] = mapped_column(BigInteger)
    leave_us: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    zoom_user_id: Mapped[str] = mapped_column(String(100), default="")
    registrant_id: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(32), default="in_meeting")
