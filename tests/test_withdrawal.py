"""Withdrawn students (CONTRACT §5.8): the API, the roster CSV, the rule, the term."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import Course
from attendance.models import Student as StudentRow
from attendance.services.meeting_inputs import load_roster
from attendance.services.roster import import_rows, read_csv
from tests.api_support import create_course
from tests.conftest import INSTRUCTOR_PASSWORD
from tests.engine_support import NUMBER, ended, session, started

MIN = timedelta(minutes=1)
ROSTER = [
    {"student_id": "S1", "first_name": "Ana", "last_name": "Abel", "email": "a@u.edu"},
    {"student_id": "S2", "first_name": "Ben", "last_name": "Bolt", "email": "b@u.edu"},
    {"student_id": "S3", "first_name": "Cy", "last_name": "Cole", "email": "c@u.edu"},
]
#: Classes of a course in New York (UTC-5 in March, before the switch on the 8th).
STARTS = {
    "m0==": datetime(2026, 3, 2, 15, 0, tzinfo=UTC),  # Mon 2 March, 10:00
    "m1==": datetime(2026, 3, 4, 4, 30, tzinfo=UTC),  # Tue 3 March, 23:30 locally
    "m2==": datetime(2026, 3, 5, 15, 0, tzinfo=UTC),  # Thu 5 March, 10:00
    "m3==": datetime(2026, 3, 6, 15, 0, tzinfo=UTC),  # Fri 6 March, 10:00
}


def _meeting(zoom, uuid: str, emails: list[str], *, end: bool = True) -> None:
    """One hour of ``uuid`` with each of ``emails`` there throughout."""
    start = STARTS[uuid]
    events = [started(uuid, start)]
    for email in emails:
        name = email.split("@")[0].upper() + " Person"
        events += session(name, start, start + 60 * MIN, email=email, uuid=uuid)
    if end:
        events.append(ended(uuid, start + 60 * MIN))
    for event in events:
        assert zoom.post(event).status_code == 200


@pytest.fixture
def term(app, bearers, client, zoom):
    """Ana at every class; Ben at m0, m1 and m2; Cy at m0 and m1 only."""
    headers = bearers(ada=False, bob=False)
    course = create_course(
        client,
        app,
        headers["ada"],
        code="HIST-2",
        timezone="America/New_York",
        zoom_meeting_ids=[NUMBER],
    )
    posted = client.post(
        f"/api/v1/courses/{course['id']}/students", json=ROSTER, headers=headers["ada"]
    )
    assert posted.get_json()["created"] == 3
    _meeting(zoom, "m0==", ["a@u.edu", "b@u.edu", "c@u.edu"])
    _meeting(zoom, "m1==", ["a@u.edu", "b@u.edu", "c@u.edu"])
    _meeting(zoom, "m2==", ["a@u.edu", "b@u.edu"])
    students = client.get(
        f"/api/v1/courses/{course['id']}/students", headers=headers["ada"]
    ).get_json()
    pks = {s["student_id"]: s["id"] for s in students}
    return headers["ada"], headers["bob"], course["id"], pks


def _patch(client, headers, course_id, pk, body):
    return client.patch(
        f"/api/v1/courses/{course_id}/students/{pk}", json=body, headers=headers
    )


def _attendance(client, headers, uuid: str) -> dict:
    (meeting,) = client.get(
        "/api/v1/meetings", query_string={"uuid": uuid}, headers=headers
    ).get_json()
    return client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=headers
    ).get_json()


def _on_roster(client, headers) -> dict[str, list[str]]:
    """Each meeting's students with a record, by student_id."""
    return {
        uuid: sorted(
            r["student_id"] for r in _attendance(client, headers, uuid)["records"]
        )
        for uuid in ("m0==", "m1==", "m2==")
    }


# -- the API ----------------------------------------------------------------------


