"""Reconciliation end to end: webhooks in, Zoom's report from the fake over HTTP, jobs run.

CONTRACT §6: a leave Zoom never delivered is corrected by the report; a
connection only the report has is added; a rerun (or a run killed half-way and
run again) changes nothing twice; a report not ready yet is asked for again; a
daily rate limit defers the job to the time Zoom names.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from attendance.extensions import db
from attendance.models import (
    Job,
    JobRun,
    Meeting,
    Participant,
    ReportRowRecord,
    Student,
)
from attendance.models.types import utcnow
from attendance.services import generation, jobs, zoom_jobs
from tests.conftest import _truncate, make_test_app
from tests.engine_support import (
    UUID,
    E,
    S,
    ended,
    iso,
    make_course,
    records,
    session,
    started,
)
from tests.fake_zoom import FakeZoom, app_on_fake_zoom, fake_zoom  # noqa: F401


@pytest.fixture(autouse=True)
def no_cooldown(monkeypatch):
    """Reruns at once (the cooldown of a person's request has its own test)."""
    monkeypatch.setattr(zoom_jobs, "RECONCILE_COOLDOWN", timedelta(0))


ANA_ID = "16779001"
BEN_ID = "16779002"


def row(user_id: str, name: str, join, leave, email: str = "", **extra: Any) -> dict:
    return {
        "id": extra.pop("id", ""),
        "user_id": user_id,
        "participant_user_id": extra.pop("participant_user_id", ""),
        "name": name,
        "user_email": email,
        "join_time": iso(join),
        "leave_time": iso(leave),
        "duration": int((leave - join).total_seconds()),
        "status": extra.pop("status", "in_meeting"),
        **extra,
    }


def play_lost_leave(zoom) -> None:
    """Ana's leave at 10:20 is never delivered; Ben's whole class is."""
    events = [started()]
    events += session("Ana Díaz", S, None, email="ana@uni.edu", user_id=ANA_ID)
    events += session(
        "Ben Okafor", S, E - timedelta(minutes=5), email="ben@uni.edu", user_id=BEN_ID
    )
    events.append(ended())
    for event in events:
        assert zoom.post(event).status_code == 200


def the_report() -> list[dict]:
    return [
        row(ANA_ID, "Ana Díaz", S, S + timedelta(minutes=20), "ana@uni.edu"),
        row(BEN_ID, "Ben Okafor", S, E - timedelta(minutes=5), "ben@uni.edu"),
        # Chen's webhooks were all lost: only the report has him.
        row("16779003", "Chen Wei", S + timedelta(minutes=1), E, "chen@uni.edu"),
        # A waiting-room row is no presence.
        row("16779004", "Dana Smith", S, E, "dana@uni.edu", status="in_waiting_room"),
    ]


def meeting_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Meeting.id).where(Meeting.uuid == UUID))


def lost_leave_class(app, zoom, bearers, fake=None) -> tuple[dict[str, str], int]:
    """The course, its class with a lost leave, Zoom's report of it (when ``fake``
    is given), an admin's headers and the meeting's id."""
    make_course(app)
    play_lost_leave(zoom)
    if fake is not None:
        fake.post("/_fake/participants", {"uuid": UUID, "participants": the_report()})
    return bearers(root=True)["root"], meeting_id(app)


def run_jobs(app) -> int:
    with app.app_context():
        try:
            return jobs.run_due()
        finally:
            db.session.remove()


def state(app) -> dict[str, Any]:
    """Everything a reconciliation writes, to compare runs."""
    with app.app_context():
        return {
            "records": records(app),
            "report_rows": db.session.scalar(select(func.count(ReportRowRecord.id))),
            "participants": sorted(
                db.session.execute(select(Participant.user_key, Participant.name)).all()
            ),
        }


