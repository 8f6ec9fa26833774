"""A meeting records the Zoom connection whose webhook URL brought its events (CONTRACT §6).

Set when the meeting is created, or when it has none (the environment's URL)
and an event arrives through a connection's URL; never moved from one
connection to another afterwards.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.ingest.applier import apply_ids, apply_queued
from attendance.models import EventStatus, Meeting, WebhookEvent
from attendance.services.connections import create_connection
from attendance.zoom.events import parse_event
from tests.engine_support import UUID, S, ended, make_course, session, started
from tests.support import SECRET, encode, signed_headers

ALPHA_SECRET = "alpha-secret-token-1"
BETA_SECRET = "beta-secret-token-2"


@pytest.fixture
def urls(app) -> dict[str, tuple[int | None, str, str]]:
    """name -> (connection id, webhook path, secret): the environment's, alpha, beta."""
    make_course(app)
    out: dict[str, tuple[int | None, str, str]] = {
        "env": (None, "/api/zoom/webhook", SECRET)
    }
    with app.app_context():
        for name, secret in (("alpha", ALPHA_SECRET), ("beta", BETA_SECRET)):
            connection = create_connection(name.title(), [secret])
            db.session.commit()
            out[name] = (
                connection.id,
                f"/api/zoom/webhook/{connection.webhook_key}",
                secret,
            )
    return out


def _post(client, urls, via: str, event: dict) -> None:
    _cid, path, secret = urls[via]
    body = encode(event)
    answer = client.post(path, data=body, headers=signed_headers(body, secret=secret))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["status"] in {"processed", "queued"}


def _connection_of(app, uuid: str = UUID) -> int | None:
    with app.app_context():
        return db.session.scalar(
            select(Meeting.connection_id).where(Meeting.uuid == uuid)
        )


def test_a_meeting_created_through_a_connection_records_it(app, client, urls):
    _post(client, urls, "alpha", started())
    assert _connection_of(app) == urls["alpha"][0]


def test_a_meeting_of_the_environment_has_none(app, client, urls):
    for event in (started(), *session("Ana Díaz", S, None, email="ana@uni.edu")):
        _post(client, urls, "env", event)
    assert _connection_of(app) is None


def test_the_environments_meeting_is_claimed_by_the_first_connection_then_kept(
    app, client, urls
):
    ana, ben = (
        session(name, S, None, email=f"{name[:3].lower()}@uni.edu")[0]
        for name in ("Ana Díaz", "Ben Okafor")
    )
    _post(client, urls, "env", started())
    assert _connection_of(app) is None
    _post(client, urls, "beta", ana)  # a participant event creates nothing new
    assert _connection_of(app) == urls["beta"][0]
    _post(client, urls, "alpha", ben)  # another connection: no flip
    _post(client, urls, "env", ended())  # the environment's URL: no reset
    assert _connection_of(app) == urls["beta"][0]


def test_a_connections_meeting_stays_its_own(app, client, urls):
    _post(client, urls, "alpha", started())
    _post(client, urls, "beta", ended())
    assert _connection_of(app) == urls["alpha"][0]


def test_a_webinar_records_its_connection_too(app, client, urls):
    webinar = {**started("webinar-uuid=="), "event": "webinar.started"}
    _post(client, urls, "beta", webinar)
    with app.app_context():
        meeting = db.session.scalar(
            select(Meeting).where(Meeting.uuid == "webinar-uuid==")
        )
        assert (meeting.connection_id, meeting.is_webinar) == (urls["beta"][0], True)


def _queue(event: dict, connection_id: int | None) -> int:
    """Store an event as the intake would, queued for the applier."""
    parsed = parse_event(event)
    row = WebhookEvent(
        event=event["event"],
        event_ts=event.get("event_ts"),
        dedupe_key=parsed.dedupe_key,
        meeting_uuid=parsed.meeting.uuid,
        zoom_meeting_id=parsed.meeting.zoom_meeting_id,
        body=json.dumps(event),
        status=EventStatus.QUEUED,
        connection_id=connection_id,
    )
    db.session.add(row)
    db.session.flush()
    return row.id


@pytest.mark.parametrize("first", ["alpha", "beta"])
def test_in_one_batch_the_first_connection_in_order_wins(app, urls, first):
    """Several connections' events for one meeting in one batch: per event, not per batch."""
    second = "beta" if first == "alpha" else "alpha"
    events = [started(), *session("Ana Díaz", S, None, email="ana@uni.edu")]
    events += session("Ben Okafor", S, None, email="ben@uni.edu")
    with app.app_context():
        _queue(events[0], None)  # the environment's: creates it with none
        _queue(events[1], urls[first][0])
        _queue(events[2], urls[second][0])
        db.session.commit()
        outcomes = apply_queued()
        assert [o.status for o in outcomes] == [EventStatus.PROCESSED] * 3
    assert _connection_of(app) == urls[first][0]


def test_a_replayed_event_of_another_connection_changes_nothing(app, client, urls):
    _post(client, urls, "alpha", started())
    with app.app_context():
        replay = _queue(ended(), urls["beta"][0])
        db.session.commit()
        apply_ids([replay])
    assert _connection_of(app) == urls["alpha"][0]
