"""A term of one course, end to end through the API (issue 12's "done when").

Three Monday classes of BIO 201 (09:00-10:00 in New York) and office hours on
the same Zoom number. Along the way: the room opens early, a guest on an iPhone
is matched (the device name must not be remembered), a wrong match is made and
undone, a student withdraws mid-term. Every record must follow the contract, the
term figures count only classes of enrolled students, and every correction can
be seen and taken back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api_support import create_course
from tests.engine_support import NUMBER, ended, session, started

MIN = timedelta(minutes=1)
ROSTER = [
    {"student_id": "S1", "first_name": "Ana", "last_name": "Abel", "email": "a@u.edu"},
    {"student_id": "S2", "first_name": "Ben", "last_name": "Bolt", "email": "b@u.edu"},
    {"student_id": "S3", "first_name": "Cy", "last_name": "Cole", "email": "c@u.edu"},
    {"student_id": "S4", "first_name": "Di", "last_name": "Dunn", "email": "d@u.edu"},
]
#: Monday classes at 09:00 New York time: 14:00 UTC in November (EST).
CLASS = {"weekday": 0, "start": "09:00", "minutes": 60}
WEEK1 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
WEEK2 = WEEK1 + timedelta(days=7)
WEEK3 = WEEK1 + timedelta(days=14)
#: Wednesday of week 1, 13:00 in New York: office hours on the class's number.
OFFICE = datetime(2026, 11, 4, 18, 0, tzinfo=UTC)


def _class(zoom, uuid, opens, people, minutes=60):
    """A meeting opened at ``opens``; ``people``: (name, email, minutes in, out)."""
    events = [started(uuid, opens)]
    for name, email, join, leave in people:
        events += session(
            name, opens + join * MIN, opens + leave * MIN, email=email, uuid=uuid
        )
    events.append(ended(uuid, opens + minutes * MIN))
    for event in events:
        assert zoom.post(event).status_code == 200


@pytest.fixture
def bio(app, bearers, client):
    headers = bearers(ada=False)["ada"]
    course = create_course(
        client,
        app,
        headers,
        code="BIO 201",
        timezone="America/New_York",
        zoom_meeting_ids=[NUMBER],
        schedule=[CLASS],
    )
    answer = client.post(
        f"/api/v1/courses/{course['id']}/students", json=ROSTER, headers=headers
    )
    assert answer.get_json()["created"] == 4
    students = client.get(
        f"/api/v1/courses/{course['id']}/students", headers=headers
    ).get_json()
    return headers, course["id"], {s["student_id"]: s["id"] for s in students}


def _meeting(client, headers, uuid):
    (meeting,) = client.get(
        "/api/v1/meetings", query_string={"uuid": uuid}, headers=headers
    ).get_json()
    body = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=headers
    ).get_json()
    body["by_id"] = {r["student_id"]: r for r in body["records"]}
    body["guest"] = {g["name"]: g for g in body["guests"]}
    return body


def _match(client, headers, report, guest, student_pk, remember=True):
    url = (
        f"/api/v1/meetings/{report['meeting']['id']}/participants/"
        f"{report['guest'][guest]['participant_pk']}/match"
    )
    return client.post(
        url, json={"student_id": student_pk, "remember": remember}, headers=headers
    )


def test_a_term_of_one_course(client, zoom, bio):
    headers, course_id, pk = bio

    # Week 1: the room opens 10 minutes early. Ana is there from the opening, Ben
    # joins from his phone as "iPhone" 5 minutes after the class starts (15 after
    # the host pressed Start), Cy by e-mail, and "Di D" is a visitor.
    _class(
        zoom,
        "w1==",
        WEEK1 - 10 * MIN,
        [
            ("Ana Abel", "a@u.edu", 0, 70),
            ("iPhone", "", 15, 70),
            ("Cy Cole", "c@u.edu", 10, 70),
            ("Di D", "", 12, 70),
        ],
        minutes=70,
    )
    week1 = _meeting(client, headers, "w1==")
    assert week1["meeting"]["scheduled"] is True
    assert week1["meeting"]["window_start"] == "2026-11-02T14:00:00Z"
    assert week1["by_id"]["S1"]["status"] == "Present"
    assert week1["by_id"]["S3"]["status"] == "Present"  # on time against 09:00
    assert week1["by_id"]["S3"]["attended_seconds"] == 60 * 60

    # The iPhone is Ben: matched here, its name never remembered.
    answer = _match(client, headers, week1, "iPhone", pk["S2"]).get_json()
    assert answer["remembered"] == []
    # "Di D" is matched to Di by mistake ...
    visitor_pk = week1["guest"]["Di D"]["participant_pk"]
    wrong = _match(client, headers, week1, "Di D", pk["S4"]).get_json()
    assert wrong["remembered"] == []  # "di d": one word of one letter, not specific
    week1 = _meeting(client, headers, "w1==")
    assert week1["by_id"]["S2"]["status"] == "Present"
    assert week1["by_id"]["S2"]["matched_by"] == "manual"
    assert week1["by_id"]["S4"]["status"] == "Present"
    # ... and taken back: Di is Absent again and the visitor is a guest again.
    visitor = week1["by_id"]["S4"]
    undo = client.delete(
        f"/api/v1/meetings/{week1['meeting']['id']}/participants/{visitor_pk}/match",
        headers=headers,
    )
    assert undo.status_code == 204, undo.get_json()
    week1 = _meeting(client, headers, "w1==")
    assert week1["by_id"]["S4"]["status"] == "Absent" != visitor["status"]
    assert "Di D" in week1["guest"]

    # Office hours on Wednesday, same number: listed, out of the term.
    _class(zoom, "oh==", OFFICE, [("Ana Abel", "a@u.edu", 0, 30)], minutes=30)
    office = _meeting(client, headers, "oh==")
    assert (office["meeting"]["scheduled"], office["meeting"]["counts"]) == (
        False,
        False,
    )

    # Cy withdraws after week 1 (on the 5th, local date).
    patched = client.patch(
        f"/api/v1/courses/{course_id}/students/{pk['S3']}",
        json={"withdrawn_on": "2026-11-05"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.get_json()

    # Week 2: someone else joins from an iPhone; Cy drops in anyway.
    _class(
        zoom,
        "w2==",
        WEEK2,
        [
            ("Ana Abel", "a@u.edu", 0, 60),
            ("iPhone", "", 0, 60),
            ("Cy Cole", "c@u.edu", 0, 60),
        ],
    )
    week2 = _meeting(client, headers, "w2==")
    assert week2["by_id"]["S2"]["status"] == "Absent"  # the device name credits no one
    assert "S3" not in week2["by_id"]  # withdrawn: no record, not Absent
    assert {"iPhone", "Cy Cole"} <= set(week2["guest"])

    # Week 3: Ana only.
    _class(zoom, "w3==", WEEK3, [("Ana Abel", "a@u.edu", 0, 60)])

    # The term: three classes; office hours out; Cy counted only while enrolled.
    term = client.get(
        f"/api/v1/courses/{course_id}/attendance", headers=headers
    ).get_json()
    assert [m["uuid"] for m in term["meetings"]] == ["w1==", "w2==", "w3=="]
    rows = {s["student_id"]: s for s in term["students"]}
    assert (rows["S1"]["meetings"], rows["S1"]["present"]) == (3, 3)
    assert (rows["S2"]["present"], rows["S2"]["absent"]) == (1, 2)
    assert (rows["S3"]["meetings"], rows["S3"]["present"]) == (1, 1)
    assert (rows["S4"]["absent"], rows["S4"]["present"]) == (3, 0)

    # Every correction can be seen: Ben's week-1 match on his page; no key
    # remembered from a device name or a visitor.
    page = client.get(
        f"/api/v1/courses/{course_id}/students/{pk['S2']}/attendance", headers=headers
    ).get_json()
    by_uuid = {m["meeting"]["uuid"]: m["record"] for m in page["meetings"]}
    assert by_uuid["w1=="]["matched_by"] == "manual"
    assert by_uuid["w2=="]["status"] == "Absent"
    keys = client.get(f"/api/v1/courses/{course_id}/links", headers=headers).get_json()
    assert all(k["kind"] != "name" for k in keys)
    cy = client.get(
        f"/api/v1/courses/{course_id}/students/{pk['S3']}/attendance", headers=headers
    ).get_json()
    assert cy["student"]["withdrawn_on"] == "2026-11-05"
    on_roster = {m["meeting"]["uuid"]: m["record"] is not None for m in cy["meetings"]}
    assert on_roster == {"w3==": False, "w2==": False, "oh==": True, "w1==": True}
