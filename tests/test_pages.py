"""The dashboard's pages: who sees what, the forms behind them, escaping, CSP, suggestions."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import (
    ApiToken,
    Course,
    Instructor,
    Meeting,
    Student,
    WebhookEvent,
)
from attendance.services.accounts import create_instructor, issue_token
from attendance.services.suggestions import (
    candidates,
    meeting_suggestions,
    similarity,
    suggest,
)
from tests.conftest import make_test_app
from tests.engine_support import (
    NUMBER,
    ROSTER,
    UUID,
    E,
    S,
    ended,
    make_course,
    records,
    session,
    started,
)

PASSWORD = "correct horse battery"
MIN = timedelta(minutes=1)
XSS = "<img src=x onerror=alert(1)>"
OTHER_NUMBER = 91234567890


@pytest.fixture
def world(app, zoom):
    """ada teaches BIO-101 (an ended meeting with guests); bob teaches CHEM; root is admin."""
    course_id = make_course(app)
    with app.app_context():
        ada = create_instructor("ada@uni.edu", "Ada", PASSWORD)
        bob = create_instructor("bob@uni.edu", "Bob", PASSWORD)
        create_instructor("root@uni.edu", "Root", PASSWORD, admin=True)
        bio = db.session.get(Course, course_id)
        bio.instructors.append(ada)
        chem = Course(code="CHEM-1", title="Chemistry")
        chem.instructors.append(bob)
        db.session.add(chem)
        db.session.commit()
    events = [started()]
    events += session("Ana Díaz", S + MIN, E, email="ana@uni.edu")
    events += session("Ben Okafor", S + 15 * MIN, E, email="ben@uni.edu")
    events += session("Chen Wei", S, S + 30 * MIN, email="chen@uni.edu")
    events += session(XSS, S + 2 * MIN, S + 20 * MIN)
    events += session("Dana S", S + 3 * MIN, E - 5 * MIN)
    events.append(ended())
    for event in events:
        assert zoom.post(event).status_code == 200
    with app.app_context():
        meeting_id = db.session.scalar(select(Meeting.id).where(Meeting.uuid == UUID))
    return {"course": course_id, "meeting": meeting_id}


def login(client, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


# -- access -----------------------------------------------------------------------------


def test_pages_render_for_their_owner(client, world):
    login(client, "ada@uni.edu")
    home = page(client, "/")
    assert "BIO-101" in home and "CHEM-1" not in home
    assert "847 1263 9219" in home and "New course" not in home
    course = page(client, f"/courses/{world['course']}")
    for text in ("Díaz", "ana@uni.edu", "Attendance over the term", "term-data"):
        assert text in course
    assert f"/api/v1/courses/{world['course']}/attendance.csv?layout=wide" in course
    meetings = page(client, "/meetings")
    assert f"/meetings/{world['meeting']}" in meetings and "Ended" in meetings
    report = page(client, f"/meetings/{world['meeting']}")
    assert f"/api/v1/meetings/{world['meeting']}/attendance.csv" in report
    assert "timeline-data" in report and 'class="override-form' in report
    assert page(client, "/tokens").count("Create token") == 1


def test_admin_sees_every_course_and_the_admin_pages(client, world):
    login(client, "root@uni.edu")
    home = page(client, "/")
    assert "BIO-101" in home and "CHEM-1" in home and "New course" in home
    page(client, f"/courses/{world['course']}")
    page(client, f"/meetings/{world['meeting']}")
    assert "Event log" in page(client, "/events")
    people = page(client, "/admin/instructors")
    assert "ada@uni.edu" in people and "bob@uni.edu" in people


@pytest.mark.parametrize(
    "path",
    [
        "/courses/{course}",
        "/meetings/{meeting}",
        "/courses/999999",
        "/meetings/999999",
    ],
)
def test_another_instructors_course_and_meeting_are_404(client, world, path):
    login(client, "bob@uni.edu")
    html = page(client, path.format(**world), 404)
    assert "Not Found" in html and "Back to your courses" in html


def test_another_instructors_course_forms_are_404(client, world):
    login(client, "bob@uni.edu")
    course = world["course"]
    settings = client.post(f"/courses/{course}/settings", data={"title": "mine"})
    roster = client.post(f"/courses/{course}/roster", data={})
    assert settings.status_code == roster.status_code == 404


@pytest.mark.parametrize("path", ["/events", "/admin/instructors"])
def test_admin_pages_are_403_for_instructors(client, world, path):
    login(client, "ada@uni.edu")
    assert "Forbidden" in page(client, path, 403)
    assert client.post("/admin/instructors", data={}).status_code == 403
    assert client.post("/courses", data={"code": "X"}).status_code == 403


@pytest.mark.parametrize(
    "path",
    ["/", "/courses/1", "/meetings", "/meetings/1", "/events", "/tokens"]
    + ["/admin/instructors", "/live/84712639219"],
)
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_every_page_has_the_content_security_policy(client, world):
    login(client, "root@uni.edu")
    for path in ("/login", "/", f"/meetings/{world['meeting']}", "/events"):
        csp = client.get(path).headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp


def test_pages_have_no_inline_script_or_style(client, world):
    login(client, "root@uni.edu")
    for path in (
        "/",
        f"/courses/{world['course']}",
        "/meetings",
        f"/meetings/{world['meeting']}",
        "/events",
        "/tokens",
        "/admin/instructors",
    ):
        html = page(client, path)
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r"<[^>]*\son[a-z]+=", html), path
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)


# -- the meeting report -----------------------------------------------------------------


def test_display_names_are_escaped_in_the_report(client, world):
    login(client, "ada@uni.edu")
    html = page(client, f"/meetings/{world['meeting']}")
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # The JSON island for the timeline escapes the markup too (tojson).
    island = re.search(r'id="timeline-data">(.*?)</script>', html, re.S).group(1)
    assert "<img" not in island and "\\u003cimg" in island


def test_report_lists_statuses_guests_and_suggestions(client, world):
    login(client, "ada@uni.edu")
    html = page(client, f"/meetings/{world['meeting']}")
    for status in ("Present", "Late", "Left Early", "Absent"):
        assert f'data-status="{status}"' in html
    assert 'data-participant-pk="' in html
    # "Dana S" is a guest; Dana Smith, absent, is the first suggestion.
    dana = re.search(r"Dana S <span class=\"pill guest\">.*?</article>", html, re.S)
    assert dana and "Match to Dana Smith" in dana.group(0)


def test_report_of_a_live_meeting_has_no_override_and_links_the_live_room(
    client, world, zoom
):
    live_uuid = "live-uuid-1=="
    zoom.post(started(uuid=live_uuid, at=S + timedelta(days=7)))
    for event in session(
        "Ana Díaz", S + timedelta(days=7), None, email="ana@uni.edu", uuid=live_uuid
    ):
        zoom.post(event)
    login(client, "ada@uni.edu")
    listing = page(client, "/meetings")
    live_at = listing.index(f"/live/{NUMBER}")
    assert live_at < listing.index(f"/meetings/{world['meeting']}")
    with client.application.app_context():
        live_id = db.session.scalar(select(Meeting.id).where(Meeting.uuid == live_uuid))
    html = page(client, f"/meetings/{live_id}")
    assert f"/live/{NUMBER}" in html and 'class="override-form' not in html


def test_meetings_filter_by_course(client, world):
    login(client, "root@uni.edu")
    with client.application.app_context():
        chem = db.session.scalar(select(Course.id).where(Course.code == "CHEM-1"))
    assert f"/meetings/{world['meeting']}" not in page(
        client, f"/meetings?course={chem}"
    )
    assert "CHEM-1 has had no Zoom meeting yet" in page(
        client, f"/meetings?course={chem}"
    )
    assert f"/meetings/{world['meeting']}" in page(
        client, f"/meetings?course={world['course']}"
    )


# -- course forms -----------------------------------------------------------------------


def _upload(client, course_id: int, text: str, name: str = "roster.csv"):
    data = {"file": (io.BytesIO(text.encode("utf-8")), name)}
    return client.post(
        f"/courses/{course_id}/roster", data=data, content_type="multipart/form-data"
    )


def test_roster_upload_imports_and_reports_bad_lines(client, world, app):
    login(client, "ada@uni.edu")
    csv_text = (
        "student_id,first_name,last_name,email,aliases\n"
        "S9,Eve,Nakamura,eve@uni.edu,eve.n@gmail.com;Evie\n"
        "S1,Ana,Díaz-Ruiz,ana@uni.edu,\n"
        ",No,Id,x@uni.edu,\n"
        "S10,Bad,Mail,not-an-email,\n"
    )
    response = _upload(client, world["course"], csv_text)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Import result" in html
    assert "Line 4" in html and "student_id is empty" in html
    assert "Line 5" in html and "is not an e-mail address" in html
    assert "Evie" in html and "Díaz-Ruiz" in html
    with app.app_context():
        students = {
            s.student_id: s
            for s in db.session.scalars(
                select(Student).where(Student.course_id == world["course"])
            )
        }
        assert students["S9"].email == "eve@uni.edu"
        assert students["S1"].last_name == "Díaz-Ruiz"
        assert "S10" not in students


def test_roster_upload_rejects_unreadable_files_and_no_file(client, world):
    login(client, "ada@uni.edu")
    wrong = _upload(client, world["course"], "id,name\n1,x\n")
    assert wrong.status_code == 400
    assert "missing column(s): student_id" in wrong.get_data(as_text=True)
    nothing = client.post(
        f"/courses/{world['course']}/roster",
        data={},
        content_type="multipart/form-data",
    )
    assert nothing.status_code == 422
    assert "Choose a CSV file." in nothing.get_data(as_text=True)
    all_bad = _upload(
        client, world["course"], "student_id,first_name,last_name,email\n,,,\nX,,,\n"
    )
    assert all_bad.status_code == 422


def _settings(**changes):
    data = {
        "title": "Biology",
        "timezone": "Europe/Madrid",
        "meeting_numbers": str(NUMBER),
        "late_after_minutes": "10",
        "left_early_minutes": "10",
        "min_attendance_percent": "50",
    }
    data.update(changes)
    return data


def test_policy_form_saves_and_regenerates(client, world, app):
    assert records(app)["S2"]["status"] == "Late"
    login(client, "root@uni.edu")
    response = client.post(
        f"/courses/{world['course']}/settings",
        data=_settings(
            late_after_minutes="20", meeting_numbers=f"{NUMBER}\n912 3456 7890"
        ),
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/courses/{world['course']}#settings")
    with app.app_context():
        course = db.session.get(Course, world["course"])
        assert (course.late_after_minutes, course.timezone) == (20, "Europe/Madrid")
        assert sorted(n.zoom_meeting_id for n in course.meeting_numbers) == [
            NUMBER,
            91234567890,
        ]
    assert records(app)["S2"]["status"] == "Present"
    assert "Settings saved" in page(client, f"/courses/{world['course']}")


def test_policy_form_of_an_instructor_cannot_change_meeting_numbers(client, world, app):
    """Meeting numbers are the admins': a number links every past instance of it."""
    login(client, "ada@uni.edu")
    html = page(client, f"/courses/{world['course']}")
    assert 'name="meeting_numbers"' not in html
    assert "Set by an administrator" in html
    response = client.post(
        f"/courses/{world['course']}/settings",
        data=_settings(late_after_minutes="20", meeting_numbers="912 3456 7890"),
    )
    assert response.status_code == 302
    with app.app_context():
        course = db.session.get(Course, world["course"])
        assert course.late_after_minutes == 20  # the rest of the form is saved
        assert [n.zoom_meeting_id for n in course.meeting_numbers] == [NUMBER]


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"min_attendance_percent": "150"}, 422, "Between 0 and 100."),
        ({"late_after_minutes": "soon"}, 422, "Not a valid integer value."),
        ({"late_after_minutes": ""}, 422, "Required."),
        ({"timezone": "Mars/Olympus"}, 422, "is not an IANA time zone"),
        ({"meeting_numbers": "12"}, 422, "is not a Zoom meeting number"),
    ],
)
def test_policy_form_rejects_bad_input(client, world, app, changes, status, message):
    login(client, "root@uni.edu")
    response = client.post(
        f"/courses/{world['course']}/settings", data=_settings(**changes)
    )
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Course, world["course"]).timezone == "UTC"


