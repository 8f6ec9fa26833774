"""Nothing stops the intake: poison events, crashed tasks, a locked or failing database."""

from __future__ import annotations

import copy
import dataclasses
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from attendance.errors import StorageUnavailable
from attendance.extensions import db
from attendance.ingest.event_log import IncomingEvent
from attendance.ingest.writer import _Pending, get_intake
from attendance.models import WebhookEvent
from tests.conftest import (
    _create_postgres_database,
    _drop_postgres_database,
    make_test_app,
)
from tests.support import encode, fixture, signed_headers


def _joined(n: int) -> dict:
    event = copy.deepcopy(fixture("meeting.participant_joined"))
    event["payload"]["object"]["participant"]["user_id"] = str(500000 + n)
    return event


def _item(n: int) -> IncomingEvent:
    event = _joined(n)
    return IncomingEvent.from_body(encode(event), event)


def _post(app, event: dict):
    body = encode(event)
    return app.test_client().post(
        "/api/zoom/webhook", data=body, headers=signed_headers(body)
    )


def _wait_until(predicate, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _statuses(app) -> dict[int, str]:
    with app.app_context():
        rows = db.session.execute(select(WebhookEvent.id, WebhookEvent.status)).all()
        db.session.remove()
    return dict(rows)


@pytest.mark.parametrize(
    "poison",
    [
        {"event_ts": 2**70},  # OverflowError (SQLite) / out of range (PostgreSQL)
        {"zoom_meeting_id": -(2**64)},
        {"meeting_uuid": "abc\x00def"},  # PostgreSQL refuses NUL in text
        {"meeting_uuid": "x" * 10_000},  # longer than its column (PostgreSQL)
    ],
    ids=["event_ts", "meeting_id", "nul", "long"],
)
def test_writer_keeps_an_unstorable_event_as_failed_and_stores_the_rest_of_its_batch(
    background_app, poison
):
    intake = get_intake(background_app)
    intake.start()
    items = [_item(n) for n in range(6)]
    items[3] = dataclasses.replace(items[3], **poison)
    batch = [_Pending(item=i, done=threading.Event()) for i in items]
    with background_app.app_context():
        intake._write(batch)  # one batch, as the writer takes them

    assert all(p.done.is_set() for p in batch)
    assert [p.error for p in batch] == [None] * 6
    assert all(p.row_id for p in batch)
    statuses = _statuses(background_app)
    assert len(statuses) == 6
    assert statuses[batch[3].row_id] == "failed" or poison.keys() <= {"meeting_uuid"}
    with background_app.app_context():
        row = db.session.get(WebhookEvent, batch[3].row_id)
        assert row.body == items[3].body  # the verified body is kept
        db.session.remove()
    # …and the intake goes on: the next webhook is stored and health is ok.
    assert _post(background_app, _joined(99)).status_code == 200
    health = background_app.test_client().get("/api/zoom/health")
    assert health.status_code == 200
    assert health.get_json()["intake"]["writer"] == "ok"


def test_writer_is_restarted_after_it_crashes(background_app, monkeypatch):
    intake = get_intake(background_app)
    real_write = intake._write
    crashes = []

    def crash_once(batch):
        if not crashes:
            crashes.append(batch)
            raise RuntimeError("boom")
        real_write(batch)

    monkeypatch.setattr(intake, "_write", crash_once)
    first = _post(background_app, _joined(1))
    assert first.status_code == 503  # its batch was lost with the task: not kept
    assert _wait_until(lambda: intake.state().writer == "ok")
    assert _post(background_app, _joined(1)).status_code == 200
    assert intake.state().restarts == 1


def test_worker_marks_only_the_poison_event_failed(background_app, monkeypatch):
    from attendance.ingest import applier
    from attendance.ingest.event_log import store_events

    with background_app.app_context():
        ids = store_events([_item(n) for n in range(8)])
        db.session.remove()
    poison = ids[4]
    real_record = applier._record

    def record(outcomes):
        if any(o.id == poison for o in outcomes):
            raise ValueError("cannot regenerate this one")
        real_record(outcomes)

    monkeypatch.setattr(applier, "_record", record)
    get_intake(background_app).start()

    def settled():
        return "queued" not in _statuses(background_app).values()

    assert _wait_until(settled)
    statuses = _statuses(background_app)
    assert statuses.pop(poison) == "failed"
    assert set(statuses.values()) == {"processed"}
    with background_app.app_context():
        error = db.session.get(WebhookEvent, poison).error
        db.session.remove()
    assert "ValueError: cannot regenerate this one" in error
    assert get_intake(background_app).state().worker == "ok"


def test_health_is_degraded_while_stores_fail_and_recovers_by_itself(
    background_app, monkeypatch
):
    from attendance.ingest import writer as intake_module

    def refuse(*_args, **_kwargs):
        raise StorageUnavailable("OperationalError: database or disk is full")

    monkeypatch.setattr(intake_module, "store_events", refuse)
    monkeypatch.setattr(intake_module, "probe_write", refuse)
    monkeypatch.setattr(intake_module, "PROBE_INTERVAL_SECONDS", 0.0)
    client = background_app.test_client()
    assert client.get("/api/zoom/health").status_code == 200
    began = time.monotonic()
    assert _post(background_app, _joined(1)).status_code == 503
    assert time.monotonic() - began < 2.0
    health = client.get("/api/zoom/health")
    assert health.status_code == 503  # SELECT 1 works; writing does not
    body = health.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["intake"] == "degraded"
    assert body["checks"]["database"] == "ok"

    monkeypatch.undo()  # the disk has room again: a probe write clears it
    assert _wait_until(lambda: client.get("/api/zoom/health").status_code == 200)
    assert _post(background_app, _joined(1)).status_code == 200


def test_a_locked_sqlite_file_gets_a_fast_503_and_degraded_health():
    path = Path(tempfile.mkdtemp(prefix="attendance-lock-")) / "lock.db"
    url = f"sqlite:///{path}"
    migrate_app = make_test_app(url)
    with migrate_app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    app = make_test_app(url, WEBHOOK_PROCESSING="background", SQLITE_BUSY_TIMEOUT_MS=20)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN EXCLUSIVE")  # a CLI import, a backup, another process
        began = time.monotonic()
        assert _post(app, _joined(1)).status_code == 503
        assert time.monotonic() - began < 2.0
        began = time.monotonic()
        health = app.test_client().get("/api/zoom/health")
        assert time.monotonic() - began < 3.0
        assert health.status_code == 503
        assert health.get_json()["status"] == "degraded"
        other.execute("ROLLBACK")
        assert _wait_until(
            lambda: app.test_client().get("/api/zoom/health").status_code == 200
        )
        assert _post(app, _joined(1)).status_code == 200
    finally:
        other.close()
        get_intake(app).stop()


def test_a_locked_postgres_table_gets_a_fast_503_and_degraded_health():
    database_url, admin_url = _create_postgres_database()  # requires PostgreSQL
    migrate_app = make_test_app(database_url)
    with migrate_app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    app = make_test_app(database_url, WEBHOOK_PROCESSING="background")
    locker = create_engine(make_url(database_url).set(drivername="postgresql+psycopg2"))
    try:
        with locker.connect() as conn:
            trans = conn.begin()
            conn.execute(text("LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE"))
            began = time.monotonic()
            assert _post(app, _joined(1)).status_code == 503
            assert time.monotonic() - began < 2.0
            began = time.monotonic()
            health = app.test_client().get("/api/zoom/health")
            assert time.monotonic() - began < 3.0
            assert health.status_code == 503
            trans.rollback()
        assert _wait_until(
            lambda: app.test_client().get("/api/zoom/health").status_code == 200
        )
        assert _post(app, _joined(1)).status_code == 200
    finally:
        get_intake(app).stop()
        locker.dispose()
        with app.app_context():
            db.engine.dispose()
        _drop_postgres_database(database_url, admin_url)


def test_inline_intake_keeps_an_unstorable_event_as_failed(app):
    """``WEBHOOK_PROCESSING=inline`` gives the writer's guarantees too (was a 500)."""
    item = dataclasses.replace(_item(1), event_ts=2**70)
    with app.app_context():
        row_id, status = get_intake(app).submit(item)
        assert status == "queued"  # kept, for an admin to see and replay
        assert db.session.get(WebhookEvent, row_id).status == "failed"
        db.session.remove()