def test_student_json_has_withdrawn_on_and_patch_sets_and_clears_it(client, term):
    ada, _bob, course_id, pks = term
    listed = client.get(f"/api/v1/courses/{course_id}/students", headers=ada)
    assert {s["withdrawn_on"] for s in listed.get_json()} == {None}
    response = _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": "2026-03-04"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "id": pks["S2"],
        "student_id": "S2",
        "first_name": "Ben",
        "last_name": "Bolt",
        "email": "b@u.edu",
        "department": "",
        "aliases": [],
        "withdrawn_on": "2026-03-04",
    }
    listed = client.get(f"/api/v1/courses/{course_id}/students", headers=ada)
    by_id = {s["student_id"]: s["withdrawn_on"] for s in listed.get_json()}
    assert by_id == {"S1": None, "S2": "2026-03-04", "S3": None}
    cleared = _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": None})
    assert cleared.status_code == 200 and cleared.get_json()["withdrawn_on"] is None


def test_patch_changes_the_other_student_fields(client, term):
    ada, _bob, course_id, pks = term
    response = _patch(
        client,
        ada,
        course_id,
        pks["S3"],
        {
            "first_name": " Cyrus ",
            "email": "Cyrus@U.edu",
            "department": "History",
            "aliases": ["Cy C", "cy@home.net", "cy@home.net"],
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["first_name"], body["email"], body["department"]) == (
        "Cyrus",
        "cyrus@u.edu",
        "History",
    )
    assert body["aliases"] == ["Cy C", "cy@home.net"]
    assert body["withdrawn_on"] is None  # left out: unchanged
    renamed = _patch(client, ada, course_id, pks["S3"], {"student_id": "S3b"})
    assert renamed.get_json()["student_id"] == "S3b"
    taken = _patch(client, ada, course_id, pks["S3"], {"student_id": "S1"})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "conflict"
    bad_email = _patch(client, ada, course_id, pks["S3"], {"email": "not-an-address"})
    assert bad_email.status_code == 422
    nameless = _patch(
        client, ada, course_id, pks["S3"], {"first_name": "", "last_name": ""}
    )
    assert nameless.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"withdrawn_on": "2026-02-30"},
        {"withdrawn_on": "03/04/2026"},
        {"withdrawn_on": "2026-3-4"},
        {"withdrawn_on": "2026-03-04T00:00:00"},
        {"withdrawn_on": 1772582400},
        {"withdrawn_on": ""},
        {"withdrawn_on": True},
        {"nickname": "Benny"},
        {"first_name": 5},
    ],
)
def test_patch_refuses_a_bad_date_or_field_with_422(client, term, body):
    ada, _bob, course_id, pks = term
    response = _patch(client, ada, course_id, pks["S2"], body)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_patch_is_404_for_another_instructors_course_or_another_courses_student(
    app, client, term
):
    ada, bob, course_id, pks = term
    body = {"withdrawn_on": "2026-03-04"}
    assert _patch(client, bob, course_id, pks["S2"], body).status_code == 404
    assert _patch(client, ada, course_id, 999_999, body).status_code == 404
    other = create_course(client, app, ada, code="HIST-3")
    client.post(f"/api/v1/courses/{other['id']}/students", json=ROSTER[:1], headers=ada)
    (elsewhere,) = client.get(
        f"/api/v1/courses/{other['id']}/students", headers=ada
    ).get_json()
    # a student of ada's other course, through this course's URL
    assert _patch(client, ada, course_id, elsewhere["id"], body).status_code == 404
    assert (
        client.patch(
            f"/api/v1/courses/{course_id}/students/{pks['S2']}", json=body
        ).status_code
        == 401
    )
    with app.app_context():
        stored = db.session.get(StudentRow, pks["S2"])
        assert stored.withdrawn_on is None


def test_patch_gives_the_roster_a_new_stamp_only_when_it_changes(app, client, term):
    ada, _bob, course_id, pks = term

    def stamp() -> int:
        with app.app_context():
            return db.session.get(Course, course_id).roster_version

    before = stamp()
    _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": "2026-03-04"})
    after = stamp()
    assert after != before
    _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": "2026-03-04"})
    assert stamp() == after  # nothing changed
    with app.app_context():
        (ben,) = [s for s in load_roster(course_id) if s.student_id == "S2"]
        assert ben.withdrawn_on == date(2026, 3, 4)


# -- the rule, through real meetings ------------------------------------------------


