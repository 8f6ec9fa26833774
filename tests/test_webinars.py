"""Webinars (CONTRACT §6): ``webinar.*`` events are handled exactly like their meeting twins.

A whole class is played twice through signed webhooks, once as a meeting and once
as a webinar (each in a course of its own, with the same roster), out of order
and with duplicates: the attendance must come out the same, and only the
webinar's instance is flagged ``is_webinar``.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import EventStatus, Meeting, WebhookEvent
from attendance.zoom.catalog import CATALOG, SPECS
from attendance.zoom.events import parse_event
from tests.api_support import create_course
from tests.engine_support import (
    NUMBER,
    ROSTER,
    E,
    S,
    ended,
    guests,
    make_course,
    participant_event,
    records,
    session,
    started,
)

#: An 11-digit webinar id, as Zoom gives them (the same length as meeting numbers).
WEBINAR = 91234567890
MEETING_UUID = "meet+Ab3x/Y=="
WEBINAR_UUID = "webi+Ab3x/Y=="
MIN = timedelta(minutes=1)


def _class(uuid: str, number: int) -> list[dict]:
    """A one-hour class: host, on time, late, left early and back, a guest, one absent."""
    events = [started(uuid)]
    plays = [
        ("Host Person", S, E, "", "zoom-host"),
        ("Ana Díaz", S + MIN, E - MIN, "ana@uni.edu", "zoom-ana"),
        ("Ben Okafor", S + 25 * MIN, E, "ben@uni.edu", ""),
        ("Chen Wei", S, S + 20 * MIN, "chen@uni.edu", "zoom-chen"),
        ("Chen Wei", S + 30 * MIN, S + 40 * MIN, "chen@uni.edu", "zoom-chen"),
        ("Visitor Guest", S + 5 * MIN, S + 50 * MIN, "", ""),
    ]
    for name, join, leave, email, zoom_id in plays:
        events += session(name, join, leave, email=email, zoom_id=zoom_id, uuid=uuid)
    events.append(ended(uuid))
    for event in events:
        event["payload"]["object"]["id"] = str(number)
    return events


def _as_webinar(event: dict) -> dict:
    """The same event as Zoom sends it for a webinar: only its name differs."""
    return {**event, "event": event["event"].replace("meeting.", "webinar.", 1)}


def _deliver(zoom, events: list[dict], seed: int) -> None:
    """Post every event, shuffled, with a few sent twice (as Zoom re-delivers)."""
    rng = random.Random(seed)
    sent = events + rng.sample(events, 4)
    rng.shuffle(sent)
    for event in sent:
        assert zoom.post(event).status_code == 200


def _meeting(app, uuid: str) -> Meeting:
    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == uuid))
        db.session.expunge(meeting)
        return meeting


def test_catalog_has_the_four_webinar_events_as_twins_of_meeting_events():
    webinars = {spec.name: spec for spec in CATALOG if spec.webinar}
    assert set(webinars) == {
        "webinar.started",
        "webinar.ended",
        "webinar.participant_joined",
        "webinar.participant_left",
    }
    for name, spec in webinars.items():
        twin = SPECS[spec.handled_as]
        assert twin.name == name.replace("webinar.", "meeting.")
        assert (spec.kind, spec.room_event) == (twin.kind, twin.room_event)


def test_parsed_webinar_event_is_its_meeting_twin_marked_webinar():
    joined = participant_event(
        "meeting.participant_joined", "joined", S, user_id="1", user_name="Ana"
    )
    meeting, webinar = parse_event(joined), parse_event(_as_webinar(joined))
    assert webinar.name == "webinar.participant_joined"
    assert webinar.meeting.webinar is True and meeting.meeting.webinar is False
    assert webinar.participant == meeting.participant
    assert webinar.occurred_at == meeting.occurred_at == S
    # A webinar's end has the same time as a meeting's (not the envelope's).
    assert parse_event(_as_webinar(ended())).occurred_at == E


def test_a_webinar_gives_the_attendance_the_same_meeting_would(
    app, client, zoom, bearers
):
    make_course(app)  # the meeting's course (NUMBER)
    headers = bearers(ada=False)
    # The webinar's course lists the webinar id among its zoom_meeting_ids.
    course = create_course(
        client, app, headers["ada"], code="BIO-W", zoom_meeting_ids=[str(WEBINAR)]
    )
    assert course["zoom_meeting_ids"] == [str(WEBINAR)]
    roster = client.post(
        f"/api/v1/courses/{course['id']}/students", json=ROSTER, headers=headers["ada"]
    )
    assert roster.status_code in (200, 201), roster.get_json()

    _deliver(zoom, _class(MEETING_UUID, NUMBER), seed=7)
    _deliver(zoom, [_as_webinar(e) for e in _class(WEBINAR_UUID, WEBINAR)], seed=7)

    as_meeting, as_webinar = records(app, MEETING_UUID), records(app, WEBINAR_UUID)
    assert set(as_webinar) == {"S1", "S2", "S3", "S4"}
    assert as_webinar == as_meeting
    assert {sid: r["status"] for sid, r in as_webinar.items()} == {
        "S1": "Present",
        "S2": "Late",
        "S3": "Left Early",  # 30 of 60 minutes (the minimum), gone at 40
        "S4": "Absent",
    }
    assert guests(app, WEBINAR_UUID) == guests(app, MEETING_UUID) != []

    meeting, webinar = _meeting(app, MEETING_UUID), _meeting(app, WEBINAR_UUID)
    assert (meeting.is_webinar, webinar.is_webinar) == (False, True)
    assert webinar.course_id == course["id"] != meeting.course_id
    assert webinar.zoom_meeting_id == WEBINAR
    assert (webinar.start_time, webinar.end_time) == (S, E)
    assert webinar.status == "ended"
    with app.app_context():
        statuses = db.session.execute(
            select(WebhookEvent.event, WebhookEvent.status).where(
                WebhookEvent.meeting_uuid == WEBINAR_UUID
            )
        ).all()
    assert {name.split(".")[0] for name, _ in statuses} == {"webinar"}
    assert {status for _, status in statuses} == {EventStatus.PROCESSED}


def test_a_webinar_event_marks_an_instance_a_webinar_for_good(app, zoom):
    make_course(app)
    uuid = "mixed+uuid=="
    joined = participant_event(
        "meeting.participant_joined",
        "joined",
        S,
        user_id="9",
        user_name="Ana",
        uuid=uuid,
    )
    assert zoom.post(joined).status_code == 200
    assert _meeting(app, uuid).is_webinar is False
    assert zoom.post(_as_webinar(started(uuid))).status_code == 200
    assert _meeting(app, uuid).is_webinar is True
    assert zoom.post(ended(uuid)).status_code == 200  # a meeting event: no un-flagging
    assert _meeting(app, uuid).is_webinar is True


def test_a_webinar_without_its_object_is_kept_failed_not_ignored(app, zoom):
    body = {"event": "webinar.participant_joined", "event_ts": 1, "payload": {}}
    assert zoom.post(body).status_code == 200
    with app.app_context():
        row = db.session.scalar(select(WebhookEvent))
        assert row.status == EventStatus.FAILED and "object" in row.error


def test_other_webinar_events_are_kept_as_ignored(app, zoom):
    body = {
        "event": "webinar.registration_created",
        "event_ts": 1,
        "payload": {"account_id": "A", "object": {"id": str(WEBINAR)}},
    }
    assert zoom.post(body).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(WebhookEvent.status)) == EventStatus.IGNORED


@pytest.mark.parametrize(
    "event", ["webinar.participant_joined", "webinar.participant_left"]
)
def test_webinar_participant_events_reach_the_live_room(app, bearers, event):
    from attendance.extensions import socketio
    from attendance.models import Course, Instructor

    course_id = make_course(app, number=WEBINAR, code="BIO-W")
    headers = bearers(ada=False)
    with app.app_context():
        ada = db.session.scalar(select(Instructor))
        ada.courses.append(db.session.get(Course, course_id))
        db.session.commit()
    token = headers["ada"]["Authorization"].removeprefix("Bearer ")
    sock = socketio.test_client(app, auth={"token": token})
    ack = sock.emit("join-meeting", {"meetingId": str(WEBINAR)}, callback=True)
    assert ack["ok"] is True
    sock.get_received()
    kind = "joined" if event.endswith("joined") else "left"
    body = participant_event(
        event,
        kind,
        S + MIN,
        user_id="77",
        user_name="Ana Díaz",
        email="ana@uni.edu",
        uuid=WEBINAR_UUID,
        id=str(WEBINAR),
    )
    from tests.conftest import ZoomSender

    assert ZoomSender(app.test_client()).post(body).status_code == 200
    names = [m["name"] for m in sock.get_received()]
    expected = "participantJoined" if kind == "joined" else "participantLeft"
    assert expected in names


def test_the_connections_page_says_to_subscribe_to_the_webinar_events(app, client):
    from attendance.services.accounts import create_instructor

    with app.app_context():
        create_instructor("root@uni.edu", "Root", "correct horse battery", admin=True)
        db.session.commit()
    signed_in = client.post(
        "/login", data={"email": "root@uni.edu", "password": "correct horse battery"}
    )
    assert signed_in.status_code == 302
    page = client.get("/admin/connections").get_data(as_text=True)
    for name in (
        "webinar.started",
        "webinar.ended",
        "webinar.participant_joined",
        "webinar.participant_left",
        "meeting.participant_joined",
        "user.presence_status_updated",
    ):
        assert f"<code>{name}</code>" in page, name


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"uuid": ""}, EventStatus.FAILED),
        ({"uuid": "x" * 300}, EventStatus.FAILED),
        ({"id": "9" * 30}, EventStatus.FAILED),
        ({"participant": "not an object"}, EventStatus.FAILED),
        ({"start_time": "yesterday"}, EventStatus.FAILED),
        # As for a meeting: an id that is no string is no id (the name is the
        # key), and a join without its time has the envelope's.
        (
            {"participant": {"user_id": ["a"], "user_name": "Ana"}},
            EventStatus.PROCESSED,
        ),
        (
            {"participant": {"user_id": "1", "user_name": "No time"}},
            EventStatus.PROCESSED,
        ),
    ],
)
def test_a_hostile_webinar_payload_is_treated_as_a_meetings_never_a_500(
    app, zoom, change, status
):
    for n, name in enumerate(
        ("meeting.participant_joined", "webinar.participant_joined")
    ):
        body = participant_event(name, "joined", S, user_id="5", user_name="Ana")
        body["payload"]["object"].update(change)
        body["event_ts"] = n + 1  # two distinct deliveries
        assert zoom.post(body).status_code == 200
    with app.app_context():
        rows = db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        assert [r.event.split(".")[0] for r in rows] == ["meeting", "webinar"]
        assert [r.status for r in rows] == [status, status]
        assert all(bool(r.error) == (status == EventStatus.FAILED) for r in rows)
