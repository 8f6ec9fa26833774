"""``POST /api/zoom/webhook`` end to end through the HTTP route (CONTRACT §2)."""

from __future__ import annotations

import copy
import json
import logging
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from attendance.extensions import db
from attendance.models import Meeting, WebhookEvent
from tests.conftest import make_test_app
from tests.support import SECRET, encode, fixture, signed_headers, zoom_signature


def _rows(app) -> list[WebhookEvent]:
    with app.app_context():
        rows = db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        db.session.expunge_all()
        return rows


def _meeting(app, uuid="4444AAAiAAAAAiAiAiiAii=="):
    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == uuid))
        db.session.expunge_all()
        return meeting


# -- accepted events -------------------------------------------------------------------


def test_webhook_stores_and_applies_meeting_started(app, zoom):
    response = zoom.post(fixture("meeting.started"))
    assert response.status_code == 200
    assert response.get_json() == {"status": "processed"}
    (row,) = _rows(app)
    assert row.event == "meeting.started"
    assert row.status == "processed"
    assert row.event_ts == 1763892000000
    assert row.meeting_uuid == "4444AAAiAAAAAiAiAiiAii=="
    assert row.zoom_meeting_id == 84712639219
    assert row.attempts == 1 and row.error is None
    assert row.received_at.tzinfo is not None
    assert json.loads(row.body) == fixture("meeting.started")
    meeting = _meeting(app)
    assert meeting.topic == "Biología 101 — Sección Ñ"
    assert meeting.status == "live"
    assert meeting.start_time.isoformat() == "2026-11-23T10:00:00+00:00"


def test_webhook_keeps_the_exact_raw_body(app, zoom):
    raw = encode(fixture("meeting.started")).replace(b'"event":', b'"event" :  ')
    assert zoom.post(raw).status_code == 200
    (row,) = _rows(app)
    assert row.body.encode("utf-8") == raw


def test_webhook_meeting_ended_before_started_gives_the_same_meeting(app, zoom):
    assert zoom.post(fixture("meeting.ended")).get_json() == {"status": "processed"}
    assert zoom.post(fixture("meeting.started")).get_json() == {"status": "processed"}
    meeting = _meeting(app)
    assert meeting.status == "ended"
    assert meeting.start_time.isoformat() == "2026-11-23T10:00:00+00:00"
    assert meeting.end_time.isoformat() == "2026-11-23T11:00:00+00:00"


def test_webhook_meeting_id_as_number_or_string(app, zoom):
    event = fixture("meeting.started")
    event["payload"]["object"]["id"] = 84712639219
    assert zoom.post(event).status_code == 200
    assert _meeting(app).zoom_meeting_id == 84712639219


# -- duplicates ------------------------------------------------------------------------


def test_webhook_identical_redelivery_is_a_duplicate(app, zoom):
    event = fixture("meeting.participant_joined")
    assert zoom.post(event).status_code == 200
    # Zoom's retry: same body, new timestamp and signature, minutes later.
    later = str(int(time.time()) + 60)
    response = zoom.post(event, timestamp=later)
    assert response.status_code == 200
    assert response.get_json() == {"status": "duplicate"}
    assert len(_rows(app)) == 1


def test_webhook_duplicate_with_new_event_ts_is_still_a_duplicate(app, zoom):
    event = fixture("meeting.participant_left")
    zoom.post(event)
    again = copy.deepcopy(event)
    again["event_ts"] += 4000
    assert zoom.post(again).get_json() == {"status": "duplicate"}
    assert len(_rows(app)) == 1


def test_webhook_recording_completed_duplicates_differ_in_tokens(app, zoom):
    first = fixture("recording.completed")
    second = copy.deepcopy(first)
    second["download_token"] = "eyJhbGciOiJIUzUxMiJ9.token-two"
    for f in second["payload"]["object"]["recording_files"]:
        f["download_url"] += "?from=other-datacenter"
    assert zoom.post(first).status_code == 200
    assert zoom.post(second).get_json() == {"status": "duplicate"}
    assert len(_rows(app)) == 1