def test_policy_form_meeting_number_of_another_course_is_409(client, world, app):
    with app.app_context():
        chem = db.session.scalar(select(Course).where(Course.code == "CHEM-1"))
        chem_id = chem.id
    login(client, "root@uni.edu")
    response = client.post(
        f"/courses/{chem_id}/settings", data=_settings(meeting_numbers=str(NUMBER))
    )
    assert response.status_code == 409
    assert "belongs to another course" in response.get_data(as_text=True)


def test_admin_creates_a_course(client, world, app):
    login(client, "root@uni.edu")
    response = client.post(
        "/courses",
        data={
            "code": "PHY-2",
            "title": "Physics <b>II</b>",
            "timezone": "America/New_York",
            "meeting_numbers": str(OTHER_NUMBER),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.code == "PHY-2"))
        assert course.timezone == "America/New_York"
        assert [p.email for p in course.instructors] == ["root@uni.edu"]
    html = page(client, "/")
    assert "Physics &lt;b&gt;II&lt;/b&gt;" in html
    again = client.post("/courses", data={"code": "PHY-2", "timezone": "UTC"})
    assert again.status_code == 409 and "exists already" in again.get_data(as_text=True)
    empty = client.post("/courses", data={"code": "", "timezone": "UTC"})
    assert empty.status_code == 422


