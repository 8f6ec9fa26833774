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
    reset = utcnow() + timedelta(minutes=30)
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


def test_a_zoom_that_says_retry_now_is_not_asked_again_at_once(app):
    """A 429 naming no wait (or a time already past) must not make a hot loop."""
    _behaviour["hot"] = ZoomRateLimited(utcnow() - timedelta(seconds=5), "qps")
    with app.app_context():
        jobs.enqueue(KIND, "hot")
        db.session.commit()
        waits = []
        for _ in range(4):
            assert jobs.run_due() == 1  # one run per pass, not PASS_LIMIT
            job = db.session.scalar(select(Job))
            waits.append(round((job.run_at - utcnow()).total_seconds() / 60))
            job.run_at = utcnow()
            db.session.commit()
        assert waits == [1, 2, 4, 8]
        assert job.attempts == 0 and job.deferrals == 4


def test_deferrals_are_bounded_both_ways():
    from datetime import UTC, datetime

    now = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    # A date years ahead is capped at the next 01:00 UTC (daily limits reset at 00:00 GMT).
    far = datetime(2185, 5, 17, tzinfo=UTC)
    assert jobs.deferred_until(now, far, 1) == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    # Zoom's own reset time when it is sane.
    soon = now + timedelta(hours=2)
    assert jobs.deferred_until(now, soon, 1) == soon
    # Never sooner than the floor, which doubles up to an hour.
    assert jobs.deferred_until(now, None, 1) == now + timedelta(minutes=1)
    assert jobs.deferred_until(now, now, 3) == now + timedelta(minutes=4)
    assert jobs.deferred_until(now, None, 30) == now + timedelta(hours=1)


def test_a_job_deferred_too_often_is_given_up(app):
    _behaviour["forever"] = ZoomRateLimited(utcnow(), "qps")
    with app.app_context():
        jobs.enqueue(KIND, "forever")
        db.session.commit()
        job = db.session.scalar(select(Job))
        job.deferrals = jobs.MAX_DEFERRALS
        db.session.commit()
        jobs.run_due()
        job = db.session.scalar(select(Job))
        assert job.status == "failed"
        run = db.session.scalars(select(JobRun)).one()
        assert run.outcome == "failed" and "given up" in run.summary


def test_a_runner_whose_lease_ran_out_settles_nothing_of_the_job(app):
    with app.app_context():
        jobs.enqueue(KIND, "slow")
        db.session.commit()
        first = jobs.claim()
        later = utcnow() + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
        second = jobs.claim(now=later)
        assert first and second and first.job_id == second.job_id
        assert first.token != second.token
        jobs.run_claimed(first)  # the slow runner finishes after all
        job = db.session.scalar(select(Job))
        assert job.status == "running" and job.locked_by == second.token
        jobs.run_claimed(second)
        job = db.session.scalar(select(Job))
        assert job.status == "done" and job.locked_by is None
        runs = db.session.scalars(select(JobRun).order_by(JobRun.id)).all()
        assert len(runs) == 2 and "claimed again" in runs[0].summary


def test_two_requests_queueing_the_same_key_make_one_job(app):
    """The unique key settles a race: the loser reads the winner's job."""
    with app.app_context():
        db.session.add(Job(kind=KIND, key="race", run_at=utcnow()))
        db.session.commit()
        # This session had not seen it: its insert collides and it takes the row.
        original = db.session.scalar
        calls = {"n": 0}

        def first_lookup_misses(statement, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                return None
            return original(statement, *args, **kwargs)

        db.session.scalar = first_lookup_misses  # type: ignore[method-assign]
        try:
            job = jobs.enqueue(KIND, "race")
        finally:
            db.session.scalar = original  # type: ignore[method-assign]
        db.session.commit()
        assert len(db.session.scalars(select(Job)).all()) == 1
        assert job.key == "race"


def test_old_runs_are_purged(app):
    with app.app_context():
        now = utcnow()
        db.session.add_all(
            [
                JobRun(kind=KIND, started_at=now - timedelta(days=d))
                for d in (1, 89, 91, 400)
            ]
        )
        db.session.commit()
        assert jobs.purge_runs() == 2
        kept = sorted(
            round((now - r.started_at).days) for r in db.session.scalars(select(JobRun))
        )
        assert kept == [1, 89]
