"""Event-log retention: old applied events go, failed and queued ones and attendance stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from attendance.config import ConfigError
from attendance.extensions import db
from attendance.models import EventStatus, Meeting, WebhookEvent
from attendance.models.types import utcnow
from attendance.services.generation import generate
from attendance.services.meeting_inputs import find_meeting
from attendance.services.retention import cutoff, purge_events
from tests.conftest import make_test_app
from tests.engine_support import UUID, E, S, ended, make_course, records, session
from tests.engine_support import started as started_event

DAY = timedelta(days=1)
MIN = timedelta(minutes=1)


def _events(app, *specs: tuple[int, EventStatus]) -> list[int]:
    """Store one event per (age in days, status); return their ids in that order."""
    now = utcnow()
    rows = [
        {
            "event": "meeting.participant_joined",
            "event_ts": 1,
            "received_at": now - age * DAY,
            "dedupe_key": uuid.uuid4().hex,
            "body": '{"email": "ana@uni.edu"}',
            "status": status.value,
            "attempts": 1,
        }
        for age, status in specs
    ]
    with app.app_context():
        ids = [
            row_id
            for (row_id,) in db.session.execute(
                insert(WebhookEvent).returning(WebhookEvent.id), rows
            )
        ]
        db.session.commit()
    return ids


def _left(app) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(select(WebhookEvent.id)))


@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_purge_events_deletes_old_applied_events_only(app, batch_size):
    old = [
        (100, EventStatus.PROCESSED),
        (100, EventStatus.FAILED),
        (95, EventStatus.IGNORED),
        (95, EventStatus.QUEUED),
        (91, EventStatus.PROCESSED),
        (91, EventStatus.PROCESSED),
        (91, EventStatus.FAILED),
        (91, EventStatus.IGNORED),
    ]
    recent = [(89, EventStatus.PROCESSED), (1, EventStatus.IGNORED)]
    ids = _events(app, *old, *recent)
    with app.app_context():
        deleted = purge_events(cutoff(90), batch_size=batch_size)
    kept = {ids[1], ids[3], ids[6], ids[8], ids[9]}
    assert deleted == len(ids) - len(kept)
    assert _left(app) == kept


def test_purge_events_leaves_attendance_as_it_was(app, zoom):
    """Attendance is regenerated from participant rows, never from the event log."""
    make_course(app)
    events = [started_event()]
    events += session("Ana Díaz", S + MIN, E, email="ana@uni.edu")
    events += session("Ben Okafor", S + 15 * MIN, E - 20 * MIN, email="ben@uni.edu")
    events += session("Visitor", S, E)
    events.append(ended())
    for event in events:
        assert zoom.post(event).status_code == 200
    before = records(app)
    with app.app_context():
        db.session.execute(
            update(WebhookEvent).values(received_at=utcnow() - 200 * DAY)
        )
        db.session.commit()
        statuses = set(db.session.scalars(select(WebhookEvent.status)))
        assert statuses <= {EventStatus.PROCESSED, EventStatus.IGNORED}
        assert purge_events(cutoff(90)) == len(events)
    assert _left(app) == set()
    with app.app_context():
        meeting = find_meeting(UUID)
        generate(meeting)
        db.session.commit()
        assert db.session.get(Meeting, meeting.id).status == "ended"
    assert records(app) == before
    assert before["S1"]["status"] == "Present"


def test_events_purge_cli(app, runner):
    ids = _events(
        app,
        (40, EventStatus.PROCESSED),
        (40, EventStatus.FAILED),
        (10, EventStatus.IGNORED),
    )
    # The default window (90 days) keeps all three.
    default = runner.invoke(args=["events", "purge"])
    assert default.exit_code == 0, default.output
    assert "purged 0 " in default.output
    result = runner.invoke(args=["events", "purge", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "purged 1 processed or ignored events received before" in result.output
    assert _left(app) == {ids[1], ids[2]}
    for bad in ("0", "-1", "99999999999", "x"):
        refused = runner.invoke(args=["events", "purge", "--days", bad])
        assert refused.exit_code == 2, (bad, refused.output)
    assert _left(app) == {ids[1], ids[2]}


def test_events_purge_cli_with_retention_off(database_url):
    from tests.conftest import _truncate

    app = make_test_app(database_url, EVENT_RETENTION_DAYS=0)
    try:
        ids = _events(app, (400, EventStatus.PROCESSED))
        result = app.test_cli_runner().invoke(args=["events", "purge"])
        assert result.exit_code == 0 and "keep forever" in result.output
        assert _left(app) == set(ids)
    finally:
        _truncate(app)


def test_purge_job_follows_the_setting(database_url):
    from apscheduler.schedulers.background import BackgroundScheduler

    from attendance.jobs import _add_jobs, purge_old_events
    from tests.conftest import _truncate

    app = make_test_app(database_url, EVENT_RETENTION_DAYS=30)
    try:
        ids = _events(app, (31, EventStatus.IGNORED), (29, EventStatus.PROCESSED))
        assert purge_old_events(app) == 1
        assert _left(app) == {ids[1]}
        scheduler = BackgroundScheduler(timezone="UTC")
        _add_jobs(scheduler, app)
        assert scheduler.get_job("purge_old_events") is not None
        app.config["EVENT_RETENTION_DAYS"] = 0
        assert purge_old_events(app) == 0
        off = BackgroundScheduler(timezone="UTC")
        _add_jobs(off, app)
        assert off.get_job("purge_old_events") is None
    finally:
        _truncate(app)


def test_retention_setting_is_read_and_checked(database_url, monkeypatch):
    assert make_test_app(database_url).config["EVENT_RETENTION_DAYS"] == 90
    monkeypatch.setenv("EVENT_RETENTION_DAYS", "7")
    assert make_test_app(database_url).config["EVENT_RETENTION_DAYS"] == 7
    for bad in ("-1", "100000"):
        monkeypatch.setenv("EVENT_RETENTION_DAYS", bad)
        with pytest.raises(ConfigError, match="EVENT_RETENTION_DAYS"):
            make_test_app(database_url)