# -- tokens -----------------------------------------------------------------------------


def test_token_create_shows_it_once_and_revoke_stops_it(client, world, app):
    login(client, "ada@uni.edu")
    response = client.post("/tokens", data={"name": "grading script"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    token = re.search(r'id="new-token" class="mono" value="(att_[^"]+)"', html).group(1)
    assert "only time it is shown" in html
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/me", headers=bearer).status_code == 200
    listing = page(client, "/tokens")
    assert "grading script" in listing and token not in listing
    with app.app_context():
        token_id = db.session.scalar(
            select(ApiToken.id).where(ApiToken.name == "grading script")
        )
    revoked = client.post(f"/tokens/{token_id}/revoke")
    assert revoked.status_code == 303
    assert api.get("/api/v1/me", headers=bearer).status_code == 401
    assert "Token revoked" in page(client, "/tokens")
    assert client.post(f"/tokens/{token_id}/revoke").status_code == 404


def test_token_form_needs_a_name_and_others_tokens_are_404(client, world, app):
    with app.app_context():
        bob = db.session.scalar(
            select(Instructor).where(Instructor.email == "bob@uni.edu")
        )
        issue_token(bob, "bob's")
        db.session.commit()
        bobs = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "bob's"))
    login(client, "ada@uni.edu")
    nameless = client.post("/tokens", data={"name": ""})
    assert nameless.status_code == 422
    assert "Give the token a name." in nameless.get_data(as_text=True)
    assert client.post(f"/tokens/{bobs}/revoke").status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, bobs).revoked_at is None