def test_webhook_distinct_participant_events_are_all_kept(app, zoom):
    event = fixture("meeting.participant_joined")
    for n in range(3):
        other = copy.deepcopy(event)
        other["payload"]["object"]["participant"]["user_id"] = str(16778240 + n)
        assert zoom.post(other).status_code == 200
    rejoin = copy.deepcopy(event)
    rejoin["payload"]["object"]["participant"]["join_time"] = "2026-11-23T10:20:00Z"
    assert zoom.post(rejoin).status_code == 200
    assert len(_rows(app)) == 4


# -- aliases and unknown events ----------------------------------------------------------


def test_webhook_seed_alias_is_stored_and_deduplicated_with_the_real_name(app, zoom):
    real = fixture("meeting.participant_jbh_waiting")
    alias = copy.deepcopy(real)
    alias["event"] = "meeting.participant_waiting_for_host"
    assert zoom.post(alias).status_code == 200
    assert zoom.post(real).get_json() == {"status": "duplicate"}
    (row,) = _rows(app)
    assert row.event == "meeting.participant_waiting_for_host"


@pytest.mark.parametrize(
    ("alias", "real"),
    [
        ("meeting.recording_started", "recording.started"),
        ("meeting.recording_stopped", "recording.stopped"),
    ],
)
def test_webhook_recording_aliases_collapse_onto_real_names(app, zoom, alias, real):
    event = {
        "event": alias,
        "event_ts": 1763892300000,
        "payload": {
            "account_id": "A",
            "object": {
                "id": 84712639219,
                "uuid": "4444AAAiAAAAAiAiAiiAii==",
                "recording_file": {"recording_start": "2026-11-23T10:05:00Z"},
            },
        },
    }
    assert zoom.post(event).status_code == 200
    event["event"] = real
    assert zoom.post(event).get_json() == {"status": "duplicate"}


def test_webhook_unknown_event_is_stored_as_ignored(app, zoom):
    event = {
        "event": "meeting.participant_feedback",
        "event_ts": 1,
        "payload": {"x": 1},
    }
    response = zoom.post(event)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored"}
    (row,) = _rows(app)
    assert (row.event, row.status) == ("meeting.participant_feedback", "ignored")
    assert zoom.post(event).get_json() == {"status": "duplicate"}


def test_webhook_malformed_known_event_is_kept_as_failed(app, zoom):
    event = fixture("meeting.started")
    event["payload"]["object"]["start_time"] = "yesterday"
    response = zoom.post(event)
    assert response.status_code == 200
    (row,) = _rows(app)
    assert row.status == "failed"
    assert "yesterday" in row.error


# -- handler failures and replay ---------------------------------------------------------


def test_webhook_handler_error_marks_failed_and_replay_applies_it(
    app, zoom, monkeypatch
):
    from attendance.ingest import applier, meetings

    def broken(event, ctx):
        raise RuntimeError("database said no")

    monkeypatch.setitem(applier.HANDLERS, "meeting.started", broken)
    response = zoom.post(fixture("meeting.started"))
    assert response.status_code == 200
    (row,) = _rows(app)
    assert row.status == "failed"
    assert row.error == "RuntimeError: database said no"
    assert _meeting(app) is None

    monkeypatch.setitem(
        applier.HANDLERS, "meeting.started", meetings.record_meeting_started
    )
    result = app.test_cli_runner().invoke(args=["events", "replay", "--failed"])
    assert result.exit_code == 0, result.output
    assert f"event {row.id} (meeting.started): processed" in result.output
    (row,) = _rows(app)
    assert (row.status, row.error, row.attempts) == ("processed", None, 2)
    assert _meeting(app).start_time is not None


def test_events_replay_by_id_and_errors(app, zoom, runner):
    zoom.post(fixture("meeting.started"))
    (row,) = _rows(app)
    result = runner.invoke(args=["events", "replay", "--id", str(row.id)])
    assert result.exit_code == 0 and "processed" in result.output
    assert _rows(app)[0].attempts == 2
    missing = runner.invoke(args=["events", "replay", "--id", "999999"])
    assert missing.exit_code == 1
    assert "event 999999: not found" in missing.output
    usage = runner.invoke(args=["events", "replay"])
    assert usage.exit_code == 2 and "--failed" in usage.output
    none = runner.invoke(args=["events", "replay", "--failed"])
    assert none.exit_code == 0 and "nothing to replay" in none.output


