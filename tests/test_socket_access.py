"""Socket.IO keeps up with access (issue 10, security items 4 and 10): a socket loses
what its instructor loses, joins are re-checked and rate-limited, snapshots reused."""

from __future__ import annotations

import time

import pytest

from attendance.extensions import db, socketio
from attendance.models import ApiToken, Course, Instructor
from attendance.services.accounts import create_instructor, issue_token
from tests.engine_support import NUMBER, S, make_course, session, started

PASSWORD = "correct horse battery"


@pytest.fixture
def people(app):
    """ada teaches BIO (NUMBER); root is admin, and teaches BIO too."""
    bio = make_course(app)
    with app.app_context():
        tokens = {}
        for who, admin in (("ada", False), ("root", True)):
            person = create_instructor(f"{who}@uni.edu", who, PASSWORD, admin=admin)
            person.courses.append(db.session.get(Course, bio))
            tokens[who] = issue_token(person)
        db.session.commit()
    return {"course": bio, **tokens}


def _socket(app, token):
    return socketio.test_client(app, auth={"token": token})


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _join(sock):
    return sock.emit("join-meeting", {"meetingId": str(NUMBER)}, callback=True)


def _id(app, email):
    with app.app_context():
        return db.session.scalar(
            db.select(Instructor.id).where(Instructor.email == email)
        )


def _revoke_adas_token(app, client, people) -> None:
    with app.app_context():
        (token_id,) = db.session.scalars(
            db.select(ApiToken.id)
            .join(Instructor)
            .where(Instructor.email == "ada@uni.edu")
        )
    answer = client.delete(f"/api/v1/tokens/{token_id}", headers=_auth(people["ada"]))
    assert answer.status_code == 204


def test_socket_access_revoked_token_ends_the_connection(app, client, people):
    sock = _socket(app, people["ada"])
    assert _join(sock)["ok"] is True
    _revoke_adas_token(app, client, people)
    assert not sock.is_connected()


def test_socket_access_join_rechecks_a_revoked_token(app, people):
    """Even without the signal (another process revoked it), a join asks again."""
    sock = _socket(app, people["ada"])
    with app.app_context():
        # Straight to the table: no ORM flush, so no access_changed signal.
        db.session.execute(db.update(ApiToken).values(revoked_at=S))
        db.session.commit()
    ack = _join(sock)
    assert ack == {"ok": False, "error": "unauthorized"}


def test_socket_access_join_rechecks_the_assignment(app, people):
    sock = _socket(app, people["ada"])
    assert _join(sock)["ok"] is True
    with app.app_context():
        # Behind the ORM's back: no signal; the next join must still say no.
        from attendance.models import course_instructors

        db.session.execute(
            db.delete(course_instructors).where(
                course_instructors.c.instructor_id == _id(app, "ada@uni.edu")
            )
        )
        db.session.commit()
    assert _join(sock) == {"ok": False, "error": "no such meeting"}


def test_socket_access_demoted_admin_loses_the_raw_feed(app, client, people, zoom):
    root = _socket(app, people["root"])
    other = create_admin(app)
    assert zoom.post(started()).status_code == 200
    assert any(r["name"] == "zoomWebhook" for r in root.get_received())
    answer = client.patch(
        f"/api/v1/instructors/{_id(app, 'root@uni.edu')}",
        json={"is_admin": False},
        headers=_auth(other),
    )
    assert answer.status_code == 200, answer.get_json()
    assert root.is_connected()  # still teaches BIO: only the feed goes
    root.get_received()
    for event in session("Ana Díaz", S, None, email="ana@uni.edu"):
        assert zoom.post(event).status_code == 200
    names = [r["name"] for r in root.get_received()]
    assert "zoomWebhook" not in names and "participantUpdate" in names, names


def create_admin(app) -> str:
    with app.app_context():
        person = create_instructor("boss@uni.edu", "boss", PASSWORD, admin=True)
        token = issue_token(person)
        db.session.commit()
    return token


@pytest.mark.parametrize("how", ["api", "dashboard", "delete_course"])
def test_socket_access_unassigned_instructor_leaves_the_room(
    app, client, people, zoom, how
):
    ada = _socket(app, people["ada"])
    assert _join(ada)["ok"] is True
    ada_id, course = _id(app, "ada@uni.edu"), people["course"]
    if how == "api":
        url = f"/api/v1/courses/{course}/instructors/{ada_id}"
        answer = client.delete(url, headers=_auth(people["root"]))
    elif how == "dashboard":
        client.post("/login", data={"email": "root@uni.edu", "password": PASSWORD})
        answer = client.post(f"/admin/instructors/{ada_id}/courses/{course}/remove")
    else:
        answer = client.delete(
            f"/api/v1/courses/{course}", headers=_auth(people["root"])
        )
    assert answer.status_code in (204, 303), answer.status_code
    assert not ada.is_connected()
    # The admin who did it teaches the course (or is admin): still connected.
    root = _socket(app, people["root"])
    assert root.is_connected()


