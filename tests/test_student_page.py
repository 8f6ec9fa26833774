"""A student's term: ``/api/v1/courses/<id>/students/<pk>/attendance`` and its page."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete

from attendance.extensions import db
from attendance.models import AttendanceRecord, IdentityLinkRow, Meeting, Student
from tests.api_support import create_course
from tests.browser import Api, login, screenshot, seed_class
from tests.conftest import INSTRUCTOR_PASSWORD
from tests.engine_support import NUMBER, ended, session, started

MIN = timedelta(minutes=1)
XSS = "<img src=x onerror=alert(1)>"
ROSTER = [
    {"student_id": "S1", "first_name": "Ana", "last_name": "Abel", "email": "a@u.edu"},
    {"student_id": "S2", "first_name": "Ben", "last_name": "Bolt", "email": "b@u.edu"},
    {"student_id": "S3", "first_name": "Cy", "last_name": XSS, "email": "c@u.edu"},
]
#: Three one-hour classes; the last starts the previous evening in New York.
STARTS = [
    datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
    datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
]


def _meeting(zoom, n: int, attendees: dict[str, tuple[int, int]]) -> None:
    """Meeting ``n`` with ``email -> (minutes in, minutes out)``."""
    uuid, start = f"m{n}==", STARTS[n]
    events = [started(uuid, start)]
    for email, (join, leave) in attendees.items():
        events += session(
            email, start + join * MIN, start + leave * MIN, email=email, uuid=uuid
        )
    events.append(ended(uuid, start + 60 * MIN))
    for event in events:
        assert zoom.post(event).status_code == 200


@pytest.fixture
def term(app, bearers, client, zoom):
    """ada's course, three ended classes; bob teaches another course (with a roster)."""
    headers = bearers(ada=False, bob=False)
    course = create_course(
        client,
        app,
        headers["ada"],
        code="BIO 101",
        timezone="America/New_York",
        zoom_meeting_ids=[NUMBER],
    )
    other = create_course(client, app, headers["bob"], code="CHEM 1")
    for owner, target in (("ada", course), ("bob", other)):
        answer = client.post(
            f"/api/v1/courses/{target['id']}/students",
            json=ROSTER,
            headers=headers[owner],
        )
        assert answer.status_code == 200
    _meeting(zoom, 0, {"a@u.edu": (0, 60), "b@u.edu": (12, 60)})
    _meeting(zoom, 1, {"a@u.edu": (0, 60)})
    _meeting(zoom, 2, {"a@u.edu": (0, 60), "b@u.edu": (0, 30)})
    meetings = client.get(
        "/api/v1/meetings",
        query_string={"course_id": course["id"]},
        headers=headers["ada"],
    ).get_json()
    roster = {
        s["student_id"]: s
        for s in client.get(
            f"/api/v1/courses/{course['id']}/students", headers=headers["ada"]
        ).get_json()
    }
    theirs = client.get(
        f"/api/v1/courses/{other['id']}/students", headers=headers["bob"]
    ).get_json()
    return {
        "headers": headers,
        "course": course,
        "other": other,
        "meetings": {m["uuid"]: m for m in meetings},
        "roster": roster,
        "other_roster": {s["student_id"]: s for s in theirs},
    }


def _term(client, t, student_id: str, who: str = "ada"):
    pk = t["roster"][student_id]["id"]
    return client.get(
        f"/api/v1/courses/{t['course']['id']}/students/{pk}/attendance",
        headers=t["headers"][who],
    )


def _course_row(client, t, student_id: str) -> dict:
    body = client.get(
        f"/api/v1/courses/{t['course']['id']}/attendance", headers=t["headers"]["ada"]
    ).get_json()
    return next(s for s in body["students"] if s["student_id"] == student_id)


def _meeting_record(client, t, uuid: str, student_id: str) -> dict:
    meeting_id = t["meetings"][uuid]["id"]
    body = client.get(
        f"/api/v1/meetings/{meeting_id}/attendance", headers=t["headers"]["ada"]
    ).get_json()
    return next(r for r in body["records"] if r["student_id"] == student_id)


def _drop_record(app, t, uuid: str, student_id: str) -> None:
    """The student off one meeting's roster (as a withdrawal before it leaves them)."""
    with app.app_context():
        db.session.execute(
            delete(AttendanceRecord).where(
                AttendanceRecord.meeting_id == t["meetings"][uuid]["id"],
                AttendanceRecord.student_id == t["roster"][student_id]["id"],
            )
        )
        db.session.commit()


# -- the API ----------------------------------------------------------------------------