def test_withdrawal_takes_the_student_off_later_meetings_by_local_date(client, term):
    ada, _bob, course_id, pks = term
    assert _on_roster(client, ada) == {
        "m0==": ["S1", "S2", "S3"],
        "m1==": ["S1", "S2", "S3"],
        "m2==": ["S1", "S2", "S3"],
    }
    # Withdrawn on the 4th: m1 started at 04:30 UTC on the 4th, but at 23:30 on
    # the 3rd in New York, so Ben was still enrolled; m2 (the 5th) is not his.
    _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": "2026-03-04"})
    assert _on_roster(client, ada) == {
        "m0==": ["S1", "S2", "S3"],
        "m1==": ["S1", "S2", "S3"],
        "m2==": ["S1", "S3"],
    }
    m2 = _attendance(client, ada, "m2==")
    assert [g["email"] for g in m2["guests"]] == ["b@u.edu"]  # he joined: a guest
    assert m2["meeting"]["participant_count"] == 2
    kept = _attendance(client, ada, "m1==")
    ben = next(r for r in kept["records"] if r["student_id"] == "S2")
    assert (ben["status"], ben["matched_by"]) == ("Present", "email")
    assert kept["guests"] == []
    # Withdrawn on m1's own local date: off m1 too.
    _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": "2026-03-03"})
    assert _on_roster(client, ada)["m1=="] == ["S1", "S3"]
    # Enrolled again: every record is back.
    _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": None})
    assert _on_roster(client, ada)["m2=="] == ["S1", "S2", "S3"]
    assert _attendance(client, ada, "m2==")["guests"] == []


def test_a_withdrawn_student_who_joins_a_later_meeting_is_a_guest(client, zoom, term):
    ada, _bob, course_id, pks = term
    _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": "2026-03-06"})
    # m3 (the 6th) happens after the withdrawal: live, then ended.
    _meeting(zoom, "m3==", ["a@u.edu", "b@u.edu"], end=False)
    live = client.get(
        f"/api/zoom/meeting/{NUMBER}/live-participants", headers=ada
    ).get_json()
    assert live["statistics"]["roster_size"] == 2
    assert live["statistics"]["guests"] == 1
    assert live["statistics"]["absent_so_far"] == 1  # Cy; not Ben
    ben = next(p for p in live["participants"] if p["email"] == "b@u.edu")
    assert ben["student_pk"] is None and ben["matched_by"] is None
    assert zoom.post(ended("m3==", STARTS["m3=="] + 60 * MIN)).status_code == 200
    m3 = _attendance(client, ada, "m3==")
    assert sorted(r["student_id"] for r in m3["records"]) == ["S1", "S3"]
    assert {r["student_id"]: r["status"] for r in m3["records"]}["S3"] == "Absent"
    assert [g["email"] for g in m3["guests"]] == ["b@u.edu"]
    # Earlier meetings keep him.
    assert "S2" in _on_roster(client, ada)["m2=="]


def test_a_course_in_utc_reads_the_date_in_utc(app, client, zoom, bearers):
    headers = bearers(eve=False)["eve"]
    course = create_course(
        client, app, headers, code="UTC-1", timezone="UTC", zoom_meeting_ids=[NUMBER]
    )
    client.post(
        f"/api/v1/courses/{course['id']}/students", json=ROSTER, headers=headers
    )
    _meeting(zoom, "m1==", ["b@u.edu"])  # 04:30 UTC on the 4th
    (ben,) = [
        s
        for s in client.get(
            f"/api/v1/courses/{course['id']}/students", headers=headers
        ).get_json()
        if s["student_id"] == "S2"
    ]
    _patch(client, headers, course["id"], ben["id"], {"withdrawn_on": "2026-03-05"})
    records = _attendance(client, headers, "m1==")["records"]
    assert "S2" in [r["student_id"] for r in records]
    _patch(client, headers, course["id"], ben["id"], {"withdrawn_on": "2026-03-04"})
    records = _attendance(client, headers, "m1==")["records"]
    assert "S2" not in [r["student_id"] for r in records]


# -- the term -----------------------------------------------------------------------