def test_socket_access_other_instructors_keep_their_sockets(app, client, people):
    ada = _socket(app, people["ada"])
    root = _socket(app, people["root"])
    _join(root)
    ada_id = _id(app, "ada@uni.edu")
    url = f"/api/v1/courses/{people['course']}/instructors/{ada_id}"
    assert client.delete(url, headers=_auth(people["root"])).status_code == 204
    assert not ada.is_connected() or _join(ada)["ok"] is False
    assert root.is_connected() and _join(root)["ok"] is True


def test_socket_join_is_rate_limited_per_socket(app, people, monkeypatch):
    from attendance.realtime import connections

    sock = _socket(app, people["ada"])
    other = _socket(app, people["ada"])
    answers = [_join(sock) for _ in range(connections.JOIN_BURST + 3)]
    assert all(a["ok"] for a in answers[: connections.JOIN_BURST])
    assert answers[-1] == {"ok": False, "error": "too many requests"}
    assert _join(other)["ok"] is True  # per socket, not per instructor
    time.sleep(connections.JOIN_INTERVAL_SECONDS * 1.1)
    assert _join(sock)["ok"] is True


def test_socket_join_reuses_an_unchanged_snapshot(app, people, zoom, monkeypatch):
    from attendance.services import live

    calls = []
    original = live.compute_persons
    monkeypatch.setattr(
        live,
        "compute_persons",
        lambda *a, **k: calls.append(1) or original(*a, **k),
    )
    for event in [started(), *session("Ana Díaz", S, None, email="ana@uni.edu")]:
        assert zoom.post(event).status_code == 200
    sockets = [_socket(app, people["ada"]) for _ in range(3)]
    calls.clear()
    first = _join(sockets[0])
    acks = [_join(sock) for sock in sockets] + [_join(sockets[0])]
    assert len(calls) == 1, calls

    def who(ack):  # live durations run on with the clock: compare who and how
        return [(p["id"], p["student_id"], p["status"]) for p in ack["participants"]]

    assert all(who(a) == who(first) for a in acks)
    # A new event is a new version: computed again (once, for the room's emit,
    # which the next join reuses), and the snapshot shows it.
    calls.clear()
    for event in session("Ben Okafor", S, None, email="ben@uni.edu"):
        assert zoom.post(event).status_code == 200
    again = _join(sockets[1])
    assert 1 <= len(calls) <= 2, calls  # one event, one view (plus at most the join)
    assert {p["student_id"] for p in again["participants"]} == {"S1", "S2"}


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "x",
        42,
        [1, 2],
        {"meetingId": None},
        {"meetingId": True},
        {"meetingId": 1.5},
        {"meetingId": ["84712639219"]},
        {"meetingId": {"$gt": ""}},
        {"meetingId": "8" * 1_000_000},
        {"meetingId": 10**200},
        {"meetingId": -NUMBER},
        {"meetingId": "８４７１２６３９２１９"},
        {},
    ],
    ids=lambda p: type(p).__name__ + str(p)[:20],
)
def test_socket_hostile_payloads_get_an_error_ack(app, people, payload):
    sock = _socket(app, people["ada"])
    for event in ("join-meeting", "leave-meeting"):
        ack = sock.emit(event, payload, callback=True)
        assert ack["ok"] is False and isinstance(ack["error"], str), (event, ack)
    assert _join(sock)["ok"] is True


def test_socket_extra_arguments_get_an_error_ack(app, people):
    """A handler called with more arguments than it takes raised TypeError."""
    sock = _socket(app, people["ada"])
    for event in ("join-meeting", "leave-meeting"):
        ack = sock.emit(event, {"meetingId": 1}, "extra", callback=True)
        assert ack["ok"] is False, ack
    ack = sock.emit("join-meeting", {"meetingId": str(NUMBER)}, "x", callback=True)
    assert ack["ok"] is True  # the first argument is what counts


def test_socket_handler_errors_answer_and_connect_errors_refuse(
    app, people, monkeypatch, caplog
):
    from attendance.realtime import connections

    def broken(*_args, **_kwargs):
        raise RuntimeError("database went away")

    sock = _socket(app, people["ada"])
    monkeypatch.setattr(connections, "snapshot_for_number", broken)
    assert _join(sock) == {"ok": False, "error": "internal error"}
    assert sock.is_connected()
    assert "database went away" in caplog.text and "Traceback" not in caplog.text
    # A connect handler that fails refuses the connection, never lets it in.
    monkeypatch.setattr(connections, "token_owner", broken)
    assert not _socket(app, people["ada"]).is_connected()


def test_socket_access_bearer_header_socket_ends_when_its_token_is_revoked(
    app, client, people
):
    """A socket signed in by an ``Authorization`` header holds that token, not a session."""
    sock = socketio.test_client(app, headers=_auth(people["ada"]))
    assert sock.is_connected()
    assert _join(sock)["ok"] is True
    _revoke_adas_token(app, client, people)
    assert not sock.is_connected()


def test_socket_access_a_meeting_number_taken_from_the_course_ends_its_room(
    app, client, people
):
    ada = _socket(app, people["ada"])
    assert _join(ada)["ok"] is True
    answer = client.patch(
        f"/api/v1/courses/{people['course']}",
        json={"zoom_meeting_ids": []},
        headers=_auth(people["root"]),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert not ada.is_connected() or _join(ada)["ok"] is False
    assert not ada.is_connected()  # the room it was in is no longer its course's