def test_a_lost_leave_is_corrected_and_a_report_only_student_added(
    app, zoom, client, bearers, fake
):
    make_course(app)
    play_lost_leave(zoom)
    before = records(app)
    assert before["S1"]["attended_seconds"] == 3600  # in until the end: no leave
    assert before["S3"]["status"] == "Absent"
    fake.post("/_fake/participants", {"uuid": UUID, "participants": the_report()})
    headers = bearers(root=True)["root"]
    mid = meeting_id(app)

    answer = client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["status"] == "pending"
    assert (
        client.get(
            f"/api/v1/meetings/{mid}/reconciliation", headers=headers
        ).get_json()["status"]
        == "pending"
    )
    assert run_jobs(app) == 1

    after = records(app)
    assert after["S1"]["attended_seconds"] == 20 * 60
    assert after["S1"]["last_leave"] == S + timedelta(minutes=20)
    assert after["S2"] == before["S2"]  # the webhooks win where they have a leave
    assert after["S3"]["attended_seconds"] == 59 * 60
    assert after["S3"]["status"] in ("Present", "Late")
    assert after["S4"]["status"] == "Absent"  # waiting room only

    body = client.get(
        f"/api/v1/meetings/{mid}/reconciliation", headers=headers
    ).get_json()
    assert body["status"] == "done" and body["rows"] == 4 and body["error"] is None
    with app.app_context():
        pks = dict(db.session.execute(select(Student.student_id, Student.id)).all())
    changes = {c.get("student_pk"): c for c in body["changes"]}
    assert set(changes) == {pks["S1"], pks["S3"]}
    assert changes[pks["S1"]]["seconds_before"] == 3600
    assert changes[pks["S1"]]["seconds_after"] == 1200
    assert changes[pks["S1"]]["status_before"] == "Present"
    assert changes[pks["S3"]]["seconds_before"] == 0
    assert changes[pks["S3"]]["status_before"] == "Absent"

    with app.app_context():
        run = db.session.scalars(select(JobRun)).one()
        assert (run.kind, run.outcome, run.fetched, run.changed) == (
            "reconcile",
            "done",
            4,
            2,
        )
        assert run.meeting_id == mid and run.error is None
    # It asked Zoom by UUID (double-encoded: it holds a "/"), never the number.
    paths = [c["path"] for c in fake.calls("/v2/")]
    assert paths and all("/report/meetings/" in p for p in paths)
    assert "84712639219" not in " ".join(paths)


def test_a_rerun_changes_nothing(app, zoom, client, bearers, fake):
    headers, mid = lost_leave_class(app, zoom, bearers, fake)
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    first = state(app)
    again = client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    assert again.status_code == 202
    assert run_jobs(app) == 1
    assert state(app) == first


def test_the_report_in_any_order_and_repeated_gives_the_same(
    app, zoom, client, bearers, fake
):
    make_course(app)
    play_lost_leave(zoom)
    rows = the_report()
    fake.post("/_fake/participants", {"uuid": UUID, "participants": rows})
    headers = bearers(root=True)["root"]
    mid = meeting_id(app)
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    first = records(app)
    fake.post(
        "/_fake/participants",
        {"uuid": UUID, "participants": list(reversed(rows)) + rows},
    )
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    assert records(app) == first


class Killed(BaseException):
    """The process dying half-way (not an Exception: nothing catches it)."""


def test_a_job_killed_mid_run_runs_again_and_changes_nothing_twice(
    app, zoom, client, bearers, fake, monkeypatch
):
    headers, mid = lost_leave_class(app, zoom, bearers, fake)
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)

    real = generation.compute_inputs

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(generation, "compute_inputs", die)
    with pytest.raises(Killed):
        run_jobs(app)  # the report rows are stored, attendance not yet
    monkeypatch.setattr(generation, "compute_inputs", real)
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert job.status == "running" and job.lease_until is not None
        db.session.remove()
    assert run_jobs(app) == 0  # still claimed: nobody else runs it meanwhile
    with app.app_context():
        later = utcnow() + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
        held = jobs.claim(now=later)
        assert held is not None
        jobs.run_claimed(held)
        db.session.remove()
    once = state(app)
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    assert state(app) == once
    assert once["records"]["S1"]["attended_seconds"] == 1200
    assert once["report_rows"] == 4


