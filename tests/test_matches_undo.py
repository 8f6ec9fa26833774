"""Matches you can take back (CONTRACT §5.7): what is remembered, refused, undone, forgotten."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import IdentityLinkRow, Meeting, Participant
from tests.api_support import create_course
from tests.conftest import INSTRUCTOR_PASSWORD
from tests.engine_support import (
    HOST,
    NUMBER,
    ROSTER,
    UUID,
    E,
    S,
    ended,
    participant_event,
    session,
    started,
)

MIN = timedelta(minutes=1)
WEEK = timedelta(days=7)
NEXT = "next-week=="


@pytest.fixture
def course(app, bearers, client):
    """ada's course BIO (Ana, Ben, Chen, Dana; Ben has an alias e-mail); bob's headers."""
    headers = bearers(ada=False, bob=False)
    made = create_course(
        client, app, headers["ada"], code="BIO", zoom_meeting_ids=[NUMBER]
    )
    roster = [dict(r) for r in ROSTER]
    roster[1]["aliases"] = "ben.alt@home.net"
    imported = client.post(
        f"/api/v1/courses/{made['id']}/students", json=roster, headers=headers["ada"]
    )
    assert imported.status_code == 200, imported.get_json()
    students = client.get(
        f"/api/v1/courses/{made['id']}/students", headers=headers["ada"]
    ).get_json()
    return {
        "id": made["id"],
        "ada": headers["ada"],
        "bob": headers["bob"],
        "pk": {s["student_id"]: s["id"] for s in students},
    }


def _meeting(zoom, client, course, people, uuid=UUID, week=0, extra=()):
    """Post one ended class of ``people`` (name, email, zoom id); return its attendance."""
    shift = week * WEEK
    events = [started(uuid=uuid, at=S + shift)]
    for name, email, zoom_id in people:
        events += session(
            name, S + shift + MIN, E + shift, email=email, zoom_id=zoom_id, uuid=uuid
        )
    events += list(extra)
    events.append(ended(uuid=uuid, at=E + shift))
    for event in events:
        assert zoom.post(event).status_code == 200
    return _report(client, course, uuid)


def _report(client, course, uuid=UUID):
    (meeting,) = client.get(
        "/api/v1/meetings", query_string={"uuid": uuid}, headers=course["ada"]
    ).get_json()
    body = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=course["ada"]
    ).get_json()
    body["by_id"] = {r["student_id"]: r for r in body["records"]}
    body["guest"] = {g["name"]: g for g in body["guests"]}
    return body


def _match(client, course, report, guest, student_id, remember=True, who="ada"):
    meeting_id = report["meeting"]["id"]
    pk = report["guest"][guest]["participant_pk"]
    return client.post(
        f"/api/v1/meetings/{meeting_id}/participants/{pk}/match",
        json={"student_id": course["pk"][student_id], "remember": remember},
        headers=course[who],
    )


def _links(client, course, who="ada"):
    response = client.get(f"/api/v1/courses/{course['id']}/links", headers=course[who])
    return response.status_code, response.get_json()


def test_a_specific_name_is_remembered_and_matches_next_week(zoom, client, course):
    first = _meeting(zoom, client, course, [("Dani Smithers", "", "")])
    response = _match(client, course, first, "Dani Smithers", "S4")
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["remembered"] == [{"kind": "name", "value": "dani smithers"}]
    assert answer["refused"] == []
    assert answer["record"]["matched_by"] == "manual" and answer["guests"] == []

    later = _meeting(zoom, client, course, [("Dani Smithers", "", "")], NEXT, 1)
    assert later["by_id"]["S4"]["matched_by"] == "manual"
    assert later["by_id"]["S4"]["status"] == "Present"
    status, links = _links(client, course)
    assert status == 200
    (link,) = links
    assert {k: v for k, v in link.items() if k not in ("id", "created_at")} == {
        "student_pk": course["pk"]["S4"],
        "kind": "name",
        "value": "dani smithers",
        "learned": "manual",
        "meeting_id": first["meeting"]["id"],
    }
    assert link["created_at"].endswith("Z")


def test_a_generic_name_is_matched_here_but_never_remembered(zoom, client, course):
    first = _meeting(zoom, client, course, [("iPhone", "", "")])
    response = _match(client, course, first, "iPhone", "S4")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["remembered"] == []
    assert response.get_json()["record"]["status"] == "Present"  # this meeting: yes

    # Next week someone else joins from an iPhone: nobody is credited.
    later = _meeting(zoom, client, course, [("iPhone", "", "")], NEXT, 1)
    assert later["by_id"]["S4"]["status"] == "Absent"
    assert later["by_id"]["S4"]["matched_by"] is None
    assert "iPhone" in later["guest"]
    assert _links(client, course)[1] == []


def test_a_remembered_generic_name_from_before_credits_nobody(
    app, zoom, client, course
):
    # A link stored before the rule (remembered from any display name).
    with app.app_context():
        db.session.add(
            IdentityLinkRow(
                course_id=course["id"],
                student_id=course["pk"]["S4"],
                kind="name",
                value="iphone",
                source="manual",
            )
        )
        db.session.commit()
    report = _meeting(zoom, client, course, [("iPhone", "", "")])
    assert report["by_id"]["S4"]["status"] == "Absent"
    assert "iPhone" in report["guest"]


def test_a_remembered_email_matches_under_any_name(zoom, client, course):
    first = _meeting(zoom, client, course, [("D", "Dana.Home@Mail.com", "")])
    response = _match(client, course, first, "D", "S4")
    assert response.get_json()["remembered"] == [
        {"kind": "email", "value": "dana.home@mail.com"}
    ]
    later = _meeting(
        zoom, client, course, [("Kitchen", "dana.home@mail.com", "")], NEXT, 1
    )
    assert later["by_id"]["S4"]["matched_by"] == "manual"


def test_a_key_taken_by_another_student_is_refused(zoom, client, course):
    # Week 1: a guest signed in to Zoom as "zu-kim", name "Kim Lopez", no e-mail.
    first = _meeting(zoom, client, course, [("Kim Lopez", "", "zu-kim")])
    # Week 2: Chen joins with his e-mail from that Zoom account: zu-kim is learned.
    _meeting(zoom, client, course, [("Chen", "chen@uni.edu", "zu-kim")], NEXT, 1)
    response = _match(client, course, first, "Kim Lopez", "S4")
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["refused"] == [
        {"kind": "zoom_user", "value": "zu-kim", "student_pk": course["pk"]["S3"]}
    ]
    assert answer["remembered"] == [{"kind": "name", "value": "kim lopez"}]
    assert answer["record"]["matched_by"] == "manual"
    keys = {(k["kind"], k["value"], k["student_pk"]) for k in _links(client, course)[1]}
    assert keys == {
        ("zoom_user", "zu-kim", course["pk"]["S3"]),
        ("name", "kim lopez", course["pk"]["S4"]),
    }


def test_learned_keys_say_which_step_taught_them(zoom, client, course):
    report = _meeting(
        zoom,
        client,
        course,
        [("Ana", "ana@uni.edu", "zu-ana"), ("Ben", "ben.alt@home.net", "zu-ben")],
    )
    assert report["by_id"]["S2"]["matched_by"] == "alias"
    found = {
        k["value"]: (k["learned"], k["meeting_id"]) for k in _links(client, course)[1]
    }
    meeting_id = report["meeting"]["id"]
    assert found == {"zu-ana": ("email", meeting_id), "zu-ben": ("alias", meeting_id)}


def test_a_manual_link_records_its_match(app, zoom, client, course):
    first = _meeting(zoom, client, course, [("iPhone", "", "zu-dana")])
    pk = first["guest"]["iPhone"]["participant_pk"]
    assert _match(client, course, first, "iPhone", "S4").status_code == 200
    with app.app_context():
        rows = db.session.scalars(select(IdentityLinkRow)).all()
        assert [
            (
                r.kind,
                r.value,
                r.meeting_id,
                r.learned_by,
                r.match_meeting_id,
                r.match_participant_id,
            )
            for r in rows
        ] == [("zoom_user", "zu-dana", None, "manual", first["meeting"]["id"], pk)]


def test_undo_restores_the_guest_and_regenerates(app, zoom, client, course):
    first = _meeting(zoom, client, course, [("Dani Smithers", "", "zu-d")])
    assert _match(client, course, first, "Dani Smithers", "S4").status_code == 200
    later = _meeting(
        zoom,
        client,
        course,
        [("Dani Smithers", "", "zu-d"), ("Ben", "ben@uni.edu", "")],
        NEXT,
        1,
    )
    assert later["by_id"]["S4"]["matched_by"] == "manual"
    excused = client.patch(
        f"/api/v1/meetings/{later['meeting']['id']}/attendance/{course['pk']['S2']}",
        json={"status": "Excused", "note": "kept"},
        headers=course["ada"],
    )
    assert excused.status_code == 200
    pk = first["guest"]["Dani Smithers"]["participant_pk"]
    url = f"/api/v1/meetings/{first['meeting']['id']}/participants/{pk}/match"

    assert client.delete(url, headers=course["bob"]).status_code == 404
    response = client.delete(url, headers=course["ada"])
    assert response.status_code == 204, response.get_json()

    for uuid in (UUID, NEXT):
        report = _report(client, course, uuid)
        assert report["by_id"]["S4"]["status"] == "Absent", uuid
        assert "Dani Smithers" in report["guest"], uuid
    assert _report(client, course, NEXT)["by_id"]["S2"]["status"] == "Excused"
    assert _links(client, course)[1] == []
    with app.app_context():
        assert db.session.scalars(select(IdentityLinkRow)).all() == []
    assert client.delete(url, headers=course["ada"]).status_code == 404


def test_undo_by_any_connection_of_the_matched_person(app, zoom, client, course):
    # Dana is present by e-mail; her phone joins as a guest and is matched to her.
    first = _meeting(
        zoom, client, course, [("Dana", "dana@uni.edu", ""), ("Dana Phone", "", "")]
    )
    phone = first["guest"]["Dana Phone"]["participant_pk"]
    assert _match(client, course, first, "Dana Phone", "S4").status_code == 200
    with app.app_context():
        laptop = db.session.scalar(
            select(Participant.id).where(Participant.email == "dana@uni.edu")
        )
    assert laptop != phone
    url = f"/api/v1/meetings/{first['meeting']['id']}/participants/{laptop}/match"
    assert client.delete(url, headers=course["ada"]).status_code == 204
    assert "Dana Phone" in _report(client, course)["guest"]


def test_undo_of_nothing_is_404(zoom, client, course):
    first = _meeting(zoom, client, course, [("Dani Smithers", "", "")])
    pk = first["guest"]["Dani Smithers"]["participant_pk"]
    base = f"/api/v1/meetings/{first['meeting']['id']}/participants"
    for url in (f"{base}/{pk}/match", f"{base}/999999/match"):
        response = client.delete(url, headers=course["ada"])
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_deleting_one_key_forgets_it_alone(zoom, client, course):
    first = _meeting(zoom, client, course, [("Dani Smithers", "", "zu-d")])
    answer = _match(client, course, first, "Dani Smithers", "S4").get_json()
    assert {k["kind"] for k in answer["remembered"]} == {"zoom_user", "name"}
    # Next week Dana joins from another Zoom account: only her name says who she is.
    later = _meeting(zoom, client, course, [("Dani Smithers", "", "")], NEXT, 1)
    assert later["by_id"]["S4"]["matched_by"] == "manual"
    links = {k["kind"]: k for k in _links(client, course)[1]}
    url = f"/api/v1/courses/{course['id']}/links/{links['name']['id']}"

    assert client.delete(url, headers=course["bob"]).status_code == 404
    assert client.delete(url, headers=course["ada"]).status_code == 204
    assert client.delete(url, headers=course["ada"]).status_code == 404

    assert [k["kind"] for k in _links(client, course)[1]] == ["zoom_user"]
    later = _report(client, course, NEXT)  # regenerated: the name is nobody's now
    assert later["by_id"]["S4"]["status"] == "Absent"
    assert "Dani Smithers" in later["guest"]
    # The match itself stands where its Zoom id still says who it is.
    assert _report(client, course)["by_id"]["S4"]["matched_by"] == "manual"


def test_links_are_the_course_instructors_only(client, course):
    assert _links(client, course, "bob")[0] == 404
    assert _links(client, course)[0] == 200
    other = client.get("/api/v1/courses/999999/links", headers=course["ada"])
    assert other.status_code == 404


def test_the_host_and_a_co_host_cannot_be_matched(app, zoom, client, course):
    promote = participant_event(
        "meeting.participant_role_changed",
        "role",
        S + 2 * MIN,
        user_id="900",
        user_name="Teaching Assistant",
        participant={"old_role": "attendee", "new_role": "co-host"},
    )
    events = [started(), *session("Teaching Assistant", S + MIN, E, user_id="900")]
    events += session("Prof Host", S, E, zoom_id=HOST)
    for event in [*events, promote, ended()]:
        assert zoom.post(event).status_code == 200
    report = _report(client, course)
    assert report["guest"]["Teaching Assistant"]["role"] == "co-host"
    assert "Prof Host" not in report["guest"]
    with app.app_context():
        host = db.session.scalar(
            select(Participant.id).where(Participant.zoom_user_id == HOST)
        )
        meeting_id = db.session.scalar(select(Meeting.id).where(Meeting.uuid == UUID))
    base = f"/api/v1/meetings/{meeting_id}/participants"
    ta = report["guest"]["Teaching Assistant"]["participant_pk"]
    for pk, who in ((ta, "a co-host"), (host, "the meeting's host")):
        response = client.post(
            f"{base}/{pk}/match",
            json={"student_id": course["pk"]["S4"], "remember": True},
            headers=course["ada"],
        )
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "conflict" and who in error["message"]
    assert _report(client, course)["by_id"]["S4"]["status"] == "Absent"
    assert _links(client, course)[1] == []


def _sign_in(client, email="ada@uni.edu"):
    response = client.post(
        "/login", data={"email": email, "password": INSTRUCTOR_PASSWORD}
    )
    assert response.status_code == 302


def test_the_report_offers_undo_and_names_what_it_would_remember(
    app, zoom, client, course
):
    first = _meeting(
        zoom, client, course, [("Dani Smithers", "", ""), ("iPhone", "", "")]
    )
    _sign_in(client)
    page = client.get(f"/meetings/{first['meeting']['id']}").get_data(as_text=True)
    # The page asks before remembering a name, and only a specific one.
    dani = first["guest"]["Dani Smithers"]["participant_pk"]
    phone = first["guest"]["iPhone"]["participant_pk"]
    assert f'data-participant-pk="{dani}" data-remember-name="dani smithers"' in page
    assert f'data-participant-pk="{phone}" data-remember-name=""' in page
    assert "undo-match" not in page

    assert _match(client, course, first, "iPhone", "S4").status_code == 200
    page = client.get(f"/meetings/{first['meeting']['id']}").get_data(as_text=True)
    row = page[page.index(f'data-student-pk="{course["pk"]["S4"]}"') :]
    row = row[: row.index("</tr>")]
    assert f'class="btn small undo-match" data-participant-pk="{phone}"' in row


def test_the_links_page_lists_and_forgets_keys(app, zoom, client, course):
    first = _meeting(zoom, client, course, [("Dani Smithers", "", "zu-d")])
    assert _match(client, course, first, "Dani Smithers", "S4").status_code == 200
    _sign_in(client)
    url = f"/courses/{course['id']}/links"
    page = client.get(url).get_data(as_text=True)
    assert "dani smithers" in page and "zu-d" in page and "Manual match" in page
    assert f"/meetings/{first['meeting']['id']}" in page
    assert url in client.get(f"/courses/{course['id']}").get_data(as_text=True)
    links = {k["kind"]: k["id"] for k in _links(client, course)[1]}

    response = client.post(f"{url}/{links['name']}/delete")
    assert response.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "Key forgotten" in page and "dani smithers" not in page and "zu-d" in page
    assert client.post(f"{url}/{links['name']}/delete").status_code == 404

    client.post("/logout")
    _sign_in(client, "bob@uni.edu")
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/{links['zoom_user']}/delete").status_code == 404
    left = _links(app.test_client(), course)[1]  # a client without bob's session
    assert [k["kind"] for k in left] == ["zoom_user"]


def test_a_match_regenerates_the_ended_meetings_its_keys_reach(zoom, client, course):
    first = _meeting(zoom, client, course, [("Dani Smithers", "", "")])
    later = _meeting(zoom, client, course, [("Dani Smithers", "", "")], NEXT, 1)
    assert later["by_id"]["S4"]["status"] == "Absent"
    # Matched in week 1 after week 2 ended: week 2 is recomputed at once.
    assert _match(client, course, first, "Dani Smithers", "S4").status_code == 200
    later = _report(client, course, NEXT)
    assert later["by_id"]["S4"]["matched_by"] == "manual"
    assert "Dani Smithers" not in later["guest"]


def test_a_match_not_remembered_holds_here_alone_and_is_undone(zoom, client, course):
    first = _meeting(zoom, client, course, [("Dani Smithers", "dani@home.net", "zu-d")])
    response = _match(client, course, first, "Dani Smithers", "S4", remember=False)
    assert response.status_code == 200
    assert response.get_json()["remembered"] == []
    assert response.get_json()["record"]["matched_by"] == "manual"
    assert _links(client, course)[1] == []  # this meeting's, not the course's
    later = _meeting(
        zoom, client, course, [("Dani Smithers", "dani@home.net", "zu-d")], NEXT, 1
    )
    assert later["by_id"]["S4"]["status"] == "Absent"
    pk = first["guest"]["Dani Smithers"]["participant_pk"]
    url = f"/api/v1/meetings/{first['meeting']['id']}/participants/{pk}/match"
    assert client.delete(url, headers=course["ada"]).status_code == 204
    assert "Dani Smithers" in _report(client, course)["guest"]


def test_a_deleted_learned_key_is_not_learned_again(zoom, client, course):
    """Forgetting a learned Zoom id lasts: regenerating its meeting does not bring it back."""
    _meeting(zoom, client, course, [("Ana", "ana@uni.edu", "zu-ana")])
    _meeting(zoom, client, course, [("Ana", "ana@uni.edu", "zu-ana")], NEXT, 1)
    keys = _links(client, course)[1]
    assert [k["value"] for k in keys] == ["zu-ana", "zu-ana"]  # learned in each
    url = f"/api/v1/courses/{course['id']}/links/{keys[0]['id']}"
    assert client.delete(url, headers=course["ada"]).status_code == 204
    assert _links(client, course)[1] == []  # the key, not one copy of it
    # A late event regenerates both meetings: nothing is learned again.
    for uuid, week in ((UUID, 0), (NEXT, 1)):
        assert zoom.post(ended(uuid=uuid, at=E + week * WEEK + MIN)).status_code == 200
    assert _links(client, course)[1] == []
    # Ana still matches by e-mail, of course.
    assert _report(client, course, NEXT)["by_id"]["S1"]["matched_by"] == "email"
    # The same id is no one's now: it may be remembered for another student.
    later = _meeting(zoom, client, course, [("Cy Guest", "", "zu-ana")], "w3==", 2)
    answer = _match(client, course, later, "Cy Guest", "S3").get_json()
    assert {"kind": "zoom_user", "value": "zu-ana"} in answer["remembered"]