# -- instructors ------------------------------------------------------------------------


def test_admin_creates_an_instructor_and_assigns_a_course(client, world, app):
    login(client, "root@uni.edu")
    created = client.post(
        "/admin/instructors",
        data={"email": "Cy@Uni.edu", "name": "Cy", "password": PASSWORD},
    )
    assert created.status_code == 303
    with app.app_context():
        cy = db.session.scalar(
            select(Instructor).where(Instructor.email == "cy@uni.edu")
        )
        assert cy is not None and not cy.is_admin
        cy_id = cy.id
    assigned = client.post(
        "/admin/instructors/assign",
        data={"instructor": cy_id, "course": world["course"]},
    )
    assert assigned.status_code == 303
    assert "cy@uni.edu now teaches BIO-101" in page(client, "/admin/instructors")
    cy_client = app.test_client()
    login(cy_client, "cy@uni.edu")
    assert "BIO-101" in page(cy_client, "/")
    page(cy_client, f"/meetings/{world['meeting']}")
    removed = client.post(
        f"/admin/instructors/{cy_id}/courses/{world['course']}/remove"
    )
    assert removed.status_code == 303
    page(cy_client, f"/meetings/{world['meeting']}", 404)
    again = client.post(f"/admin/instructors/{cy_id}/courses/{world['course']}/remove")
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"email": "ADA@uni.edu", "name": "Other Ada"}, 409, "exists already"),
        (
            {"email": "new@uni.edu", "name": "New", "password": "short"},
            422,
            "at least 8",
        ),
        ({"email": "not-an-address", "name": "New"}, 422, "is not an e-mail address"),
        ({"email": "", "name": "New"}, 422, "This field is required."),
    ],
)
def test_instructor_form_errors_are_shown_not_raised(
    client, world, data, status, message
):
    login(client, "root@uni.edu")
    response = client.post("/admin/instructors", data={"password": PASSWORD, **data})
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def test_assign_form_rejects_unknown_choices(client, world):
    login(client, "root@uni.edu")
    response = client.post(
        "/admin/instructors/assign", data={"instructor": 999999, "course": 1}
    )
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)


