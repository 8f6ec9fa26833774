"""A course's term: per-student summary JSON, summary CSV and the wide CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.api_support import create_course
from tests.engine_support import NUMBER, ended, session, started

MIN = timedelta(minutes=1)
ROSTER = [
    {"student_id": "S1", "first_name": "Ana", "last_name": "Abel", "email": "a@u.edu"},
    {"student_id": "S2", "first_name": "Ben", "last_name": "Bolt", "email": "b@u.edu"},
    {"student_id": "S3", "first_name": "Cy", "last_name": "Cole", "email": "c@u.edu"},
    # A name a spreadsheet would run as a formula.
    {"student_id": "S4", "first_name": "Dee", "last_name": "=1+2", "email": "d@u.edu"},
]
#: Three classes; in New York the first two share a date (05:00 and 10:00 local),
#: and the third starts at 02:00 UTC, still the previous evening locally.
STARTS = [
    datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
    datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
]


def _meeting(zoom, n: int, attendees: dict[str, tuple[int, int]]) -> None:
    """Meeting ``n`` (one hour) with ``email -> (minutes in, minutes out)``."""
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
    headers = bearers(ada=False, bob=False)
    course = create_course(
        client,
        app,
        headers["ada"],
        code="BIO 101/ü",
        timezone="America/New_York",
        zoom_meeting_ids=[NUMBER],
    )
    client.post(
        f"/api/v1/courses/{course['id']}/students", json=ROSTER, headers=headers["ada"]
    )
    _meeting(zoom, 0, {"a@u.edu": (0, 60), "b@u.edu": (12, 60), "d@u.edu": (0, 30)})
    _meeting(zoom, 1, {"a@u.edu": (0, 60)})
    _meeting(zoom, 2, {"a@u.edu": (0, 60), "b@u.edu": (0, 60)})
    meetings = client.get(
        "/api/v1/meetings", query_string={"status": "ended"}, headers=headers["ada"]
    ).get_json()
    by_uuid = {m["uuid"]: m for m in meetings}
    cole = next(
        s
        for s in client.get(
            f"/api/v1/courses/{course['id']}/students", headers=headers["ada"]
        ).get_json()
        if s["student_id"] == "S3"
    )
    excused = client.patch(
        f"/api/v1/meetings/{by_uuid['m1==']['id']}/attendance/{cole['id']}",
        json={"status": "Excused", "note": "doctor"},
        headers=headers["ada"],
    )
    assert excused.status_code == 200
    return headers, course


def test_summary_json(client, term):
    headers, course = term
    body = client.get(
        f"/api/v1/courses/{course['id']}/attendance", headers=headers["ada"]
    ).get_json()
    assert body["course"]["id"] == course["id"]
    assert [m["uuid"] for m in body["meetings"]] == ["m0==", "m1==", "m2=="]
    rows = {s["student_id"]: s for s in body["students"]}
    assert [s["student_id"] for s in body["students"]] == ["S4", "S1", "S2", "S3"]
    assert rows["S1"] | {"student_pk": 0} == {
        "student_pk": 0,
        "student_id": "S1",
        "first_name": "Ana",
        "last_name": "Abel",
        "email": "a@u.edu",
        "meetings": 3,
        "present": 3,
        "late": 0,
        "left_early": 0,
        "absent": 0,
        "excused": 0,
        "attended_seconds": 3 * 3600,
        "attended_minutes": 180.0,
        "attendance_rate": 100.0,
        # 02:00 UTC on the 25th is the evening of the 24th in New York.
        "last_attended": "2026-11-24",
    }
    ben = rows["S2"]
    assert (ben["present"], ben["late"], ben["absent"]) == (1, 1, 1)
    assert ben["attendance_rate"] == 66.7 and ben["attended_seconds"] == 108 * 60
    cole = rows["S3"]
    assert (cole["absent"], cole["excused"], cole["attendance_rate"]) == (2, 1, 0.0)
    assert cole["last_attended"] is None
    dee = rows["S4"]
    assert (dee["left_early"], dee["absent"], dee["last_attended"]) == (
        1,
        2,
        "2026-11-23",
    )


def test_summary_csv(client, term):
    headers, course = term
    response = client.get(
        f"/api/v1/courses/{course['id']}/attendance.csv", headers=headers["ada"]
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert (
        'filename="attendance-BIO_101_-summary.csv"'
        in response.headers["Content-Disposition"]
    )
    assert response.get_data(as_text=True).split("\r\n") == [
        "student_id,last_name,first_name,email,meetings,present,late,left_early,"
        "absent,excused,attended_minutes,attendance_rate,last_attended",
        "S4,'=1+2,Dee,d@u.edu,3,0,0,1,2,0,30.0,33.3,2026-11-23",
        "S1,Abel,Ana,a@u.edu,3,3,0,0,0,0,180.0,100.0,2026-11-24",
        "S2,Bolt,Ben,b@u.edu,3,1,1,0,1,0,108.0,66.7,2026-11-24",
        "S3,Cole,Cy,c@u.edu,3,0,0,0,2,1,0.0,0.0,",
        "",
    ]


def test_wide_csv(client, term):
    headers, course = term
    text = client.get(
        f"/api/v1/courses/{course['id']}/attendance.csv?layout=wide",
        headers=headers["ada"],
    ).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "student_id",
        "last_name",
        "first_name",
        "email",
        "2026-11-23 05:00",
        "2026-11-23 10:00",
        "2026-11-24",
    ]
    assert rows[1:] == [
        ["S4", "'=1+2", "Dee", "d@u.edu", "Left Early", "Absent", "Absent"],
        ["S1", "Abel", "Ana", "a@u.edu", "Present", "Present", "Present"],
        ["S2", "Bolt", "Ben", "b@u.edu", "Late", "Absent", "Present"],
        ["S3", "Cole", "Cy", "c@u.edu", "Absent", "Excused", "Absent"],
    ]


def test_course_attendance_is_scoped_and_validated(client, term):
    headers, course = term
    for path in ("attendance", "attendance.csv"):
        url = f"/api/v1/courses/{course['id']}/{path}"
        assert client.get(url, headers=headers["bob"]).status_code == 404
        assert client.get(url).status_code == 401
    bad = client.get(
        f"/api/v1/courses/{course['id']}/attendance.csv?layout=tall",
        headers=headers["ada"],
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid"


def test_a_course_without_meetings_has_empty_summaries(app, client, term):
    headers, _course = term
    other = create_course(client, app, headers["ada"], code="NEW")
    client.post(
        f"/api/v1/courses/{other['id']}/students",
        json=ROSTER[:1],
        headers=headers["ada"],
    )
    body = client.get(
        f"/api/v1/courses/{other['id']}/attendance", headers=headers["ada"]
    ).get_json()
    assert body["meetings"] == []
    (only,) = body["students"]
    assert only["meetings"] == 0 and only["attendance_rate"] is None
