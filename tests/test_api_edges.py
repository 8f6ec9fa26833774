"""``/api/v1`` at its edges: values past the database's integers, odd JSON, and who may
change what. Each answered 500 (or let the wrong person through) before the API's
models were declared (issue 10)."""

from __future__ import annotations

import pytest

from tests.api_support import create_course
from tests.engine_support import NUMBER, E, S, ended, session, started

HUGE = "9" * 20


@pytest.fixture
def world(app, client, zoom, bearers):
    """ada's course with an ended meeting and a guest; bob teaches nothing; root is admin."""
    headers = bearers(ada=False, bob=False, root=True)
    course = create_course(
        client, app, headers["ada"], code="BIO", zoom_meeting_ids=[NUMBER]
    )
    for event in [started(), *session("Walk In", S, E), ended()]:
        assert zoom.post(event).status_code == 200
    (meeting,) = client.get("/api/v1/meetings", headers=headers["ada"]).get_json()
    return headers, course, meeting


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/api/v1/courses/{HUGE}"),
        ("patch", f"/api/v1/courses/{HUGE}"),
        ("get", f"/api/v1/courses/{HUGE}/students"),
        ("get", f"/api/v1/meetings/{HUGE}/attendance"),
        ("get", f"/api/v1/meetings/{HUGE}/attendance.csv"),
        ("patch", f"/api/v1/meetings/1/attendance/{HUGE}"),
        ("delete", f"/api/v1/tokens/{HUGE}"),
        ("get", "/api/v1/courses/2147483648"),
        ("get", "/api/v1/courses/0"),
        ("get", "/api/v1/instructors/2147483648"),
    ],
)
def test_path_ids_past_the_database_integers_are_404(client, world, method, path):
    headers, _course, _meeting = world
    response = client.open(
        path, method=method.upper(), json={"title": "x"}, headers=headers["root"]
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        {"course_id": ""},
        {"course_id": "²"},
        {"course_id": HUGE},
        {"zoom_meeting_id": "9223372036854775808"},
        {"zoom_meeting_id": "-5"},
        {"status": "paused"},
        {"uuid": "a\x00b"},
        {"colour": "red"},
    ],
)
def test_meeting_filters_out_of_range_are_400(client, world, query):
    headers, _course, _meeting = world
    response = client.get(
        "/api/v1/meetings", query_string=query, headers=headers["ada"]
    )
    assert response.status_code == 400
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_meeting_filters_in_range_still_filter(client, world):
    headers, course, meeting = world
    found = client.get(
        "/api/v1/meetings",
        query_string={"course_id": course["id"], "zoom_meeting_id": NUMBER},
        headers=headers["ada"],
    ).get_json()
    assert [m["id"] for m in found] == [meeting["id"]]
    none = client.get(
        "/api/v1/meetings",
        query_string={"zoom_meeting_id": 2**63 - 1},
        headers=headers["ada"],
    ).get_json()
    assert none == []