def test_the_course_summary_counts_only_enrolled_meetings(client, term):
    ada, _bob, course_id, pks = term
    url = f"/api/v1/courses/{course_id}/attendance"

    def rows() -> dict[str, dict]:
        body = client.get(url, headers=ada).get_json()
        return {s["student_id"]: s for s in body["students"]}

    before = rows()["S3"]
    assert (before["meetings"], before["absent"], before["attendance_rate"]) == (
        3,
        1,
        66.7,
    )
    # Cy withdraws on the 5th: m2, which he missed, is no longer his.
    _patch(client, ada, course_id, pks["S3"], {"withdrawn_on": "2026-03-05"})
    after = rows()
    cy = after["S3"]
    assert (cy["meetings"], cy["present"], cy["absent"]) == (2, 2, 0)
    assert cy["attendance_rate"] == 100.0 and cy["attended_seconds"] == 2 * 3600
    assert cy["last_attended"] == "2026-03-03"  # history before it is kept
    assert after["S1"]["meetings"] == 3 and after["S2"]["meetings"] == 3
    text = client.get(f"{url}.csv", headers=ada).get_data(as_text=True)
    lines = {row[0]: row for row in csv.reader(io.StringIO(text))}
    assert lines["S3"][4:12] == ["2", "2", "0", "0", "0", "0", "120.0", "100.0"]
    wide = client.get(f"{url}.csv?layout=wide", headers=ada).get_data(as_text=True)
    (cy_wide,) = [row for row in csv.reader(io.StringIO(wide)) if row[0] == "S3"]
    assert cy_wide[4:] == ["Present", "Present", ""]


def test_the_course_page_marks_withdrawn_students_and_counts_without_them(client, term):
    ada, _bob, course_id, pks = term
    signed_in = client.post(
        "/login", data={"email": "ada@uni.edu", "password": INSTRUCTOR_PASSWORD}
    )
    assert signed_in.status_code == 302
    page = client.get(f"/courses/{course_id}").get_data(as_text=True)
    assert "Withdrawn 05 Mar 2026" not in page and "1 withdrawn" not in page
    assert '>1</span><span class="stat-hint">0 excused' in page  # Cy's absence
    url = f"/courses/{course_id}/students/{pks['S3']}/withdrawal"
    response = client.post(url, data={"withdrawn_on": "2026-03-05"})
    assert response.status_code == 302
    assert response.location.endswith(f"/courses/{course_id}#roster")
    page = client.get(f"/courses/{course_id}").get_data(as_text=True)
    assert "1 withdrawn" in page
    # marked in the term's table and on the roster
    assert page.count("Withdrawn 05 Mar 2026</span>") == 2
    assert "withdrawn on 05 Mar 2026" in page  # the flash
    assert '>0</span><span class="stat-hint">0 excused' in page  # no absence left
    assert client.post(url, data={"withdrawn_on": "5 March"}).status_code == 422
    assert client.post(url, data={"withdrawn_on": ""}).status_code == 302
    page = client.get(f"/courses/{course_id}").get_data(as_text=True)
    assert "Withdrawn 05 Mar 2026" not in page and "is enrolled" in page
    other = f"/courses/{course_id}/students/999999/withdrawal"
    assert client.post(other, data={"withdrawn_on": ""}).status_code == 404


# -- the roster CSV -----------------------------------------------------------------

HEADER = "student_id,first_name,last_name,email,withdrawn_on\n"


