"""The server's intake mode: group commit in the request, apply in a worker."""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from attendance.errors import StorageUnavailable
from attendance.extensions import db
from attendance.ingest.event_log import IncomingEvent
from attendance.ingest.writer import get_intake
from attendance.models import WebhookEvent
from tests.conftest import make_test_app
from tests.support import encode, fixture, signed_headers


def _joined(n: int) -> dict:
    event = copy.deepcopy(fixture("meeting.participant_joined"))
    event["event"] = "meeting.started" if n == 0 else "meeting.participant_joined"
    event["payload"]["object"]["participant"]["user_id"] = str(100000 + n)
    event["payload"]["object"]["uuid"] = f"uuid-{n % 7}=="
    return event


def _wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_background_concurrent_requests_are_all_stored_once(background_app):
    bodies = [encode(_joined(n)) for n in range(120)]
    bodies += bodies[:30]  # Zoom's retries, interleaved with the rest

    def post(body):
        client = background_app.test_client()
        return client.post("/api/zoom/webhook", data=body, headers=signed_headers(body))

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(post, bodies))
    assert all(r.status_code == 200 for r in responses)
    statuses = [r.get_json()["status"] for r in responses]
    assert statuses.count("duplicate") == 30
    assert set(statuses) == {"queued", "duplicate"}

    def settled():
        with background_app.app_context():
            left = db.session.scalar(
                select(func.count(WebhookEvent.id)).where(
                    WebhookEvent.status == "queued"
                )
            )
            db.session.remove()
            return left == 0

    assert _wait_until(settled)
    with background_app.app_context():
        rows = db.session.execute(
            select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
        ).all()
    counts = dict(rows)
    assert sum(counts.values()) == 120
    assert counts == {"processed": 120}


def test_background_answers_queued_before_applying(background_app):
    body = encode(fixture("meeting.started"))
    client = background_app.test_client()
    response = client.post("/api/zoom/webhook", data=body, headers=signed_headers(body))
    assert response.get_json() == {"status": "queued"}


def test_background_store_failure_raises_storage_unavailable():
    app = make_test_app(
        "sqlite:////nonexistent-dir/x.db", WEBHOOK_PROCESSING="background"
    )
    body = encode(fixture("meeting.started"))
    item = IncomingEvent.from_body(body, fixture("meeting.started"))
    try:
        with app.app_context(), pytest.raises(StorageUnavailable):
            get_intake(app).submit(item)
        response = app.test_client().post(
            "/api/zoom/webhook", data=body, headers=signed_headers(body)
        )
        assert response.status_code == 503
    finally:
        get_intake(app).stop()


def test_worker_applies_events_left_queued_by_a_previous_run(background_app):
    inline = make_test_app(background_app.config["SQLALCHEMY_DATABASE_URI"])
    body = encode(fixture("meeting.started"))
    item = IncomingEvent.from_body(body, fixture("meeting.started"))
    from attendance.ingest.event_log import store_events

    with inline.app_context():
        (row_id,) = store_events([item])  # stored, never applied: the process "died"
    get_intake(background_app).start()

    def applied():
        with inline.app_context():
            status = db.session.get(WebhookEvent, row_id).status
            db.session.remove()
            return status == "processed"

    assert _wait_until(applied)


def test_applying_waits_for_a_busy_intake_only_while_no_live_room_is_open(
    background_app,
):
    """A busy intake defers applying (briefly), unless someone watches live."""
    from attendance.extensions import socketio
    from attendance.ingest import writer as intake_module
    from attendance.models import Course
    from attendance.services.accounts import create_instructor, issue_token
    from tests.engine_support import NUMBER, make_course

    worker = get_intake(background_app)

    def busy_wait() -> float:
        worker._last_write = time.monotonic() + 60  # a commit "just now", for a minute
        began = time.monotonic()
        with background_app.app_context():
            worker._give_way()
        return time.monotonic() - began

    assert busy_wait() >= intake_module.APPLY_MAX_DEFER_SECONDS
    course = make_course(background_app)
    with background_app.app_context():
        teacher = create_instructor("t@uni.edu", "T", "correct horse battery")
        teacher.courses.append(db.session.get(Course, course))
        token = issue_token(teacher)
        db.session.commit()
    viewer = socketio.test_client(background_app, auth={"token": token})
    try:
        assert busy_wait() >= intake_module.APPLY_MAX_DEFER_SECONDS  # connected only
        ack = viewer.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)
        assert ack["ok"]
        assert busy_wait() < intake_module.APPLY_MAX_DEFER_SECONDS / 2
        viewer.emit("leave-meeting", {"meetingId": str(NUMBER)}, callback=True)
        assert busy_wait() >= intake_module.APPLY_MAX_DEFER_SECONDS
    finally:
        viewer.disconnect()
        worker._last_write = 0.0


def _applied(app) -> bool:
    with app.app_context():
        left = db.session.scalar(
            select(func.count(WebhookEvent.id)).where(WebhookEvent.status == "queued")
        )
        db.session.remove()
        return left == 0


def test_the_worker_applies_what_the_requests_parsed_without_parsing_again(
    background_app, monkeypatch
):
    from attendance.ingest import applier

    parsed_again = []
    real = applier.parse_event

    def counting(data):
        parsed_again.append(data.get("event"))
        return real(data)

    monkeypatch.setattr(applier, "parse_event", counting)
    client = background_app.test_client()
    for n in range(12):
        body = encode(_joined(n))
        response = client.post(
            "/api/zoom/webhook", data=body, headers=signed_headers(body)
        )
        assert response.status_code == 200
    assert _wait_until(lambda: _applied(background_app))
    assert parsed_again == []
    with background_app.app_context():
        statuses = set(db.session.scalars(select(WebhookEvent.status)))
    assert statuses == {"processed"}


def test_a_redacted_event_is_applied_from_its_stored_body(background_app):
    """The request's parse saw the access token; the worker must apply what was kept."""
    from attendance.models import MeetingRecording
    from attendance.zoom.redact import REDACTED

    token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.eyJpc3MiOiJ3ZWIifQ.sig"
    event = {
        "event": "recording.completed",
        "event_ts": 1732356000000,
        "download_token": token,
        "payload": {
            "account_id": "acc",
            "object": {
                "id": 84712639219,
                "uuid": "Ab3xY+/kLm9==",
                "topic": "Biology",
                "recording_files": [
                    {
                        "id": "f1",
                        "download_url": "https://zoom.us/rec/download/abc?"
                        f"access_token={token}&x=1",
                        "status": "completed",
                    }
                ],
            },
        },
    }
    body = encode(event)
    response = background_app.test_client().post(
        "/api/zoom/webhook", data=body, headers=signed_headers(body)
    )
    assert response.status_code == 200
    assert _wait_until(lambda: _applied(background_app))
    with background_app.app_context():
        (url,) = db.session.scalars(select(MeetingRecording.download_url))
    assert token not in url and REDACTED in url


def test_announcing_a_batch_reads_nothing_from_the_database(app, zoom, monkeypatch):
    """The batch's ids are read before its commit: after it, each would be a query."""
    from sqlalchemy import event

    from attendance.ingest import applier

    statements: list[str] = []
    real = applier._announce

    def counting(*args, **kwargs):
        def count(_conn, _cursor, statement, *_rest):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            return real(*args, **kwargs)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)

    monkeypatch.setattr(applier, "_announce", counting)
    for n in range(1, 6):  # participant joins: each notice names its participant row
        assert zoom.post(_joined(n)).status_code == 200
    assert statements == [], statements
