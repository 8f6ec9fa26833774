"""``GET /api/zoom/health`` in both states (CONTRACT §2)."""

from __future__ import annotations

import re

from tests.conftest import make_test_app
from tests.support import SECRET, fixture, redis_url, require

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_health_ok_shape(client):
    response = client.get("/api/zoom/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "message_queue": "disabled",
            "scheduler": "disabled",
            "intake": "ok",
        },
        "webhook": {
            "secret_configured": True,
            "last_event_at": None,
            "last_validation_at": None,
            "failed_events": 0,
        },
        "intake": {
            "mode": "inline",
            "writer": "inline",
            "worker": "inline",
            "waiting": 0,
            "unapplied": 0,
            "oldest_unapplied_seconds": None,
            "restarts": 0,
        },
        "jobs": {"queued": 0, "overdue": 0, "failed": 0},
        "version": "0.1.0",
    }


def test_health_counts_jobs_no_scheduler_picked_up(app, client):
    from datetime import timedelta

    from attendance.extensions import db
    from attendance.models import Job
    from attendance.models.types import utcnow

    with app.app_context():
        now = utcnow()
        db.session.add_all(
            [
                Job(kind="users_sync", key="a", run_at=now + timedelta(hours=1)),
                Job(kind="users_sync", key="b", run_at=now - timedelta(minutes=30)),
                Job(kind="backfill", key="c", status="failed", run_at=now),
            ]
        )
        db.session.commit()
    body = client.get("/api/zoom/health").get_json()
    assert body["jobs"] == {"queued": 2, "overdue": 1, "failed": 1}


def test_health_reports_last_event_validation_and_failures(client, zoom, monkeypatch):
    from attendance.ingest import applier

    zoom.post(fixture("endpoint.url_validation"))
    monkeypatch.setitem(applier.HANDLERS, "meeting.started", lambda e, c: 1 / 0)
    zoom.post(fixture("meeting.started"))
    body = client.get("/api/zoom/health").get_json()
    assert ISO.match(body["webhook"]["last_event_at"])
    assert ISO.match(body["webhook"]["last_validation_at"])
    assert body["webhook"]["failed_events"] == 1
    text = client.get("/api/zoom/health").get_data(as_text=True)
    assert SECRET not in text and "Biolog" not in text


def test_health_degraded_when_database_does_not_answer():
    app = make_test_app("sqlite:////nonexistent-dir/for/sure/attendance.db")
    response = app.test_client().get("/api/zoom/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "unavailable"
    assert body["webhook"]["failed_events"] == 0


def test_health_degraded_when_postgres_is_down():
    app = make_test_app("postgresql://postgres@127.0.0.1:1/nothing")
    response = app.test_client().get("/api/zoom/health")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"


def test_health_message_queue_ok_with_redis(database_url):
    require("redis")
    app = make_test_app(database_url, REDIS_URL=redis_url())
    body = app.test_client().get("/api/zoom/health").get_json()
    assert body["checks"]["message_queue"] == "ok"


def test_health_message_queue_degraded_when_redis_is_down(database_url):
    app = make_test_app(database_url, REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/api/zoom/health")
    assert response.status_code == 200
    assert response.get_json()["checks"]["message_queue"] == "degraded"


def test_health_scheduler_running_when_started(app):
    from attendance.jobs import start_background_scheduler

    scheduler = start_background_scheduler(app)
    try:
        body = app.test_client().get("/api/zoom/health").get_json()
        assert body["checks"]["scheduler"] == "running"
    finally:
        scheduler.shutdown(wait=False)