def test_json_ids_past_the_database_integers_are_422(client, world):
    headers, course, meeting = world
    report = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=headers["ada"]
    ).get_json()
    guest = report["guests"][0]["participant_pk"]
    match = client.post(
        f"/api/v1/meetings/{meeting['id']}/participants/{guest}/match",
        json={"student_id": 2**70},
        headers=headers["ada"],
    )
    assert match.status_code == 422
    assign = client.post(
        f"/api/v1/courses/{course['id']}/instructors",
        json={"instructor_id": 2**70},
        headers=headers["root"],
    )
    assert assign.status_code == 422


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_400(client, world, depth):
    headers, course, _meeting = world
    body = _nested(depth)
    # Unauthenticated: the token exchange is public.
    token = client.post(
        "/api/v1/tokens", data=body, headers={"Content-Type": "application/json"}
    )
    assert token.status_code == 400
    for method, path, who in (
        ("PATCH", f"/api/v1/courses/{course['id']}", "ada"),
        ("POST", f"/api/v1/courses/{course['id']}/students", "ada"),
        ("POST", "/api/v1/courses", "root"),
        ("POST", "/api/v1/instructors", "root"),
    ):
        response = client.open(
            path,
            method=method,
            data=body,
            headers={**headers[who], "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (method, path)
        assert response.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    "policy",
    [
        {"late_after_minutes": 2.6e-42},
        {"late_after_minutes": 10.5},
        {"late_after_minutes": "10"},
        {"left_early_minutes": 1e300},
        {"late_after_minutes": True},
        {"min_attendance_percent": float("nan")},
    ],
)
def test_policy_takes_whole_minutes_only(app, client, world, policy):
    headers, course, _meeting = world
    url = f"/api/v1/courses/{course['id']}"
    import json

    response = client.patch(
        url,
        data=json.dumps({"policy": policy}),
        headers={**headers["ada"], "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    stored = client.get(url, headers=headers["ada"]).get_json()["policy"]
    assert stored["late_after_minutes"] == 10 and stored["left_early_minutes"] == 10
    assert isinstance(stored["late_after_minutes"], int)


def test_policy_minutes_written_as_whole_floats_are_stored_as_ints(client, world):
    headers, course, _meeting = world
    url = f"/api/v1/courses/{course['id']}"
    # JSON Schema's "integer" includes 20.0: accepted, stored as the int 20.
    response = client.patch(
        url, json={"policy": {"late_after_minutes": 20.0}}, headers=headers["ada"]
    )
    assert response.status_code == 200
    stored = client.get(url, headers=headers["ada"]).get_json()["policy"]
    assert stored["late_after_minutes"] == 20
    assert isinstance(stored["late_after_minutes"], int)


def test_text_that_cannot_be_stored_is_422(client, world):
    headers, course, _meeting = world
    url = f"/api/v1/courses/{course['id']}"
    for body in ({"title": "a\x00b"}, {"code": "X\x00"}, {"code": "   "}):
        assert client.patch(url, json=body, headers=headers["ada"]).status_code == 422
    lone = b'{"title": "\\ud800"}'
    response = client.patch(
        url, data=lone, headers={**headers["ada"], "Content-Type": "application/json"}
    )
    assert response.status_code == 422


# -- security item 2: courses and their meeting numbers are the administrators' ------


def test_instructors_cannot_create_courses(client, world):
    headers, _course, _meeting = world
    response = client.post(
        "/api/v1/courses",
        json={"code": "HR", "zoom_meeting_ids": ["99988877766"]},
        headers=headers["ada"],
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    admin = client.post("/api/v1/courses", json={"code": "HR"}, headers=headers["root"])
    assert admin.status_code == 201


def test_instructors_cannot_change_meeting_numbers(client, world):
    headers, course, _meeting = world
    url = f"/api/v1/courses/{course['id']}"
    for numbers in (["99988877766"], [NUMBER, "99988877766"], []):
        response = client.patch(
            url, json={"zoom_meeting_ids": numbers}, headers=headers["ada"]
        )
        assert response.status_code == 403, numbers
    assert client.get(url, headers=headers["ada"]).get_json()["zoom_meeting_ids"] == [
        str(NUMBER)
    ]
    # Sending the numbers it has (a whole object PATCHed back) changes nothing: allowed.
    same = client.patch(
        url, json={"zoom_meeting_ids": [NUMBER], "title": "Bio"}, headers=headers["ada"]
    )
    assert same.status_code == 200 and same.get_json()["title"] == "Bio"
    admin = client.patch(
        url, json={"zoom_meeting_ids": ["99988877766"]}, headers=headers["root"]
    )
    assert admin.status_code == 200
    assert admin.get_json()["zoom_meeting_ids"] == ["99988877766"]


def test_instructors_cannot_delete_courses(client, world):
    headers, course, _meeting = world
    url = f"/api/v1/courses/{course['id']}"
    assert client.delete(url, headers=headers["ada"]).status_code == 403
    assert client.get(url, headers=headers["ada"]).status_code == 200
    assert client.delete(url, headers=headers["root"]).status_code == 204


def test_meeting_number_conflict_does_not_name_the_course(client, world):
    headers, _course, _meeting = world
    hr = client.post(
        "/api/v1/courses",
        json={
            "code": "HR-SECRET",
            "title": "Layoffs",
            "zoom_meeting_ids": ["99988877766"],
        },
        headers=headers["root"],
    ).get_json()
    clash = client.post(
        "/api/v1/courses",
        json={"code": "NEW", "zoom_meeting_ids": ["99988877766"]},
        headers=headers["root"],
    )
    assert clash.status_code == 409
    message = clash.get_json()["error"]["message"]
    for secret in ("HR-SECRET", "Layoffs", f" {hr['id']} "):
        assert secret not in message


def test_openapi_says_which_calls_are_for_admins(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert "403" in paths["/api/v1/courses"]["post"]["responses"]
    assert "403" in paths["/api/v1/courses/{course_id}"]["delete"]["responses"]
    patch = paths["/api/v1/courses/{course_id}"]["patch"]
    assert "403" in patch["responses"] and "admin" in patch["description"]


# -- security item 7: a co-instructor's other courses stay hidden ----------------------


def test_course_instructors_hide_courses_the_caller_cannot_see(app, client, world):
    headers, course, _meeting = world
    other = create_course(client, app, headers["bob"], code="CHEM")
    bob = client.get("/api/v1/me", headers=headers["bob"]).get_json()["id"]
    added = client.post(
        f"/api/v1/courses/{course['id']}/instructors",
        json={"instructor_id": bob},
        headers=headers["root"],
    )
    assert added.status_code == 201
    url = f"/api/v1/courses/{course['id']}/instructors"
    seen_by_ada = {
        p["email"]: p for p in client.get(url, headers=headers["ada"]).get_json()
    }
    assert seen_by_ada["bob@uni.edu"]["course_ids"] == [course["id"]]
    # Those who may see CHEM still see it.
    seen_by_bob = {
        p["email"]: p for p in client.get(url, headers=headers["bob"]).get_json()
    }
    assert seen_by_bob["bob@uni.edu"]["course_ids"] == sorted(
        [course["id"], other["id"]]
    )
    seen_by_root = {
        p["email"]: p for p in client.get(url, headers=headers["root"]).get_json()
    }
    assert other["id"] in seen_by_root["bob@uni.edu"]["course_ids"]


def test_method_not_allowed_names_the_allowed_methods(client):
    response = client.put("/api/v1/courses", json={})
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_csv_answers_are_streamed_not_buffered(app, client, world):
    """The CSVs stream row by row (a course export can be large): nothing buffers them."""
    headers, course, meeting = world
    for url in (
        f"/api/v1/meetings/{meeting['id']}/attendance.csv",
        f"/api/v1/courses/{course['id']}/attendance.csv?layout=wide",
    ):
        # The app's own answer, before a WSGI server iterates it.
        with app.test_request_context(url, headers=headers["ada"]):
            response = app.full_dispatch_request()
            assert response.status_code == 200 and response.mimetype == "text/csv"
            assert response.is_streamed, url
        assert client.get(url, headers=headers["ada"]).text.startswith("student_id,")
