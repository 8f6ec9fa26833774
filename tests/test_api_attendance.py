"""Meetings, attendance JSON, the exact CSV export and overrides (CONTRACT §3)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.api_support import create_course
from tests.engine_support import NUMBER, UUID, E, S, ended, session, started

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "attendance.csv"
MIN = timedelta(minutes=1)
ROSTER = [
    {
        "student_id": "S1",
        "first_name": "Ana",
        "last_name": "Díaz",
        "email": "ana@uni.edu",
    },
    {
        "student_id": "S2",
        "first_name": "Mallory",
        "last_name": "=cmd|' /C calc'!A0",
        "email": "m@uni.edu",
    },
    {
        "student_id": "S3",
        "first_name": 'Pat "PJ", Jr.\nthe 2nd',
        "last_name": "O'Neil",
        "email": "pat@uni.edu",
    },
    {
        "student_id": "S4",
        "first_name": "Dana",
        "last_name": "Smith",
        "email": "dana@uni.edu",
    },
]


@pytest.fixture
def setup(app, bearers, client, zoom):
    """A course of ada's with an ended meeting; bob teaches nothing."""
    headers = bearers(ada=False, bob=False)
    course = create_course(
        client, app, headers["ada"], code="BIO", zoom_meeting_ids=[NUMBER]
    )
    client.post(
        f"/api/v1/courses/{course['id']}/students", json=ROSTER, headers=headers["ada"]
    )
    events = [started()]
    events += session("Ana Díaz", S + MIN, E, email="ana@uni.edu")
    events += session("Mallory", S + 12 * MIN, E, email="m@uni.edu")
    events += session("Pat", S, S + 40 * MIN, email="pat@uni.edu")
    events += session(
        "@SUM(1+1)", S + 2 * MIN, S + 32 * MIN + 30 * timedelta(seconds=1)
    )
    events.append(ended())
    for event in events:
        assert zoom.post(event).status_code == 200
    meetings = client.get("/api/v1/meetings", headers=headers["ada"]).get_json()
    return headers, course, meetings[0]


def test_meetings_list_and_filters(client, setup):
    headers, course, meeting = setup
    assert meeting["uuid"] == UUID and meeting["status"] == "ended"
    assert (
        meeting["zoom_meeting_id"] == str(NUMBER)
        and meeting["course_id"] == course["id"]
    )
    assert (
        meeting["start_time"] == "2026-11-23T10:00:00Z"
        and meeting["end_time"] == "2026-11-23T11:00:00Z"
    )
    assert meeting["participant_count"] == 4
    for query, count in (
        ({"status": "ended"}, 1),
        ({"status": "live"}, 0),
        ({"uuid": UUID}, 1),
        ({"zoom_meeting_id": NUMBER}, 1),
        ({"course_id": course["id"]}, 1),
    ):
        found = client.get(
            "/api/v1/meetings", query_string=query, headers=headers["ada"]
        )
        assert len(found.get_json()) == count, query
    assert (
        client.get("/api/v1/meetings?status=maybe", headers=headers["ada"]).status_code
        == 400
    )
    assert (
        client.get("/api/v1/meetings?course_id=x", headers=headers["ada"]).status_code
        == 400
    )
    # "²" passes str.isdigit() but not int(): a 400, not a 500.
    assert (
        client.get("/api/v1/meetings?course_id=²", headers=headers["ada"]).status_code
        == 400
    )
    assert (
        client.get("/api/v1/meetings?colour=red", headers=headers["ada"]).status_code
        == 400
    )
    assert client.get("/api/v1/meetings", headers=headers["bob"]).get_json() == []


def test_attendance_json(client, setup):
    headers, _course, meeting = setup
    body = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=headers["ada"]
    ).get_json()
    assert body["meeting"] == meeting
    by_id = {r["student_id"]: r for r in body["records"]}
    assert by_id["S1"]["status"] == "Present" and by_id["S1"]["matched_by"] == "email"
    assert by_id["S2"]["status"] == "Late" and by_id["S2"]["late"] is True
    assert (
        by_id["S3"]["status"] == "Left Early"
        and by_id["S3"]["last_leave"] == "2026-11-23T10:40:00Z"
    )
    assert by_id["S4"]["status"] == "Absent" and by_id["S4"]["first_join"] is None
    assert set(by_id["S1"]) == {
        "student_pk",
        "student_id",
        "first_name",
        "last_name",
        "email",
        "status",
        "late",
        "left_early",
        "attended_seconds",
        "attended_percent",
        "first_join",
        "last_leave",
        "sessions",
        "matched_by",
        "source",
        "note",
    }
    (guest,) = body["guests"]
    assert guest["name"] == "@SUM(1+1)" and guest["attended_seconds"] == 30 * 60 + 30
    assert set(guest) == {
        "participant_pk",
        "name",
        "email",
        "attended_seconds",
        "first_join",
        "last_leave",
        "sessions",
        "role",
    }


def test_attendance_csv_matches_the_golden_file(client, setup):
    headers, _course, meeting = setup
    response = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance.csv", headers=headers["ada"]
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data() == GOLDEN.read_bytes()


def test_attendance_csv_of_a_busy_database_is_a_503_before_any_byte(
    client, setup, monkeypatch
):
    """The CSV's data is read before it streams: a failure gets a status, not a 500."""
    from sqlalchemy.exc import OperationalError

    from attendance.services import reports

    def busy(_meeting):
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(reports, "attendance", busy)
    headers, _course, meeting = setup
    response = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance.csv", headers=headers["ada"]
    )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"


