"""Socket.IO (CONTRACT §4): authentication, meeting rooms, events after commit, notifications."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attendance.extensions import db, socketio
from attendance.services.accounts import create_instructor, issue_token
from tests.engine_support import (
    HOST,
    NUMBER,
    ROSTER,
    E,
    S,
    ended,
    make_course,
    participant_event,
    session,
    started,
)

OTHER_NUMBER = 98765432101
PASSWORD = "correct horse battery"


@pytest.fixture
def people(app):
    """ada teaches BIO (NUMBER, roster of 4); bob teaches CHEM (OTHER_NUMBER); root is admin."""
    bio = make_course(app)
    chem = make_course(app, roster=[], number=OTHER_NUMBER, code="CHEM")
    with app.app_context():
        from attendance.models import Course

        tokens = {}
        for who, course, admin in (
            ("ada", bio, False),
            ("bob", chem, False),
            ("root", None, True),
        ):
            person = create_instructor(f"{who}@uni.edu", who, PASSWORD, admin=admin)
            if course is not None:
                person.courses.append(db.session.get(Course, course))
            tokens[who] = issue_token(person)
        db.session.commit()
    return tokens


def _socket(app, token=None, **kwargs):
    auth = {"token": token} if token else None
    return socketio.test_client(app, auth=auth, **kwargs)


def _events(client, name=None):
    received = client.get_received()
    return [r for r in received if name is None or r["name"] == name]


def test_anonymous_and_bad_tokens_are_refused(app, people):
    assert not _socket(app).is_connected()
    assert not _socket(app, token="att_not-a-token").is_connected()
    assert not socketio.test_client(app, auth={"token": 5}).is_connected()
    assert _socket(app, people["ada"]).is_connected()


def test_session_cookie_connects(app, client, people):
    form = {"email": "ada@uni.edu", "password": PASSWORD}
    assert client.post("/login", data=form).status_code == 302
    sock = socketio.test_client(app, flask_test_client=client)
    assert sock.is_connected()
    ack = sock.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)
    assert ack["ok"] is True


def test_join_meeting_snapshot_before_and_during(app, people, zoom):
    sock = _socket(app, people["ada"])
    ack = sock.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)
    assert ack["ok"] is True and ack["meeting"] is None and ack["participants"] == []
    assert ack["statistics"]["roster_size"] == 4
    assert ack["statistics"]["absent_so_far"] == 4
    # Sorted by last name: Díaz, Okafor, Smith, Wei.
    assert [s["student_id"] for s in ack["roster"]] == ["S1", "S2", "S4", "S3"]
    for event in [started(), *session("Ana Díaz", S, None, email="ana@uni.edu")]:
        assert zoom.post(event).status_code == 200
    again = sock.emit("join-meeting", {"meetingId": NUMBER}, callback=True)
    assert again["meeting"]["status"] == "live"
    (ana,) = again["participants"]
    assert ana["student_id"] == "S1" and ana["status"] == "in_meeting"
    assert ana["matched_by"] == "email" and ana["role"] == "guest"
    assert set(ana) == {
        "id",
        "name",
        "email",
        "student_pk",
        "student_id",
        "role",
        "status",
        "first_join",
        "last_leave",
        "attended_seconds",
        "sessions",
        "audio",
        "video",
        "sharing",
        "in_breakout_room",
        "matched_by",
    }
    assert again["statistics"]["students_present"] == 1
    assert again["statistics"]["absent_so_far"] == 3


@pytest.mark.parametrize(
    "payload",
    [
        {"meetingId": str(OTHER_NUMBER)},
        {"meetingId": "12"},
        {"meetingId": None},
        "x",
        None,
    ],
)
def test_join_refused_for_others_meetings_and_bad_ids(app, people, payload):
    sock = _socket(app, people["ada"])
    ack = sock.emit("join-meeting", payload, callback=True)
    assert ack["ok"] is False and ack["error"]


def test_room_events_reach_only_that_room(app, people, zoom):
    ada = _socket(app, people["ada"])
    bob = _socket(app, people["bob"])
    root = _socket(app, people["root"])
    ada.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)
    bob.emit("join-meeting", {"meetingId": str(OTHER_NUMBER)}, callback=True)
    for sock in (ada, bob, root):
        sock.get_received()
    uid = "777"
    sequence = [
        ("meetingStarted", started()),
        (
            "participantWaiting",
            participant_event(
                "meeting.participant_joined_waiting_room",
                "waiting",
                S,
                user_id=uid,
                user_name="Walk In",
            ),
        ),
        (
            "participantAdmitted",
            participant_event(
                "meeting.participant_admitted",
                "admitted",
                S,
                user_id=uid,
                user_name="Walk In",
            ),
        ),
        (
            "participantJoined",
            participant_event(
                "meeting.participant_joined",
                "joined",
                S,
                user_id=uid,
                user_name="Walk In",
            ),
        ),
        (
            "sharingStarted",
            participant_event(
                "meeting.sharing_started",
                "sharing",
                S + timedelta(minutes=1),
                user_id=uid,
                user_name="Walk In",
            ),
        ),
        (
            "participantMovedToWaitingRoom",
            participant_event(
                "meeting.participant_put_in_waiting_room",
                "waiting",
                S + timedelta(minutes=2),
                user_id=uid,
                user_name="Walk In",
            ),
        ),
        (
            "participantLeft",
            participant_event(
                "meeting.participant_left",
                "left",
                S + timedelta(minutes=3),
                user_id=uid,
                user_name="Walk In",
            ),
        ),
        ("meetingEnded", ended()),
    ]
    for expected, event in sequence:
        assert zoom.post(event).status_code == 200
        names = [
            e["name"]
            for e in _events(ada)
            if e["name"] not in ("participantUpdate", "notification")
        ]
        assert names[0] == expected, (expected, names)
        if expected == "meetingEnded":
            assert names == ["meetingEnded", "attendanceGenerated"]
    assert _events(bob) == []  # another room, another instructor: nothing at all


def test_payload_carries_the_participant_and_statistics(app, people, zoom):
    ada = _socket(app, people["ada"])
    ada.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)
    zoom.post(started())
    ada.get_received()
    for event in session(
        "Ben Okafor", S + timedelta(minutes=20), None, email="ben@uni.edu"
    ):
        zoom.post(event)
    received = _events(ada)
    (joined,) = [e for e in received if e["name"] == "participantJoined"]
    (payload,) = joined["args"]
    assert payload["meetingId"] == str(NUMBER) and payload["meetingUuid"]
    assert payload["participant"]["student_id"] == "S2"
    assert payload["participant"]["status"] == "in_meeting"
    assert payload["statistics"]["students_present"] == 1 and payload["ts"]
    # ada's own room: a compact change record and a late-join notification.
    (change,) = [e["args"][0] for e in received if e["name"] == "participantUpdate"]
    assert change["status"] == "in_meeting" and change["event"] == "participantJoined"
    notes = [e["args"][0] for e in received if e["name"] == "notification"]
    assert [n["kind"] for n in notes] == ["late_join"]
    assert set(notes[0]) == {"id", "kind", "message", "meetingId", "created_at"}


def test_notifications_and_admin_feed_go_to_their_owners(app, people, zoom):
    ada = _socket(app, people["ada"])  # not joined to the room: her own room only
    bob = _socket(app, people["bob"])
    root = _socket(app, people["root"])
    zoom.post(started())
    zoom.post(
        participant_event(
            "meeting.participant_joined_waiting_room",
            "waiting",
            S,
            user_id="9",
            user_name="<img src=x onerror=alert(1)>",
        )
    )
    kinds = [e["args"][0]["kind"] for e in _events(ada, "notification")]
    assert kinds == ["meeting_started", "guest_waiting"]
    assert _events(bob) == []
    feed = _events(root)
    assert [e["name"] for e in feed].count("zoomWebhook") == 2
    assert all(e["name"] != "participantJoined" for e in feed)
    assert feed[0]["args"][0]["payload"]["event"] == "meeting.started"


def test_failed_events_notify_admins(app, people, zoom, monkeypatch):
    from attendance.ingest import applier

    def boom(event, ctx):
        raise RuntimeError("handler broke")

    monkeypatch.setitem(applier.HANDLERS, "meeting.started", boom)
    root = _socket(app, people["root"])
    ada = _socket(app, people["ada"])
    assert zoom.post(started()).status_code == 200
    (note,) = [e["args"][0] for e in _events(root, "notification")]
    assert note["kind"] == "event_failed" and "handler broke" in note["message"]
    assert _events(ada, "notification") == []


def test_leave_meeting_stops_room_events(app, people, zoom):
    ada = _socket(app, people["ada"])
    ada.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)
    assert ada.emit("leave-meeting", {"meetingId": str(NUMBER)}, callback=True) == {
        "ok": True
    }
    zoom.post(started())
    assert [e["name"] for e in _events(ada)] == ["notification"]


def test_live_participants_endpoint(app, client, people, zoom):
    for event in [started(), *session("Ana Díaz", S, E, email="ana@uni.edu")]:
        zoom.post(event)
    url = f"/api/zoom/meeting/{NUMBER}/live-participants"
    body = client.get(
        url, headers={"Authorization": f"Bearer {people['ada']}"}
    ).get_json()
    assert body["meeting"]["uuid"] and body["statistics"]["total"] == 1
    assert body["participants"][0]["status"] == "left"
    assert set(body["statistics"]) >= {
        "total",
        "in_meeting",
        "in_waiting_room",
        "left",
        "students_present",
        "guests",
        "roster_size",
        "absent_so_far",
    }
    other = client.get(url, headers={"Authorization": f"Bearer {people['bob']}"})
    assert other.status_code == 404
    assert client.get(url).status_code == 401
    bad = client.get(
        "/api/zoom/meeting/abc/live-participants",
        headers={"Authorization": f"Bearer {people['ada']}"},
    )
    assert bad.status_code == 404
    # The snapshot over Socket.IO and the endpoint come from one service.
    sock = _socket(app, people["ada"])
    ack = sock.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)
    assert ack["participants"] == body["participants"]
    assert len(ROSTER) == body["statistics"]["roster_size"]


def test_a_live_meetings_participant_count_is_counted_so_far(app, client, people, zoom):
    """participant_count of a live meeting: students and guests seen, the host not."""
    events = [
        started(),
        *session("Host", S, None, zoom_id=HOST),
        *session("Ana Díaz", S, None, email="ana@uni.edu"),
        *session("Visitor", S, S + timedelta(minutes=5)),
    ]
    for event in events:
        zoom.post(event)
    auth = {"Authorization": f"Bearer {people['ada']}"}
    (listed,) = client.get("/api/v1/meetings", headers=auth).get_json()
    assert listed["status"] == "live" and listed["participant_count"] == 2
    report = client.get(
        f"/api/v1/meetings/{listed['id']}/attendance", headers=auth
    ).get_json()
    assert report["meeting"]["participant_count"] == 2
    sock = _socket(app, people["ada"])
    ack = sock.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)
    assert ack["meeting"]["participant_count"] == 2
    # Once it ends: the count stored with the generated attendance.
    zoom.post(ended())
    (listed,) = client.get("/api/v1/meetings", headers=auth).get_json()
    assert listed["status"] == "ended" and listed["participant_count"] == 2


def test_the_flusher_keeps_the_live_room_under_half_the_server(app):
    """Under a stream of changes, emits pause as long as each took, and run at once after a lull."""
    import time

    from attendance.ingest.context import AppliedBatch, Notice
    from attendance.realtime import broadcast

    flushes: list[tuple[float, float]] = []

    def slow_publish(batch, changes):
        began = time.monotonic()
        time.sleep(0.04)  # a large meeting's view and fan-out
        flushes.append((began, time.monotonic()))

    flusher = broadcast.Flusher(app, slow_publish)

    def change() -> None:
        notice = Notice("meeting.participant_joined", meeting_id=1, participant_id=2)
        flusher.add(
            AppliedBatch(outcomes=(), notices=(notice,), changed_connections={})
        )

    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # a change every 5 ms for a second
        change()
        time.sleep(0.005)
    time.sleep(0.2)
    busy = sum(end - began for began, end in flushes)
    span = flushes[-1][1] - flushes[0][0]
    assert 5 <= len(flushes) <= 16
    assert busy / span <= broadcast.FLUSH_DUTY + 0.1
    # After a lull, a change goes out at once.
    time.sleep(0.3)
    before = len(flushes)
    sent = time.monotonic()
    change()
    for _ in range(100):
        if len(flushes) > before:
            break
        time.sleep(0.005)
    assert len(flushes) == before + 1 and flushes[-1][0] - sent < 0.03