# -- event log --------------------------------------------------------------------------


def test_event_log_shows_a_failure_and_replays_it(
    client, world, app, zoom, monkeypatch
):
    from attendance.ingest import applier, meetings

    def broken(event, ctx):
        raise RuntimeError("database said <no>")

    monkeypatch.setitem(applier.HANDLERS, "meeting.started", broken)
    zoom.post(started(uuid="other-uuid==", at=S + timedelta(days=1)))
    with app.app_context():
        failed = db.session.scalar(
            select(WebhookEvent).where(WebhookEvent.status == "failed")
        )
        failed_id = failed.id
    login(client, "root@uni.edu")
    html = page(client, "/events")
    assert "1 event failed." in html
    assert "RuntimeError: database said &lt;no&gt;" in html
    assert f"/events/{failed_id}/replay" in html
    only_failed = page(client, "/events?status=failed")
    assert only_failed.count('class="ev-row') == 1
    assert page(client, "/events?event=meeting.ended").count('class="ev-row') == 1

    # Still broken: the replay says so.
    again = client.post(f"/events/{failed_id}/replay")
    assert again.status_code == 303
    assert "failed again: RuntimeError" in page(client, "/events")

    monkeypatch.setitem(
        applier.HANDLERS, "meeting.started", meetings.record_meeting_started
    )
    fixed = client.post(f"/events/{failed_id}/replay?status=failed")
    assert fixed.status_code == 303
    assert fixed.headers["Location"].endswith("/events?status=failed")
    html = page(client, "/events")
    assert f"Event #{failed_id} (meeting.started) replayed: processed." in html
    assert "No failed events." in html
    with app.app_context():
        row = db.session.get(WebhookEvent, failed_id)
        assert (row.status, row.attempts) == ("processed", 3)
    assert client.post("/events/999999/replay").status_code == 303


def test_event_log_paginates_newest_first(client, app):
    with app.app_context():
        create_instructor("root@uni.edu", "Root", PASSWORD, admin=True)
        for n in range(60):
            db.session.add(
                WebhookEvent(
                    event="meeting.sharing_started",
                    dedupe_key=f"key-{n}",
                    body="{}",
                    status="ignored",
                )
            )
        db.session.commit()
    login(client, "root@uni.edu")
    first = page(client, "/events")
    assert first.count('class="ev-row') == 50 and "Page 1 of 2" in first
    assert "1–50 of 60" in first
    ids = [int(i) for i in re.findall(r'<td class="num mono">(\d+)</td>', first)]
    assert ids == sorted(ids, reverse=True) and ids[0] == 60
    second = page(client, "/events?page=2")
    assert second.count('class="ev-row') == 10 and "Page 2 of 2" in second
    assert page(client, "/events?page=99").count('class="ev-row') == 10


# -- CSRF -------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(database_url):
    from tests.conftest import _truncate

    application = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    with application.app_context():
        create_instructor("ada@uni.edu", "Ada", PASSWORD)
        db.session.commit()
    client = application.test_client()
    yield client
    _truncate(application)