# -- URL validation --------------------------------------------------------------------


def test_url_validation_answers_with_the_secret_that_verified(database_url):
    app = make_test_app(database_url, ZOOM_WEBHOOK_SECRETS=("old-secret", "new-secret"))
    body = encode(fixture("endpoint.url_validation"))
    response = app.test_client().post(
        "/api/zoom/webhook",
        data=body,
        headers=signed_headers(body, secret="new-secret"),
    )
    assert response.status_code == 200
    # printf 'qgg8vlvZRS6UYooatFL8Aw' | openssl dgst -sha256 -hmac 'new-secret'
    assert response.get_json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": zoom_signature("new-secret", "", b"")[:0]
        + _hmac_hex("new-secret", "qgg8vlvZRS6UYooatFL8Aw"),
    }


def _hmac_hex(secret: str, message: str) -> str:
    import hashlib
    import hmac

    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_url_validation_works_with_the_database_unreachable():
    app = make_test_app("sqlite:////nonexistent-dir/for/sure/attendance.db")
    body = encode(fixture("endpoint.url_validation"))
    client = app.test_client()
    response = client.post("/api/zoom/webhook", data=body, headers=signed_headers(body))
    assert response.status_code == 200
    assert response.get_json()["encryptedToken"] == _hmac_hex(
        SECRET, "qgg8vlvZRS6UYooatFL8Aw"
    )
    # And the same app cannot store events: 503, so Zoom retries.
    event = encode(fixture("meeting.started"))
    assert (
        client.post(
            "/api/zoom/webhook", data=event, headers=signed_headers(event)
        ).status_code
        == 503
    )


def test_url_validation_must_be_signed(client):
    body = encode(fixture("endpoint.url_validation"))
    response = client.post(
        "/api/zoom/webhook", data=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert "encryptedToken" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"plainToken": ""},
        {"plainToken": 5},
        None,
        "x",
        {"plainToken": "\ud800"},  # a lone surrogate cannot be hashed (was a 500)
        {"plainToken": "x" * 10_000},
    ],
)
def test_url_validation_without_plain_token_is_400(zoom, payload):
    # json.dumps escapes a lone surrogate as \ud800, as a sender's JSON would.
    body = json.dumps({"event": "endpoint.url_validation", "payload": payload})
    response = zoom.post(body)
    assert response.status_code == 400


def test_webhook_download_tokens_are_not_kept(zoom, app):
    response = zoom.post(fixture("recording.completed"))
    assert response.status_code == 200
    with app.app_context():
        body = db.session.scalars(select(WebhookEvent.body)).one()
    assert "token-one" not in body
    assert json.loads(body)["download_token"] == "[redacted]"


def test_webhook_a_lone_surrogate_in_a_redacted_body_is_still_kept(zoom, app):
    event = fixture("recording.completed")
    event["download_token"] = None  # makes redaction rewrite the body
    event["payload"]["object"]["topic"] = "\ud800"
    response = zoom.post(json.dumps(event))  # JSON-escaped, as a sender would
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        assert db.session.scalar(select(func.count(WebhookEvent.id))) == 1


# -- rejected requests ------------------------------------------------------------------


