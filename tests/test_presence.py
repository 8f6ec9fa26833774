"""Zoom presence (CONTRACT §6): shown on the roster and student pages, updated live.

``user.presence_status_updated`` is kept on every student with that e-mail
(one per course roster); after the batch commits, ``presenceUpdated`` goes to
the instructors of each of those courses, and only to them. An older status
never replaces a newer one, whatever order they arrive in.
"""

from __future__ import annotations

import copy
import html
import re
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from attendance.extensions import db, socketio
from attendance.models import Course, Student
from attendance.services.accounts import create_instructor, issue_token
from tests.conftest import ZoomSender
from tests.engine_support import ROSTER, make_course
from tests.support import fixture

PASSWORD = "correct horse battery"
OTHER_NUMBER = 98765432101
#: The fixture's time: 2026-11-23T10:01:40Z.
AT = "2026-11-23T10:01:40Z"


def _presence(status: str, at: str = AT, email: str = "ana@uni.edu") -> dict:
    event = copy.deepcopy(fixture("user.presence_status_updated"))
    obj = event["payload"]["object"]
    obj.update(presence_status=status, date_time=at, email=email)
    return event


@pytest.fixture
def world(app):
    """Ana is on BIO (ada teaches it) and CHEM (bob); carl teaches neither.

    Returns the tokens, the course ids and Ana's student row in each course.
    """
    bio = make_course(app)
    chem = make_course(
        app, roster=ROSTER[:1], number=OTHER_NUMBER, code="CHEM", timezone="Asia/Tokyo"
    )
    tokens = {}
    with app.app_context():
        for who, course in (("ada", bio), ("bob", chem), ("carl", None)):
            person = create_instructor(f"{who}@uni.edu", who, PASSWORD)
            if course is not None:
                person.courses.append(db.session.get(Course, course))
            tokens[who] = issue_token(person)
        ana = {
            row.course_id: row.id
            for row in db.session.scalars(
                select(Student).where(Student.email == "ana@uni.edu")
            )
        }
        db.session.commit()
    return {"tokens": tokens, "bio": bio, "chem": chem, "ana": ana}


def _socket(app, token):
    sock = socketio.test_client(app, auth={"token": token})
    assert sock.is_connected()
    sock.get_received()
    return sock


def _presence_messages(sock) -> list[dict]:
    return [m["args"][0] for m in sock.get_received() if m["name"] == "presenceUpdated"]


def _stored(app, student_pk: int) -> tuple[str | None, datetime | None]:
    with app.app_context():
        student = db.session.get(Student, student_pk)
        return student.presence_status, student.presence_at


def _login(client, who: str) -> None:
    response = client.post(
        "/login", data={"email": f"{who}@uni.edu", "password": PASSWORD}
    )
    assert response.status_code == 302


def _presence_cell(page: str, student_pk: int) -> str:
    match = re.search(
        rf'<span class="presence" data-presence-student="{student_pk}".*?</time>',
        page,
        re.S,
    )
    assert match, f"no presence cell for student {student_pk}"
    return match.group(0)


# -- live: presenceUpdated ---------------------------------------------------------


def test_presence_reaches_the_instructors_of_each_course_of_the_student(
    app, zoom, world
):
    ada, bob, carl = (_socket(app, world["tokens"][w]) for w in ("ada", "bob", "carl"))
    assert zoom.post(_presence("Do_Not_Disturb")).status_code == 200
    bio, chem = world["bio"], world["chem"]
    assert _presence_messages(ada) == [
        {
            "course_id": bio,
            "student_pk": world["ana"][bio],
            "status": "Do_Not_Disturb",
            "at": AT,
        }
    ]
    assert _presence_messages(bob) == [
        {
            "course_id": chem,
            "student_pk": world["ana"][chem],
            "status": "Do_Not_Disturb",
            "at": AT,
        }
    ]
    assert _presence_messages(carl) == []


def test_presence_of_nobody_on_a_roster_emits_nothing(app, zoom, world):
    ada = _socket(app, world["tokens"]["ada"])
    assert zoom.post(_presence("Available", email="stranger@x.org")).status_code == 200
    assert _presence_messages(ada) == []