def _token_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_forms_need_the_csrf_token(csrf_client):
    login_page = csrf_client.get("/login").get_data(as_text=True)
    csrf_client.post(
        "/login",
        data={
            "email": "ada@uni.edu",
            "password": PASSWORD,
            "csrf_token": _token_of(login_page),
        },
    )
    forged = csrf_client.post("/tokens", data={"name": "forged"})
    assert forged.status_code == 400
    assert "CSRF" in forged.get_data(as_text=True)
    token = _token_of(csrf_client.get("/tokens").get_data(as_text=True))
    real = csrf_client.post("/tokens", data={"name": "real", "csrf_token": token})
    assert real.status_code == 200 and "Your new token" in real.get_data(as_text=True)


# -- suggestions ------------------------------------------------------------------------


def _record(pk, first, last, email="", status="Absent", matched_by=None):
    return {
        "student_pk": pk,
        "student_id": f"S{pk}",
        "first_name": first,
        "last_name": last,
        "email": email,
        "status": status,
        "matched_by": matched_by,
    }


POOL = [
    _record(1, "Ana", "Díaz", "ana.diaz@uni.edu"),
    _record(2, "Ana", "Smith", "asmith@uni.edu"),
    _record(3, "Ben", "Okafor", "ben@uni.edu"),
    _record(4, "José", "Núñez", "jnunez@uni.edu"),
]


@pytest.mark.parametrize(
    ("name", "email", "first"),
    [
        ("Diaz, Ana", "", 1),
        ("Ana Dias", "", 1),
        ("Ana D", "", 1),
        ("ana", "adiaz@gmail.com", 1),
        ("Jose Nunez (he/him)", "", 4),
        ("Ben's iPad", "", 3),
        ("iPad", "b.okafor@gmail.com", 3),
    ],
)
def test_suggest_ranks_the_likely_student_first(name, email, first):
    found = suggest(name, email, POOL)
    assert found and found[0].student_pk == first
    assert all(a.score >= b.score for a, b in zip(found, found[1:], strict=False))


@pytest.mark.parametrize(
    "name", ["iPhone", "Zoom User", "Galaxy S23 Ultra", "", "Guest Speaker"]
)
def test_suggest_offers_nothing_for_device_and_generic_names(name):
    assert suggest(name, "", POOL) == []


def test_suggest_limit_threshold_and_names():
    found = suggest("Ana", "", POOL, limit=1)
    assert len(found) == 1 and found[0].name in ("Ana Díaz", "Ana Smith")
    assert suggest("Ana Díaz", "", POOL, threshold=1.01) == []
    assert suggest("Ana Díaz", "", [])[:1] == []
    assert similarity("Ana Díaz", "", "Ana", "Díaz", "") == 1.0


def test_suggestion_candidates_are_absent_or_unmatched_students():
    pool = [
        _record(1, "Ana", "Díaz", status="Present", matched_by="email"),
        _record(2, "Ana", "Diaz", status="Absent", matched_by="name"),
        _record(3, "Anna", "Diaz", status="Excused"),
        _record(4, "Ann", "Dias", status="Late", matched_by="alias"),
    ]
    assert [r["student_pk"] for r in candidates(pool)] == [2, 3]
    guests = [
        {"participant_pk": 7, "name": "Ana Díaz (iPad)", "email": ""},
        {"participant_pk": 8, "name": "Anne Diaz (iPad)", "email": ""},
    ]
    found = meeting_suggestions(pool, guests)
    # Named exactly like students already here (1 and 2 were seen): their second
    # device first, then the candidates.
    assert [(s.student_pk, s.second_device) for s in found[7]] == [
        (2, True),
        (1, True),
        (3, False),
    ]
    assert sorted(s.student_pk for s in found[8]) == [2, 3]
    assert not any(s.second_device for s in found[8])


def test_report_guest_suggestions_come_from_the_service(app, world):
    from attendance.services.reports import attendance

    with app.app_context():
        meeting = db.session.get(Meeting, world["meeting"])
        recs, guests = attendance(meeting)
    found = meeting_suggestions(recs, guests)
    by_name = {g["name"]: found[g["participant_pk"]] for g in guests}
    assert [s.student_id for s in by_name["Dana S"]][:1] == ["S4"]
    assert by_name[XSS] == []
    assert {r["student_id"] for r in ROSTER} >= {"S4"}


