"""``/api/v1/courses`` and rosters: scoping, validation, regeneration (CONTRACT §3)."""

from __future__ import annotations

import pytest

from tests.api_support import create_course
from tests.engine_support import NUMBER, E, S, ended, session, started

PASSWORD = "correct horse battery"


@pytest.fixture
def tokens(bearers):
    """Bearer headers for two instructors and an admin."""
    return bearers(ada=False, bob=False, root=True)


def _course(client, app, headers, **extra):
    """A course an administrator creates for the instructor of ``headers``."""
    body = {
        "code": "BIO-101",
        "title": "Biology",
        "zoom_meeting_ids": [str(NUMBER)],
        **extra,
    }
    return create_course(client, app, headers, **body)


def test_create_and_read_course(app, client, tokens):
    course = _course(client, app, tokens["ada"], timezone="America/Denver")
    assert course == {
        "id": course["id"],
        "code": "BIO-101",
        "title": "Biology",
        "timezone": "America/Denver",
        "zoom_meeting_ids": [str(NUMBER)],
        "policy": {
            "late_after_minutes": 10,
            "left_early_minutes": 10,
            "min_attendance_percent": 50.0,
        },
        "schedule": [],
    }
    assert (
        client.get(f"/api/v1/courses/{course['id']}", headers=tokens["ada"]).get_json()
        == course
    )


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("bob", 404), ("ada", 200), ("root", 200)]
)
def test_course_scoping(app, client, tokens, who, status):
    course = _course(client, app, tokens["ada"])
    headers = tokens[who] if who else {}
    for method, extra in (("get", {}), ("patch", {"json": {"title": "X"}})):
        response = getattr(client, method)(
            f"/api/v1/courses/{course['id']}", headers=headers, **extra
        )
        assert response.status_code == status
    assert (
        client.get(
            f"/api/v1/courses/{course['id']}/students", headers=headers
        ).status_code
        == status
    )
    listed = client.get("/api/v1/courses", headers=headers)
    if who == "bob":
        assert listed.get_json() == []
    # Deleting a course is for administrators (CONTRACT §3), even for its instructor.
    deleted = client.delete(f"/api/v1/courses/{course['id']}", headers=headers)
    assert deleted.status_code == {None: 401, "bob": 403, "ada": 403, "root": 204}[who]


def test_guessed_ids_answer_404(client, tokens):
    assert (
        client.get("/api/v1/courses/999999", headers=tokens["ada"]).status_code == 404
    )
    assert (
        client.get("/api/v1/courses/999999", headers=tokens["ada"]).get_json()["error"][
            "code"
        ]
        == "not_found"
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ([1, 2], 400),
        ({"title": "no code"}, 422),
        ({"code": "", "title": "x"}, 422),
        ({"code": 7}, 422),
        ({"code": "X1", "owner": "me"}, 422),
        ({"code": "X1", "timezone": "Mars/Olympus"}, 422),
        ({"code": "X1", "timezone": 5}, 422),
        ({"code": "X1", "zoom_meeting_ids": "84712639219"}, 422),
        ({"code": "X1", "zoom_meeting_ids": ["12"]}, 422),
        ({"code": "X1", "zoom_meeting_ids": [True]}, 422),
        ({"code": "X1", "policy": {"late_after_minutes": -1}}, 422),
        ({"code": "X1", "policy": {"min_attendance_percent": 101}}, 422),
        ({"code": "X1", "policy": {"late_after_minutes": "10"}}, 422),
        ({"code": "X1", "policy": {"grace": 5}}, 422),
        ({"code": "X1", "policy": [1]}, 422),
    ],
)
def test_create_course_rejects_bad_bodies(client, tokens, body, status):
    kwargs = (
        {"data": body, "content_type": "application/json"}
        if isinstance(body, str)
        else {"json": body}
    )
    response = client.post("/api/v1/courses", headers=tokens["root"], **kwargs)
    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_create_course_conflicts_are_409(app, client, tokens):
    _course(client, app, tokens["ada"])
    again = client.post(
        "/api/v1/courses", json={"code": "BIO-101"}, headers=tokens["root"]
    )
    assert again.status_code == 409
    taken = client.post(
        "/api/v1/courses",
        json={"code": "CHEM", "zoom_meeting_ids": [NUMBER]},
        headers=tokens["root"],
    )
    message = taken.get_json()["error"]["message"]
    assert taken.status_code == 409 and "another course" in message
    # The answer does not say which course holds the number.
    assert "BIO" not in message and "Biology" not in message