def test_presence_is_emitted_after_its_commit(app, zoom, world, monkeypatch):
    """When ``presenceUpdated`` leaves, another connection already reads the new status."""
    seen_in_database = []
    real_emit = socketio.emit

    def emit_and_look(event, *args, **kwargs):
        if event == "presenceUpdated":
            with (
                db.engine.connect() as other
            ):  # a connection of its own: committed only
                seen_in_database.append(
                    other.execute(
                        text("SELECT presence_status FROM students WHERE id = :pk"),
                        {"pk": args[0]["student_pk"]},
                    ).scalar_one()
                )
        return real_emit(event, *args, **kwargs)

    monkeypatch.setattr(socketio, "emit", emit_and_look)
    ada = _socket(app, world["tokens"]["ada"])
    assert zoom.post(_presence("Away")).status_code == 200
    assert len(_presence_messages(ada)) == 1
    assert seen_in_database == ["Away"]


def test_an_older_presence_changes_nothing_and_is_not_announced(app, zoom, world):
    ana = world["ana"][world["bio"]]
    ada = _socket(app, world["tokens"]["ada"])
    assert zoom.post(_presence("Available", "2026-11-23T11:00:00Z")).status_code == 200
    assert zoom.post(_presence("Away", "2026-11-23T10:30:00Z")).status_code == 200
    newer = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert _stored(app, ana) == ("Available", newer)
    assert [m["status"] for m in _presence_messages(ada)] == ["Available"]
    assert zoom.post(_presence("Offline", "2026-11-23T11:05:00Z")).status_code == 200
    assert [m["status"] for m in _presence_messages(ada)] == ["Offline"]


@pytest.mark.parametrize("order", [("Away", "Available"), ("Available", "Away")])
def test_two_statuses_at_the_same_time_end_the_same_in_any_order(
    app, zoom, world, order
):
    for status in order:
        assert zoom.post(_presence(status)).status_code == 200
    assert _stored(app, world["ana"][world["bio"]])[0] == "Away"


def test_presence_is_emitted_by_the_background_worker_too(background_app):
    """The server's intake (writer and worker tasks) announces presence as well."""
    course = make_course(background_app)
    with background_app.app_context():
        ada = create_instructor("ada@uni.edu", "ada", PASSWORD)
        ada.courses.append(db.session.get(Course, course))
        token = issue_token(ada)
        db.session.commit()
    sock = _socket(background_app, token)
    try:
        sender = ZoomSender(background_app.test_client())
        assert sender.post(_presence("In_Meeting")).status_code == 200
        got: list[dict] = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            got = _presence_messages(sock)
            time.sleep(0.05)
        assert [(m["course_id"], m["status"], m["at"]) for m in got] == [
            (course, "In_Meeting", AT)
        ]
    finally:
        sock.disconnect()


# -- the pages ---------------------------------------------------------------------


def test_roster_and_student_pages_show_the_latest_presence(app, client, zoom, world):
    bio, chem = world["bio"], world["chem"]
    assert zoom.post(_presence("Do_Not_Disturb")).status_code == 200
    _login(client, "ada")
    page = client.get(f"/courses/{bio}").get_data(as_text=True)
    cell = _presence_cell(page, world["ana"][bio])
    assert "Do Not Disturb" in cell and 'data-status="Do_Not_Disturb"' in cell
    assert "23 Nov 2026, 10:01" in cell  # the course's zone: UTC
    assert f'data-course-id="{bio}"' in cell
    assert 'datetime="2026-11-23T10:01:40+00:00"' in cell
    # A student Zoom said nothing about.
    with app.app_context():
        ben = db.session.scalar(
            select(Student.id).where(Student.email == "ben@uni.edu")
        )
    assert "Not known" in _presence_cell(page, ben)
    assert "js/presence.js" in page and "socket.io.min.js" in page

    student = client.get(f"/courses/{bio}/students/{world['ana'][bio]}")
    assert student.status_code == 200
    body = student.get_data(as_text=True)
    assert "Do Not Disturb" in _presence_cell(body, world["ana"][bio])
    assert "js/presence.js" in body

    # bob's course is in Tokyo: the same moment, in its zone.
    bobs = app.test_client()
    _login(bobs, "bob")
    tokyo = bobs.get(f"/courses/{chem}/students/{world['ana'][chem]}")
    assert tokyo.status_code == 200, tokyo.get_data(as_text=True)[:300]
    assert "23 Nov 2026, 19:01" in _presence_cell(
        tokyo.get_data(as_text=True), world["ana"][chem]
    )