def _assert_nothing_stored(app):
    with app.app_context():
        assert db.session.scalar(select(func.count(WebhookEvent.id))) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-zm-request-timestamp": str(int(time.time()))},
        {"x-zm-signature": "v0=" + "0" * 64},
        {
            "x-zm-request-timestamp": str(int(time.time())),
            "x-zm-signature": "v0=" + "0" * 64,
        },
        {"x-zm-request-timestamp": "soon", "x-zm-signature": "v0=" + "0" * 64},
        {"x-zm-request-timestamp": "²", "x-zm-signature": "v0=" + "0" * 64},
    ],
)
def test_webhook_missing_or_bad_signature_is_401(app, client, headers):
    body = encode(fixture("meeting.started"))
    response = client.post("/api/zoom/webhook", data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"
    _assert_nothing_stored(app)


def test_webhook_wrong_secret_is_401(app, zoom):
    assert (
        zoom.post(fixture("meeting.started"), secret="not-the-secret").status_code
        == 401
    )
    _assert_nothing_stored(app)


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_webhook_stale_timestamp_is_401(app, zoom, offset):
    ts = str(int(time.time()) + offset)
    assert zoom.post(fixture("meeting.started"), timestamp=ts).status_code == 401
    _assert_nothing_stored(app)


def test_webhook_timestamp_in_milliseconds_is_accepted(app, zoom):
    ts = str(int(time.time() * 1000))
    assert zoom.post(fixture("meeting.started"), timestamp=ts).status_code == 200


def test_webhook_tampered_body_is_401(app, client):
    body = encode(fixture("meeting.started"))
    headers = signed_headers(body)
    tampered = body.replace(b"10:00:00Z", b"10:30:00Z")
    assert (
        client.post("/api/zoom/webhook", data=tampered, headers=headers).status_code
        == 401
    )
    _assert_nothing_stored(app)


def test_webhook_without_configured_secret_rejects_everything(database_url):
    app = make_test_app(database_url, ZOOM_WEBHOOK_SECRETS=())
    body = encode(fixture("meeting.started"))
    response = app.test_client().post(
        "/api/zoom/webhook", data=body, headers=signed_headers(body)
    )
    assert response.status_code == 401


def test_webhook_body_over_one_mib_is_413(app, client):
    body = b'{"event":"meeting.started","pad":"' + b"x" * (1024 * 1024) + b'"}'
    response = client.post("/api/zoom/webhook", data=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"
    _assert_nothing_stored(app)


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"",
        b"[1, 2, 3]",
        b'"meeting.started"',
        b'{"payload": {}}',
        b'{"event": 42, "payload": {}}',
        b'{"event": "  ", "payload": {}}',
        b"\xff\xfe\x00garbage",
        b'{"event": "meeting.started", "payload": {"object": "nope"}}',
    ],
)
def test_webhook_signed_but_not_an_event_is_400(app, client, body):
    response = client.post("/api/zoom/webhook", data=body, headers=signed_headers(body))
    if body.startswith(b'{"event": "meeting.started"'):
        # An object-less meeting event is an event: kept as failed, not refused.
        assert response.status_code == 200
        assert _rows(app)[0].status == "failed"
        return
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    _assert_nothing_stored(app)


def test_webhook_unsigned_garbage_is_401_before_400(app, client):
    response = client.post("/api/zoom/webhook", data=b"not json")
    assert response.status_code == 401


def test_webhook_get_is_405(client):
    assert client.get("/api/zoom/webhook").status_code == 405


# -- storage failures ------------------------------------------------------------------


def test_webhook_answers_503_when_the_database_is_unreachable():
    app = make_test_app("sqlite:////nonexistent-dir/for/sure/attendance.db")
    body = encode(fixture("meeting.participant_joined"))
    response = app.test_client().post(
        "/api/zoom/webhook", data=body, headers=signed_headers(body)
    )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"


def test_webhook_answers_503_when_the_insert_fails():
    # A real database without the event log table: the INSERT itself fails.
    path = Path(tempfile.mkdtemp()) / "empty.db"
    app = make_test_app(f"sqlite:///{path}")
    body = encode(fixture("meeting.participant_joined"))
    response = app.test_client().post(
        "/api/zoom/webhook", data=body, headers=signed_headers(body)
    )
    assert response.status_code == 503


# -- logging ---------------------------------------------------------------------------


def test_webhook_logs_one_line_without_emails_or_secrets(app, zoom, caplog):
    caplog.set_level(logging.INFO, logger="attendance.webhook")
    zoom.post(fixture("meeting.participant_joined"))
    lines = [r.getMessage() for r in caplog.records if r.name == "attendance.webhook"]
    assert len(lines) == 1
    line = lines[0]
    assert "event=meeting.participant_joined" in line
    assert "meeting=4444AAAiAAAAAiAiAiiAii==" in line
    assert "outcome=" in line and "ms=" in line
    assert "jchill@example.com" not in caplog.text
    assert SECRET not in caplog.text
