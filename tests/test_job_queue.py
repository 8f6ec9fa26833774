"""The durable job queue: idempotent enqueueing, claims no two runners share, leases,
retries with backoff, deferral, and runs recorded (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from attendance.errors import ZoomApiError, ZoomRateLimited
from attendance.extensions import db
from attendance.models import Job, JobRun
from attendance.models.types import utcnow
from attendance.services import jobs
from attendance.services.job_results import JobResult

KIND = "test_job"
_calls: Counter[str] = Counter()
_lock = threading.Lock()
_behaviour: dict[str, object] = {}


@jobs.handler(KIND)
def _run(job: Job) -> JobResult:
    with _lock:
        _calls[job.key] += 1
    what = _behaviour.get(job.key)
    if isinstance(what, BaseException):
        raise what
    return JobResult(fetched=1, changed=1, summary=f"ran {job.key}")


@pytest.fixture(autouse=True)
def _clean():
    _calls.clear()
    _behaviour.clear()
    yield


def test_enqueueing_is_idempotent_by_key(app):
    with app.app_context():
        later = utcnow() + timedelta(hours=1)
        first = jobs.enqueue(KIND, "k", run_at=later)
        again = jobs.enqueue(KIND, "k", run_at=later + timedelta(hours=1))
        sooner = jobs.enqueue(KIND, "k", run_at=later - timedelta(minutes=30))
        db.session.commit()
        assert first.id == again.id == sooner.id
        assert len(db.session.scalars(select(Job)).all()) == 1
        assert sooner.run_at == later - timedelta(minutes=30)


def test_concurrent_runners_never_run_a_job_twice(app):
    with app.app_context():
        for n in range(30):
            jobs.enqueue(KIND, f"job-{n}")
        db.session.commit()

    errors: list[BaseException] = []

    def runner() -> None:
        try:
            with app.app_context():
                jobs.run_due(limit=100)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(_calls) == sorted(f"job-{n}" for n in range(30))
    assert set(_calls.values()) == {1}
    with app.app_context():
        assert {j.status for j in db.session.scalars(select(Job))} == {"done"}
        assert len(db.session.scalars(select(JobRun)).all()) == 30


def test_a_failing_job_backs_off_then_gives_up(app):
    _behaviour["bad"] = ZoomApiError(500, None, "boom")
    with app.app_context():
        jobs.enqueue(KIND, "bad")
        db.session.commit()
        waits = []
        for _attempt in range(jobs.MAX_ATTEMPTS):
            job = db.session.scalar(select(Job))
            job.run_at = utcnow()
            db.session.commit()
            before = utcnow()
            assert jobs.run_due() == 1
            job = db.session.scalar(select(Job))
            if job.status == "queued":
                waits.append(round((job.run_at - before).total_seconds()))
        assert job.status == "failed" and job.attempts == jobs.MAX_ATTEMPTS
        assert waits == sorted(waits) and waits[0] >= 59
        outcomes = [
            r.outcome for r in db.session.scalars(select(JobRun).order_by(JobRun.id))
        ]
        assert outcomes == ["retry"] * (jobs.MAX_ATTEMPTS - 1) + ["failed"]
        assert jobs.run_due() == 0  # given up: not claimed again


def test_a_rate_limit_defers_without_spending_an_attempt(app):
    reset = utcnow() + timedelta(hours=3)
    _behaviour["limited"] = ZoomRateLimited(reset, "daily")
    with app.app_context():
        jobs.enqueue(KIND, "limited")
        db.session.commit()
        jobs.run_due()
        job = db.session.scalar(select(Job))
        assert (job.status, job.attempts) == ("queued", 0)
        assert abs((job.run_at - reset).total_seconds()) < 1
        assert jobs.run_due() == 0  # not before the reset


def test_a_bug_in_a_job_is_recorded_and_retried_not_raised(app):
    _behaviour["bug"] = ZeroDivisionError("oops")
    with app.app_context():
        jobs.enqueue(KIND, "bug")
        db.session.commit()
        assert jobs.run_due() == 1
        run = db.session.scalar(select(JobRun))
        assert run.outcome == "retry" and "ZeroDivisionError" in run.error


def test_an_unknown_kind_is_recorded_not_raised(app):
    with app.app_context():
        jobs.enqueue("no_such_kind", "x")
        db.session.commit()
        assert jobs.run_due() == 1
        run = db.session.scalar(select(JobRun))
        assert "no handler" in run.error


def test_a_finished_job_enqueued_again_runs_again(app):
    with app.app_context():
        jobs.enqueue(KIND, "again")
        db.session.commit()
        jobs.run_due()
        jobs.enqueue(KIND, "again")
        db.session.commit()
        jobs.run_due()
        assert _calls["again"] == 2