def test_oversized_body_is_413(client, tokens):
    response = client.post(
        "/api/v1/courses",
        data=b"x" * (1024 * 1024 + 10),
        headers={**tokens["root"], "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_roster_upload_may_exceed_the_app_limit_up_to_its_own(app, client, tokens):
    from attendance.api.students import ROSTER_MAX_BYTES

    course = _course(client, app, tokens["ada"])
    url = f"/api/v1/courses/{course['id']}/students"
    headers = {**tokens["ada"], "Content-Type": "text/csv"}
    header = b"student_id,first_name,last_name,email,department,aliases\r\n"
    # 2 MiB, twice the app-wide limit: accepted, and the oversized row is reported.
    big = header + b"S1,Ana,Diaz,ana@uni.edu,Bio," + b"a" * (2 * 1024 * 1024) + b"\r\n"
    response = client.post(url, data=big, headers=headers)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["created"] == 0 and report["errors"][0]["line"] == 2
    too_big = header + b"x" * ROSTER_MAX_BYTES
    assert client.post(url, data=too_big, headers=headers).status_code == 413


def test_policy_change_regenerates_ended_meetings(app, client, tokens, zoom):
    course = _course(client, app, tokens["ada"])
    roster = [
        {
            "student_id": "S2",
            "first_name": "Ben",
            "last_name": "Okafor",
            "email": "ben@uni.edu",
        }
    ]
    assert (
        client.post(
            f"/api/v1/courses/{course['id']}/students",
            json=roster,
            headers=tokens["ada"],
        ).status_code
        == 200
    )
    from datetime import timedelta

    for event in [
        started(),
        *session("Ben Okafor", S + timedelta(minutes=15), E),
        ended(),
    ]:
        assert zoom.post(event).status_code == 200
    from tests.engine_support import records

    assert records(app)["S2"]["status"] == "Late"
    patched = client.patch(
        f"/api/v1/courses/{course['id']}",
        json={"policy": {"late_after_minutes": 20}},
        headers=tokens["ada"],
    )
    assert patched.get_json()["policy"]["late_after_minutes"] == 20
    assert records(app)["S2"]["status"] == "Present"


def test_roster_import_json_and_csv_round_trip(app, client, tokens):
    course = _course(client, app, tokens["ada"])
    url = f"/api/v1/courses/{course['id']}/students"
    csv_body = (
        "\ufeffstudent_id,first_name,last_name,email,department,aliases\r\n"
        'S1,Ana,Díaz,ANA@uni.edu,Bio,"ana.d@gmail.com;Ana D"\r\n'
        "S2,Ben,Okafor,bad-email,,\r\n"
    ).encode()
    response = client.post(
        url, data=csv_body, headers={**tokens["ada"], "Content-Type": "text/csv"}
    )
    assert response.get_json() == {
        "created": 1,
        "updated": 0,
        "errors": [
            {"line": 3, "message": "email 'bad-email' is not an e-mail address"}
        ],
    }
    update = [
        {
            "student_id": "S1",
            "first_name": "Ana María",
            "last_name": "Díaz",
            "email": "ana@uni.edu",
            "aliases": ["Ana D"],
        },
        {"student_id": "S3", "first_name": "Chen", "last_name": "Wei", "email": ""},
        {"student_id": "", "first_name": "No", "last_name": "Id"},
    ]
    # A JSON body that is not a list of row objects is refused whole (its schema).
    for bad in ([*update, "not an object"], [{"student_id": 7}]):
        refused = client.post(url, json=bad, headers=tokens["ada"])
        assert refused.status_code == 422, refused.get_json()
    response = client.post(url, json=update, headers=tokens["ada"])
    assert response.get_json()["created"] == 1 and response.get_json()["updated"] == 1
    # A row that breaks a rule is reported by its line; the others are kept.
    assert response.get_json()["errors"] == [
        {"line": 3, "message": "student_id is empty"}
    ]
    students = client.get(url, headers=tokens["ada"]).get_json()
    assert [(s["student_id"], s["first_name"], s["aliases"]) for s in students] == [
        ("S1", "Ana María", ["Ana D"]),
        ("S3", "Chen", []),
    ]
    assert set(students[0]) == {
        "id",
        "student_id",
        "first_name",
        "last_name",
        "email",
        "department",
        "aliases",
        "withdrawn_on",
    }
    bad = client.post(
        url,
        data=b"id,name\n1,x\n",
        headers={**tokens["ada"], "Content-Type": "text/csv"},
    )
    assert (
        bad.status_code == 400
        and "missing column" in bad.get_json()["error"]["message"]
    )
    unknown = client.post(
        url, json=[{"student_id": "S9", "nickname": "x"}], headers=tokens["ada"]
    )
    assert unknown.status_code == 422