def test_student_attendance_shape(client, term):
    answer = _term(client, term, "S2")
    assert answer.status_code == 200
    body = answer.get_json()
    assert set(body) == {"student", "summary", "meetings"}
    # The Student as the roster lists it, and the summary as the course report has it.
    assert body["student"] == term["roster"]["S2"]
    assert body["summary"] == _course_row(client, term, "S2")
    assert (body["summary"]["present"], body["summary"]["late"]) == (0, 1)
    assert body["summary"]["left_early"] == body["summary"]["absent"] == 1
    # Every ended meeting, newest first, as the meetings API shows it.
    uuids = [m["meeting"]["uuid"] for m in body["meetings"]]
    assert uuids == ["m2==", "m1==", "m0=="]
    for entry in body["meetings"]:
        uuid = entry["meeting"]["uuid"]
        assert entry["meeting"] == term["meetings"][uuid]
        assert entry["record"] == _meeting_record(client, term, uuid, "S2")
    statuses = [m["record"]["status"] for m in body["meetings"]]
    assert statuses == ["Left Early", "Absent", "Late"]
    late = body["meetings"][2]["record"]
    assert (late["matched_by"], late["source"], late["attended_seconds"]) == (
        "email",
        "auto",
        48 * 60,
    )
    assert late["first_join"] == "2026-11-23T10:12:00Z"


def test_student_attendance_record_is_null_off_the_roster(app, client, term):
    _drop_record(app, term, "m1==", "S1")
    body = _term(client, term, "S1").get_json()
    records = {m["meeting"]["uuid"]: m["record"] for m in body["meetings"]}
    assert records["m1=="] is None
    assert records["m0=="]["status"] == records["m2=="]["status"] == "Present"
    # Two meetings on their roster: the course report agrees.
    assert body["summary"] == _course_row(client, term, "S1")
    assert (body["summary"]["meetings"], body["summary"]["present"]) == (2, 2)


def test_student_attendance_follows_an_override(client, term):
    meeting_id = term["meetings"]["m1=="]["id"]
    pk = term["roster"]["S2"]["id"]
    client.patch(
        f"/api/v1/meetings/{meeting_id}/attendance/{pk}",
        json={"status": "Excused", "note": "doctor"},
        headers=term["headers"]["ada"],
    )
    body = _term(client, term, "S2").get_json()
    record = body["meetings"][1]["record"]
    assert (record["status"], record["source"], record["note"]) == (
        "Excused",
        "manual",
        "doctor",
    )
    assert body["summary"] == _course_row(client, term, "S2")
    assert body["summary"]["excused"] == 1


def test_student_attendance_lists_meetings_out_of_the_term(app, client, term):
    with app.app_context():
        meeting = db.session.get(Meeting, term["meetings"]["m1=="]["id"])
        meeting.scheduled = False  # at none of the course's class times (§5.9)
        db.session.commit()
    body = _term(client, term, "S2").get_json()
    listed = {m["meeting"]["uuid"]: m for m in body["meetings"]}
    assert len(listed) == 3 and listed["m1=="]["meeting"]["counts"] is False
    assert listed["m1=="]["record"]["status"] == "Absent"
    # The term figures leave it out, as the course report does.
    assert body["summary"] == _course_row(client, term, "S2")
    assert (body["summary"]["meetings"], body["summary"]["absent"]) == (2, 0)
    text = _page(
        _login(app, "ada"),
        f"/courses/{term['course']['id']}/students/{term['roster']['S2']['id']}",
    )
    assert text.count(">Unscheduled<") == 1


@pytest.mark.parametrize(
    ("who", "which"),
    [
        ("bob", "own"),  # another instructor's course
        ("ada", "other"),  # a student of another course, under ada's course
        ("ada", "missing"),
    ],
)
def test_student_attendance_is_scoped(client, term, who, which):
    pk = {
        "own": term["roster"]["S1"]["id"],
        "other": term["other_roster"]["S1"]["id"],
        "missing": 2**31 - 1,
    }[which]
    answer = client.get(
        f"/api/v1/courses/{term['course']['id']}/students/{pk}/attendance",
        headers=term["headers"][who],
    )
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"]


def test_student_attendance_needs_a_login(client, term):
    pk = term["roster"]["S1"]["id"]
    url = f"/api/v1/courses/{term['course']['id']}/students/{pk}/attendance"
    assert client.get(url).status_code == 401


def test_student_attendance_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    path = "/api/v1/courses/{course_id}/students/{student_pk}/attendance"
    ok = spec["paths"][path]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith(
        "StudentAttendance"
    )
    shape = spec["components"]["schemas"]["StudentAttendance"]
    assert set(shape["properties"]) == {"student", "summary", "meetings"}