def test_a_status_is_shown_as_text(app, client, zoom, world):
    hostile = "<img src=x onerror=alert(1)>"
    assert zoom.post(_presence(hostile, "2026-11-23T12:00:00Z")).status_code == 200
    _login(client, "ada")
    page = client.get(f"/courses/{world['bio']}").get_data(as_text=True)
    assert hostile not in page
    assert html.escape(hostile) in page or "&lt;img" in page


def test_an_older_presence_leaves_the_page_as_it_was(app, client, zoom, world):
    assert zoom.post(_presence("Available", "2026-11-23T11:00:00Z")).status_code == 200
    assert zoom.post(_presence("Away", "2026-11-23T10:30:00Z")).status_code == 200
    _login(client, "ada")
    ana = world["ana"][world["bio"]]
    cell = _presence_cell(
        client.get(f"/courses/{world['bio']}").get_data(as_text=True), ana
    )
    assert "Available" in cell and "Away" not in cell and "11:00" in cell


# -- in the browser: the cell changes by itself --------------------------------------


@pytest.mark.browser
def test_the_pages_update_presence_live_in_a_browser(page, console, live_server):
    """Headless Chromium on a real server: ``presenceUpdated`` patches the cells in place."""
    from tests.browser import Api, login, send_webhook, wait_until

    api = Api.sign_in(live_server)
    try:
        course = api.post(
            "/courses", {"code": "PRES-1", "title": "Presence", "timezone": "UTC"}
        )
        api.post(
            f"/courses/{course['id']}/students",
            [ROSTER[0] | {"email": "ana.presence@uni.edu"}],
        )
        (ana,) = api.get(f"/courses/{course['id']}/students")
    finally:
        api.close()
    login(page, live_server)
    cell = f"[data-presence-student='{ana['id']}']"

    page.goto(f"{live_server.url}/courses/{course['id']}")
    assert "Not known" in page.inner_text(cell)
    page.wait_for_selector("body[data-presence-socket=connected]", state="attached")
    event = _presence("Do_Not_Disturb", email="ana.presence@uni.edu")
    assert send_webhook(live_server, event) == 200
    wait_until(
        lambda: "Do Not Disturb" in page.inner_text(cell), 10, "the roster's cell"
    )
    assert "23 Nov 2026, 10:01" in page.inner_text(cell)

    page.goto(f"{live_server.url}/courses/{course['id']}/students/{ana['id']}")
    assert "Do Not Disturb" in page.inner_text(cell)
    page.wait_for_selector("body[data-presence-socket=connected]", state="attached")
    later = _presence("Available", "2026-11-23T12:30:00Z", "ana.presence@uni.edu")
    assert send_webhook(live_server, later) == 200
    wait_until(lambda: "Available" in page.inner_text(cell), 10, "the student's cell")
    assert "23 Nov 2026, 12:30" in page.inner_text(cell)

    # A message lost while the socket was away: the page catches up on reconnecting.
    page.context.set_offline(True)
    page.wait_for_selector("body:not([data-presence-socket])", state="attached")
    missed = _presence("Away", "2026-11-23T13:00:00Z", "ana.presence@uni.edu")
    assert send_webhook(live_server, missed) == 200
    page.context.set_offline(False)
    wait_until(lambda: "Away" in page.inner_text(cell), 20, "the missed status")
    assert "23 Nov 2026, 13:00" in page.inner_text(cell)
    console.errors = [e for e in console.errors if "ERR_INTERNET_DISCONNECTED" not in e]
    console.assert_clean()