def test_roster_csv_reads_withdrawn_on_and_reports_bad_dates(app, client, term):
    ada, _bob, course_id, _pks = term
    body = (
        HEADER
        + "S1,Ana,Abel,a@u.edu,\n"
        + "S2,Ben,Bolt,b@u.edu,2026-03-04\n"
        + "S3,Cy,Cole,c@u.edu,2026-02-30\n"
        + "S4,Dee,Dunn,d@u.edu,04/03/2026\n"
        + "S5,Eve,Eyre,e@u.edu, 2026-03-05 \n"
    )
    response = client.post(
        f"/api/v1/courses/{course_id}/students",
        data=body,
        content_type="text/csv",
        headers=ada,
    )
    assert response.status_code == 200
    answer = response.get_json()
    assert (answer["created"], answer["updated"]) == (1, 2)
    assert [e["line"] for e in answer["errors"]] == [4, 5]
    assert "withdrawn_on '2026-02-30' is not a date" in answer["errors"][0]["message"]
    listed = client.get(f"/api/v1/courses/{course_id}/students", headers=ada)
    by_id = {s["student_id"]: s["withdrawn_on"] for s in listed.get_json()}
    assert by_id == {"S1": None, "S2": "2026-03-04", "S3": None, "S5": "2026-03-05"}
    # The withdrawal took effect on the meetings: Ben is off m2.
    assert "S2" not in [
        r["student_id"] for r in _attendance(client, ada, "m2==")["records"]
    ]
    # A file without the column leaves withdrawals as they are ...
    plain = "student_id,first_name,last_name,email\nS2,Ben,Bolt,b@u.edu\n"
    client.post(
        f"/api/v1/courses/{course_id}/students",
        data=plain,
        content_type="text/csv",
        headers=ada,
    )
    with app.app_context():
        ben = db.session.scalar(select(StudentRow).where(StudentRow.student_id == "S2"))
        assert ben.withdrawn_on == date(2026, 3, 4)
    # ... and an empty cell enrols again.
    client.post(
        f"/api/v1/courses/{course_id}/students",
        data=HEADER + "S2,Ben,Bolt,b@u.edu,\n",
        content_type="text/csv",
        headers=ada,
    )
    with app.app_context():
        ben = db.session.scalar(select(StudentRow).where(StudentRow.student_id == "S2"))
        assert ben.withdrawn_on is None


def test_roster_json_rows_take_withdrawn_on_too(client, term):
    ada, _bob, course_id, _pks = term
    url = f"/api/v1/courses/{course_id}/students"
    rows = [
        dict(ROSTER[0], withdrawn_on="2026-03-04"),
        dict(ROSTER[1], withdrawn_on="soon"),
        dict(ROSTER[2]),
    ]
    answer = client.post(url, json=rows, headers=ada).get_json()
    assert answer["updated"] == 2 and [e["line"] for e in answer["errors"]] == [2]
    listed = {s["student_id"]: s for s in client.get(url, headers=ada).get_json()}
    assert listed["S1"]["withdrawn_on"] == "2026-03-04"
    client.post(url, json=[dict(ROSTER[0])], headers=ada)  # left out: kept
    listed = {s["student_id"]: s for s in client.get(url, headers=ada).get_json()}
    assert listed["S1"]["withdrawn_on"] == "2026-03-04"
    client.post(url, json=[dict(ROSTER[0], withdrawn_on=None)], headers=ada)
    listed = {s["student_id"]: s for s in client.get(url, headers=ada).get_json()}
    assert listed["S1"]["withdrawn_on"] is None


def test_read_csv_accepts_the_withdrawn_on_column(app):
    rows = read_csv(HEADER + "S9,Ida,Iver,i@u.edu,2026-04-01\n")
    assert rows == [
        (
            2,
            {
                "student_id": "S9",
                "first_name": "Ida",
                "last_name": "Iver",
                "email": "i@u.edu",
                "withdrawn_on": "2026-04-01",
            },
        )
    ]
    with app.app_context():
        course = Course(code="CSV-1", title="CSV")
        db.session.add(course)
        db.session.flush()
        report = import_rows(course, rows)
        db.session.commit()
        assert report.created == 1 and report.errors == []
        (ida,) = load_roster(course.id)
        assert ida.withdrawn_on == date(2026, 4, 1)


def test_a_guest_cannot_be_matched_to_a_student_withdrawn_before_the_meeting(
    client, zoom, term
):
    ada, _bob, course_id, pks = term
    _patch(client, ada, course_id, pks["S2"], {"withdrawn_on": "2026-03-06"})
    _meeting(zoom, "m3==", ["a@u.edu", "b@u.edu"])
    m3 = _attendance(client, ada, "m3==")
    (guest,) = m3["guests"]
    url = (
        f"/api/v1/meetings/{m3['meeting']['id']}/participants/"
        f"{guest['participant_pk']}/match"
    )
    refused = client.post(url, json={"student_id": pks["S2"]}, headers=ada)
    assert refused.status_code == 409
    assert "withdrew" in refused.get_json()["error"]["message"]
    # An enrolled student still can be matched.
    matched = client.post(
        url, json={"student_id": pks["S3"], "remember": False}, headers=ada
    )
    assert matched.status_code == 200