def test_a_report_not_ready_is_asked_for_again_then_given_up(
    app, zoom, client, bearers, fake
):
    headers, mid = lost_leave_class(app, zoom, bearers)
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert job.status == "queued" and job.attempts == 1
        assert job.run_at > utcnow() + timedelta(seconds=30)
        run = db.session.scalars(select(JobRun)).one()
        assert run.outcome == "not_available"
    body = client.get(
        f"/api/v1/meetings/{mid}/reconciliation", headers=headers
    ).get_json()
    assert body["status"] == "pending"
    # Both the report and the past participants were asked for.
    paths = [c["path"] for c in fake.calls("/v2/")]
    assert any("/report/meetings/" in p for p in paths)
    assert any("/past_meetings/" in p for p in paths)
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        job.attempts = jobs.MAX_ATTEMPTS - 1
        job.run_at = utcnow()
        db.session.commit()
    run_jobs(app)
    body = client.get(
        f"/api/v1/meetings/{mid}/reconciliation", headers=headers
    ).get_json()
    assert body["status"] == "not_available"


def test_a_daily_rate_limit_defers_the_job_and_loses_nothing(
    app, zoom, client, bearers, fake
):
    headers, mid = lost_leave_class(app, zoom, bearers, fake)
    fake.fault("429-daily", retry_after="seconds", seconds=7200)
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert job.status == "queued" and job.attempts == 0
        assert job.run_at > utcnow() + timedelta(minutes=100)
        run = db.session.scalars(select(JobRun)).one()
        assert run.outcome == "deferred" and "daily" in (run.error or "")
        job.run_at = utcnow()  # the reset time has come
        db.session.commit()
    run_jobs(app)
    assert records(app)["S1"]["attended_seconds"] == 1200


def test_a_5xx_is_retried_with_backoff_and_recorded(app, zoom, client, bearers, fake):
    headers, mid = lost_leave_class(app, zoom, bearers, fake)
    fake.fault("500", count=20)
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert job.status == "queued" and job.attempts == 1
        run = db.session.scalars(select(JobRun)).one()
        assert run.outcome == "retry" and "500" in (run.error or "")
    body = client.get(
        f"/api/v1/meetings/{mid}/reconciliation", headers=headers
    ).get_json()
    assert body["status"] == "error" and "500" in body["error"]


def test_live_meetings_and_meetings_without_credentials_are_refused(
    database_url, zoom, fake
):
    application = make_test_app(database_url)  # no ZOOM_CLIENT_* settings
    try:
        client = application.test_client()
        make_course(application)
        sender = type(zoom)(client)
        sender.post(started())
        from attendance.services.accounts import create_instructor, issue_token

        with application.app_context():
            root = create_instructor(
                "root@uni.edu", "root", "correct horse battery", admin=True
            )
            headers = {"Authorization": f"Bearer {issue_token(root, 'cli')}"}
            db.session.commit()
        mid = meeting_id(application)
        live = client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
        assert live.status_code == 409 and "live" in live.get_json()["error"]["message"]
        sender.post(ended())
        none = client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
        assert none.status_code == 409
        assert "credentials" in none.get_json()["error"]["message"]
        assert (
            client.post(
                "/api/v1/meetings/999999/reconcile", headers=headers
            ).status_code
            == 404
        )
        assert (
            client.get(
                "/api/v1/meetings/999999/reconciliation", headers=headers
            ).status_code
            == 404
        )
    finally:
        _truncate(application)


def test_ended_meetings_are_queued_after_the_delay(app, zoom):
    make_course(app)
    recent_end = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    zoom.post(started(at=recent_end - timedelta(hours=1)))
    zoom.post(ended(at=recent_end))
    with app.app_context():
        assert zoom_jobs.queue_ended_meetings() == 1
        assert zoom_jobs.queue_ended_meetings() == 0  # queued once
        job = db.session.scalars(select(Job)).one()
        assert job.kind == "reconcile"
        assert job.run_at == recent_end + timedelta(
            minutes=app.config["RECONCILE_DELAY_MINUTES"]
        )