def test_superscript_digits_in_page_numbers_and_meeting_numbers_are_not_500(
    client, world
):
    """ "²" passes str.isdigit() but not int(): pages read it as no number."""
    login(client, "root@uni.edu")
    assert "Meetings" in page(client, "/meetings?page=²&course=²")
    assert "Event log" in page(client, "/events?page=²")
    page(client, "/live/" + "²" * 11, status=404)


# -- bad input and big meetings (issue 10) ----------------------------------------------

HUGE = "9" * 20


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/courses/{HUGE}"),
        ("get", f"/courses/{2**31}"),
        ("get", "/courses/0"),
        ("get", f"/meetings/{HUGE}"),
        ("post", f"/courses/{HUGE}/settings"),
        ("post", f"/courses/{HUGE}/roster"),
        ("post", f"/events/{HUGE}/replay"),
        ("post", f"/admin/instructors/{HUGE}/courses/1/remove"),
        ("post", f"/admin/instructors/1/courses/{HUGE}/remove"),
        ("post", f"/tokens/{HUGE}/revoke"),
    ],
)
def test_page_ids_past_the_database_integers_are_404(client, world, method, path):
    login(client, "root@uni.edu")
    assert getattr(client, method)(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "/meetings?page=" + "9" * 5000,
        "/meetings?course=" + HUGE,
        "/events?page=" + "9" * 5000,
        "/meetings/{meeting}?page=" + "9" * 5000,
        "/meetings/{meeting}?guests=" + HUGE,
        # Leading zeros do not shorten a number for int() (was a 500).
        "/meetings?page=" + "0" * 4400 + "1" * 20,
        "/meetings?course=" + "0" * 4400 + "1" * 20,
    ],
)
def test_page_numbers_out_of_range_are_400(client, world, query):
    login(client, "root@uni.edu")
    html = page(client, query.format(**world), status=400)
    assert "out of range" in html


def test_page_number_past_the_last_page_shows_the_last(client, world):
    login(client, "root@uni.edu")
    assert "Meetings" in page(client, "/meetings?page=999999")
    assert "Meetings" in page(client, "/meetings?page=" + "0" * 4400 + "1")


def test_report_has_one_student_picker_for_every_guest(client, world):
    login(client, "ada@uni.edu")
    html = page(client, f"/meetings/{world['meeting']}")
    assert html.count("<datalist") == 1
    assert html.count('list="student-options"') == html.count('class="guest-card')
    assert html.count('class="guest-card') == 2
    assert '<select id="match-' not in html
    options = re.search(r'<datalist id="student-options">(.*?)</datalist>', html, re.S)
    assert options.group(1).count("<option") == len(ROSTER)


def test_report_shows_guests_a_page_at_a_time(client, world, monkeypatch):
    from attendance.web import meetings

    monkeypatch.setattr(meetings, "GUESTS_PER_PAGE", 1)
    login(client, "ada@uni.edu")
    first = page(client, f"/meetings/{world['meeting']}")
    second = page(client, f"/meetings/{world['meeting']}?guests=2")
    assert first.count('class="guest-card') == second.count('class="guest-card') == 1
    assert ("Dana S <span" in first) != ("Dana S <span" in second)
    assert "?guests=2" in first and "1–1 of 2" in first
    # Suggestions come with the guest, on whichever page it is.
    dana = first if "Dana S <span" in first else second
    assert "Match to Dana Smith" in dana


def test_report_filters_students_by_status_on_the_server(client, world, monkeypatch):
    from attendance.web import meetings

    login(client, "ada@uni.edu")
    absent = page(client, f"/meetings/{world['meeting']}?status=Absent")
    rows = re.findall(r'<tr data-status="([^"]+)"', absent)
    assert rows and set(rows) == {"Absent"}
    assert 'data-filter="Absent" aria-current="true"' in absent
    monkeypatch.setattr(meetings, "STUDENTS_PER_PAGE", len(ROSTER) - 1)
    pages = [
        re.findall(
            r'<tr data-status="[^"]+" data-student-pk="(\d+)"',
            page(client, f"/meetings/{world['meeting']}{query}"),
        )
        for query in ("", "?page=2")
    ]
    assert [len(p) for p in pages] == [len(ROSTER) - 1, 1]
    assert len({pk for p in pages for pk in p}) == len(ROSTER)
    # An unknown status is no filter.
    assert 'aria-current="true">All' in page(
        client, f"/meetings/{world['meeting']}?status=Nope"
    )