@pytest.mark.parametrize("path", ["attendance", "attendance.csv"])
def test_other_instructors_get_404(client, setup, path):
    headers, _course, meeting = setup
    assert (
        client.get(
            f"/api/v1/meetings/{meeting['id']}/{path}", headers=headers["bob"]
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/meetings/{meeting['id']}/{path}").status_code == 401


def test_override_survives_regeneration(app, client, zoom, setup):
    headers, _course, meeting = setup
    body = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=headers["ada"]
    ).get_json()
    dana = next(r for r in body["records"] if r["student_id"] == "S4")
    url = f"/api/v1/meetings/{meeting['id']}/attendance/{dana['student_pk']}"
    response = client.patch(
        url, json={"status": "Excused", "note": "doctor's note"}, headers=headers["ada"]
    )
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["source"]) == (
        "Excused",
        "manual",
    )
    for event in session("Dana Smith", S, E, email="dana@uni.edu"):  # late events
        assert zoom.post(event).status_code == 200
    again = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=headers["ada"]
    ).get_json()
    dana = next(r for r in again["records"] if r["student_id"] == "S4")
    assert (dana["status"], dana["note"], dana["attended_seconds"]) == (
        "Excused",
        "doctor's note",
        3600,
    )
    cleared = client.patch(
        url, json={"status": None}, headers=headers["ada"]
    ).get_json()
    assert (cleared["status"], cleared["source"]) == ("Present", "auto")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "Sleeping"}, 422),
        ({"status": 3}, 422),
        ({"note": "x"}, 422),
        ({"status": "Present", "by": "me"}, 422),
        ({"status": "Present", "note": "x" * 2001}, 422),
        ("not json", 400),
    ],
)
def test_override_rejects_bad_bodies(client, setup, body, status):
    headers, _course, meeting = setup
    url = f"/api/v1/meetings/{meeting['id']}/attendance/1"
    kwargs = (
        {"data": body, "content_type": "application/json"}
        if isinstance(body, str)
        else {"json": body}
    )
    assert client.patch(url, headers=headers["ada"], **kwargs).status_code == status


def test_override_of_unknown_student_or_someone_elses_meeting(client, setup):
    headers, _course, meeting = setup
    url = f"/api/v1/meetings/{meeting['id']}/attendance/999999"
    assert (
        client.patch(
            url, json={"status": "Present"}, headers=headers["ada"]
        ).status_code
        == 404
    )
    assert (
        client.patch(
            url, json={"status": "Present"}, headers=headers["bob"]
        ).status_code
        == 404
    )


def _later_meeting(zoom, uuid, name):
    week = timedelta(days=7)
    events = [started(uuid=uuid, at=S + week)]
    events += session(name, S + week, E + week, uuid=uuid)
    events.append(ended(uuid=uuid, at=E + week))
    for event in events:
        assert zoom.post(event).status_code == 200


@pytest.mark.parametrize("remember", [True, False])
def test_match_a_guest_to_a_student(app, client, zoom, setup, remember):
    headers, _course, meeting = setup
    base = f"/api/v1/meetings/{meeting['id']}"
    body = client.get(f"{base}/attendance", headers=headers["ada"]).get_json()
    (guest,) = body["guests"]
    dana = next(r for r in body["records"] if r["student_id"] == "S4")
    response = client.post(
        f"{base}/participants/{guest['participant_pk']}/match",
        json={"student_id": dana["student_pk"], "remember": remember},
        headers=headers["ada"],
    )
    assert response.status_code == 200, response.get_json()
    record = response.get_json()["record"]
    assert (
        record["matched_by"] == "manual" and record["attended_seconds"] == 30 * 60 + 30
    )
    assert response.get_json()["guests"] == []
    # The same display name in next week's meeting of the course:
    _later_meeting(zoom, "next-week==", "@SUM(1+1)")
    later = client.get(
        "/api/v1/meetings", query_string={"uuid": "next-week=="}, headers=headers["ada"]
    ).get_json()[0]
    records = client.get(
        f"/api/v1/meetings/{later['id']}/attendance", headers=headers["ada"]
    ).get_json()["records"]
    dana_later = next(r for r in records if r["student_id"] == "S4")
    # "@SUM(1+1)" is no specific name (a word of digits): it is never remembered
    # (CONTRACT §5.7), so next week's "@SUM(1+1)" is nobody's either way.
    assert response.get_json()["remembered"] == []
    assert dana_later["matched_by"] is None


def test_match_errors(client, setup):
    headers, _course, meeting = setup
    base = f"/api/v1/meetings/{meeting['id']}/participants"
    body = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=headers["ada"]
    ).get_json()
    guest_pk = body["guests"][0]["participant_pk"]
    student_pk = body["records"][0]["student_pk"]
    cases = [
        (f"{base}/999999/match", {"student_id": student_pk}, 404),
        (f"{base}/{guest_pk}/match", {"student_id": 999999}, 404),
        (f"{base}/{guest_pk}/match", {"student_id": "S1"}, 422),
        (
            f"{base}/{guest_pk}/match",
            {"student_id": student_pk, "remember": "yes"},
            422,
        ),
        (f"{base}/{guest_pk}/match", {"remember": True}, 422),
    ]
    for url, payload, status in cases:
        assert (
            client.post(url, json=payload, headers=headers["ada"]).status_code == status
        ), payload
    assert (
        client.post(
            f"{base}/{guest_pk}/match",
            json={"student_id": student_pk},
            headers=headers["bob"],
        ).status_code
        == 404
    )