def test_old_meetings_are_not_swept(app, zoom):
    make_course(app)
    play_lost_leave(zoom)  # ended 2026-11-23: weeks before now
    with app.app_context():
        assert zoom_jobs.queue_ended_meetings(now=E + timedelta(days=30)) == 0
        assert zoom_jobs.queue_ended_meetings(now=E + timedelta(hours=1)) == 1


def test_a_manual_status_survives_reconciliation(app, zoom, client, bearers, fake):
    headers, mid = lost_leave_class(app, zoom, bearers, fake)
    with app.app_context():
        ana = db.session.scalar(select(Student.id).where(Student.student_id == "S1"))
    answer = client.patch(
        f"/api/v1/meetings/{mid}/attendance/{ana}",
        json={"status": "Present", "note": "she told me"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.get_json()
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    after = records(app)["S1"]
    assert after["status"] == "Present" and after["source"] == "manual"
    assert after["attended_seconds"] == 1200


def test_the_command_reconciles_now_and_prints_the_changes(app, zoom, fake):
    make_course(app)
    play_lost_leave(zoom)
    runner = app.test_cli_runner()
    fake.post("/_fake/participants", {"uuid": UUID, "participants": the_report()})
    result = runner.invoke(args=["zoom", "reconcile", UUID])
    assert result.exit_code == 0, result.output
    assert "2 students' attendance changed" in result.output
    assert "3600 s -> 1200 s, Present ->" in result.output
    assert records(app)["S1"]["attended_seconds"] == 1200
    result = runner.invoke(args=["zoom", "reconcile", "no-such-meeting"])
    assert result.exit_code == 1 and "no meeting" in result.output
    result = runner.invoke(args=["zoom", "reconcile", "x" * 5000])
    assert result.exit_code == 2 and "longer than 255" in result.output


def test_a_person_cannot_rerun_it_moments_after_the_last(
    app, zoom, client, bearers, fake, monkeypatch
):
    monkeypatch.setattr(zoom_jobs, "RECONCILE_COOLDOWN", timedelta(seconds=60))
    headers, mid = lost_leave_class(app, zoom, bearers, fake)
    url = f"/api/v1/meetings/{mid}/reconcile"
    first, twice = client.post(url, headers=headers), client.post(url, headers=headers)
    assert (first.status_code, twice.status_code) == (202, 202)  # queued: same job
    assert first.get_json()["job_id"] == twice.get_json()["job_id"]
    assert run_jobs(app) == 1
    soon = client.post(url, headers=headers)
    assert (
        soon.status_code == 409 and "moments ago" in soon.get_json()["error"]["message"]
    )
    assert run_jobs(app) == 0
    assert len(fake.calls("/v2/report/")) == 1


def test_an_absurdly_large_report_is_refused_not_stored(
    app, zoom, client, bearers, fake, monkeypatch
):
    from attendance.services import reconciliation

    monkeypatch.setattr(reconciliation, "MAX_REPORT_ROWS", 3)
    headers, mid = lost_leave_class(app, zoom, bearers, fake)
    client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    run_jobs(app)
    body = client.get(
        f"/api/v1/meetings/{mid}/reconciliation", headers=headers
    ).get_json()
    assert body["status"] == "error" and "more than 3 rows" in body["error"]
    assert state(app)["report_rows"] == 0


def test_applying_a_report_after_reads_survives_a_commit_in_between(app, zoom, fake):
    """The job reads the meeting, Zoom answers, the intake commits, then it writes:
    on SQLite a reader's transaction could not become the writer any more."""
    from sqlalchemy import update

    from attendance.services import reconciliation

    make_course(app)
    play_lost_leave(zoom)
    fake.post("/_fake/participants", {"uuid": UUID, "participants": the_report()})
    with app.app_context():
        meeting = db.session.scalars(select(Meeting)).one()  # a reader from here
        with fake.client() as zoom_api:
            rows = reconciliation.fetch_report(zoom_api, meeting)
        with db.engine.begin() as other:  # the intake, committing meanwhile
            other.execute(update(Meeting).values(topic="Biology (renamed)"))
        reconciliation.apply_report(meeting, rows)
        db.session.remove()
    assert records(app)["S1"]["attended_seconds"] == 1200