def test_meeting_suggestions_compare_each_guest_with_few_students(monkeypatch):
    """Never every guest with every student: 52 s for 120 guests x 2,000 students."""
    from attendance.services import suggestions

    pool = [_record(i, f"First{i % 50}", f"Last{i}") for i in range(2000)]
    pool.append(_record(5000, "Dana", "Smith"))
    compared = []
    original = suggestions._similarity

    def counting(*args, **kwargs):
        compared.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(suggestions, "_similarity", counting)
    guests = [
        {"participant_pk": n, "name": f"Guest{n} X", "email": ""} for n in range(20)
    ]
    guests.append({"participant_pk": 99, "name": "Dana S", "email": ""})
    found = meeting_suggestions(pool, guests)
    assert [s.student_pk for s in found[99]][:1] == [5000]
    assert len(compared) <= len(guests) * suggestions.MAX_COMPARED
    assert len(compared) < len(pool)


def test_course_page_shows_students_a_page_at_a_time(client, world, monkeypatch):
    from attendance.web import courses

    monkeypatch.setattr(courses, "STUDENTS_PER_PAGE", len(ROSTER) - 1)
    login(client, "ada@uni.edu")
    first = page(client, f"/courses/{world['course']}")
    second = page(client, f"/courses/{world['course']}?students=2")
    for html, shown in ((first, len(ROSTER) - 1), (second, 1)):
        # The summary and the roster tables list the same page of students.
        assert html.count('class="student-cell"') == shown
        assert html.count('<td class="mono">') == shown
        assert f'<span class="stat-value">{len(ROSTER)}</span>' in html
    assert "?students=2" in first
    page(client, f"/courses/{world['course']}?students=" + "9" * 5000, status=400)


def test_meeting_suggestions_are_searched_once_for_the_same_candidates(monkeypatch):
    """Three dashboards reloading one report search its guests once."""
    from attendance.services import suggestions

    searches = []
    original = suggestions._search

    def counting(pool, here, keys):
        searches.append(len(keys))
        return original(pool, here, keys)

    monkeypatch.setattr(suggestions, "_search", counting)
    pool = [_record(1, "Cache", "Tester"), _record(2, "Other", "Person")]
    guests = [{"participant_pk": 1, "name": "Cache T", "email": ""}]
    first = meeting_suggestions(pool, guests)
    assert meeting_suggestions(pool, guests) == first
    assert searches == [1]
    # Someone matched (or the roster changed): searched again.
    meeting_suggestions(pool[:1], guests)
    assert searches == [1, 1]
    assert first[1][0].student_pk == 1


def test_report_timeline_is_drawn_once_until_a_status_changes(
    client, world, monkeypatch
):
    from attendance.web import queries

    drawn = []
    original = queries._timeline

    def counting(meeting, records):
        drawn.append(meeting.id)
        return original(meeting, records)

    monkeypatch.setattr(queries, "_timeline", counting)
    monkeypatch.setattr(queries, "_TIMELINES", {})
    login(client, "ada@uni.edu")
    first = page(client, f"/meetings/{world['meeting']}")
    assert page(client, f"/meetings/{world['meeting']}") == first
    assert drawn == [world["meeting"]]
    # An override changes a student's colour in the timeline: drawn again.
    with client.application.app_context():
        student = db.session.scalar(select(Student).where(Student.student_id == "S4"))
        pk = student.id
    answer = client.patch(
        f"/api/v1/meetings/{world['meeting']}/attendance/{pk}",
        json={"status": "Excused", "note": None},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    page(client, f"/meetings/{world['meeting']}")
    assert drawn == [world["meeting"]] * 2