# -- the page ---------------------------------------------------------------------------


def _login(app, who: str):
    browser = app.test_client()
    answer = browser.post(
        "/login", data={"email": f"{who}@uni.edu", "password": INSTRUCTOR_PASSWORD}
    )
    assert answer.status_code == 302
    return browser


def _page(browser, path: str, status: int = 200) -> str:
    answer = browser.get(path)
    assert answer.status_code == status, (path, answer.status_code)
    return answer.get_data(as_text=True)


def test_student_page_shows_the_term(app, term):
    course_id, pk = term["course"]["id"], term["roster"]["S2"]["id"]
    with app.app_context():
        db.session.add(
            IdentityLinkRow(
                course_id=course_id,
                student_id=pk,
                kind="zoom_user",
                value="zu-ben-42",
                source="manual",
                learned_by="manual",
                match_meeting_id=term["meetings"]["m0=="]["id"],
                created_by="ada@uni.edu",
            )
        )
        db.session.get(Student, pk).withdrawn_on = date(2026, 12, 1)
        db.session.commit()
    text = _page(_login(app, "ada"), f"/courses/{course_id}/students/{pk}")
    assert "Ben Bolt" in text and "b@u.edu" in text
    assert "Withdrawn on 01 Dec 2026" in text
    # Each meeting links to its report, newest first, in the course's zone.
    links = [f'href="/meetings/{term["meetings"][u]["id"]}"' for u in ("m2==", "m0==")]
    assert text.index(links[0]) < text.index(links[1])
    assert "24 Nov 2026, 21:00" in text  # 02:00 UTC on the 25th, in New York
    for shown in ("Late", "Left Early", "Absent", "05:12", "48 min", "email"):
        assert shown in text
    # The summary: one of three meetings attended in full, late.
    assert "66.7%" in text
    # The remembered key, how it was learned and where.
    assert "zu-ben-42" in text and "zoom user" in text and "by ada@uni.edu" in text
    assert "every meeting of the course" in text
    assert f'href="/courses/{course_id}/links"' in text


def test_student_page_is_scoped(app, term):
    course_id = term["course"]["id"]
    mine, theirs = term["roster"]["S1"]["id"], term["other_roster"]["S1"]["id"]
    _page(_login(app, "bob"), f"/courses/{course_id}/students/{mine}", 404)
    ada = _login(app, "ada")
    _page(ada, f"/courses/{course_id}/students/{theirs}", 404)
    _page(ada, f"/courses/{term['other']['id']}/students/{theirs}", 404)
    anonymous = app.test_client().get(f"/courses/{course_id}/students/{mine}")
    assert anonymous.status_code == 302 and "/login" in anonymous.location


def test_student_page_escapes_names_notes_and_keys(app, client, term):
    course_id, pk = term["course"]["id"], term["roster"]["S3"]["id"]
    answer = client.patch(
        f"/api/v1/meetings/{term['meetings']['m0==']['id']}/attendance/{pk}",
        json={"status": "Excused", "note": XSS},
        headers=term["headers"]["ada"],
    )
    assert answer.status_code == 200
    with app.app_context():
        db.session.add(
            IdentityLinkRow(
                course_id=course_id,
                student_id=pk,
                kind="name",
                value=XSS,
                source="manual",
            )
        )
        db.session.commit()
    text = _page(_login(app, "ada"), f"/courses/{course_id}/students/{pk}")
    assert XSS not in text
    assert text.count(html.escape(XSS)) >= 4  # title, crumbs, heading, note, key


def test_reports_link_to_the_student_page(app, term):
    course_id = term["course"]["id"]
    ada = _login(app, "ada")
    course = _page(ada, f"/courses/{course_id}")
    meeting = _page(ada, f"/meetings/{term['meetings']['m0==']['id']}")
    for student in term["roster"].values():
        href = f'href="/courses/{course_id}/students/{student["id"]}"'
        assert course.count(href) == 2  # the summary table and the roster table
        assert meeting.count(href) == 1  # the records table


# -- in a browser -----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_student_page_fits_the_screen(page, console, live_server, width, height):
    api = Api.sign_in(live_server)
    try:
        if not api.get("/courses"):
            seed_class(live_server, api, history=1)
        (course,) = api.get("/courses")
        student = api.get(f"/courses/{course['id']}/students")[0]
    finally:
        api.close()
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server)
    page.goto(f"{live_server.url}/courses/{course['id']}")
    page.click(f"#students a[href$='/students/{student['id']}']")
    page.wait_for_selector("#student-meetings")
    assert page.locator("#student-meetings tbody tr").count() == 2
    screenshot(page, f"student-{width}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    console.assert_clean()
