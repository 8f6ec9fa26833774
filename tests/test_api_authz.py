"""Every ``/api/v1`` route × anonymous / another instructor / the owner / an admin.

The table below must name every registered route: a new route fails
``test_every_route_is_in_the_table`` until someone decides who may call it.
"""

from __future__ import annotations

import re

import pytest

from attendance.extensions import db
from attendance.models import IdentityLinkRow
from attendance.services.accounts import create_instructor, issue_token
from attendance.services.connections import create_connection
from tests.api_support import create_course
from tests.engine_support import NUMBER, E, S, ended, session, started

OK = "ok"  # anything but 401/403/404 (and never a 5xx): the caller got through
PUBLIC = {"anonymous": OK, "other": OK, "owner": OK, "admin": OK}
SIGNED_IN = {"anonymous": 401, "other": OK, "owner": OK, "admin": OK}
COURSE = {"anonymous": 401, "other": 404, "owner": OK, "admin": OK}
ADMIN = {"anonymous": 401, "other": 403, "owner": 403, "admin": OK}
PERSONAL = {"anonymous": 401, "other": 404, "owner": OK, "admin": 404}

#: (method, rule) -> expected outcome per caller; deletions run last, in this order.
TABLE = {
    ("POST", "/api/v1/tokens"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/tokens"): SIGNED_IN,
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("GET", "/api/v1/courses"): SIGNED_IN,
    ("POST", "/api/v1/courses"): ADMIN,
    ("GET", "/api/v1/meetings"): SIGNED_IN,
    ("GET", "/api/v1/courses/<int:course_id>"): COURSE,
    ("PATCH", "/api/v1/courses/<int:course_id>"): COURSE,
    ("GET", "/api/v1/courses/<int:course_id>/students"): COURSE,
    ("POST", "/api/v1/courses/<int:course_id>/students"): COURSE,
    ("PATCH", "/api/v1/courses/<int:course_id>/students/<int:student_pk>"): COURSE,
    ("GET", "/api/v1/courses/<int:course_id>/attendance"): COURSE,
    ("GET", "/api/v1/courses/<int:course_id>/attendance.csv"): COURSE,
    (
        "GET",
        "/api/v1/courses/<int:course_id>/students/<int:student_pk>/attendance",
    ): COURSE,
    ("GET", "/api/v1/courses/<int:course_id>/instructors"): COURSE,
    ("POST", "/api/v1/courses/<int:course_id>/instructors"): ADMIN,
    ("GET", "/api/v1/meetings/<int:meeting_id>/attendance"): COURSE,
    ("GET", "/api/v1/meetings/<int:meeting_id>/attendance.csv"): COURSE,
    ("PATCH", "/api/v1/meetings/<int:meeting_id>/attendance/<int:student_pk>"): COURSE,
    ("PATCH", "/api/v1/meetings/<int:meeting_id>"): COURSE,
    ("GET", "/api/v1/meetings/<int:meeting_id>/reconciliation"): COURSE,
    # The owner's meeting is live and there are no credentials: 409, past the gate.
    ("POST", "/api/v1/meetings/<int:meeting_id>/reconcile"): COURSE,
    (
        "POST",
        "/api/v1/meetings/<int:meeting_id>/participants/<int:participant_pk>/match",
    ): COURSE,
    ("GET", "/api/v1/courses/<int:course_id>/links"): COURSE,
    ("GET", "/api/v1/instructors"): ADMIN,
    ("POST", "/api/v1/instructors"): ADMIN,
    ("GET", "/api/v1/instructors/<int:instructor_id>"): ADMIN,
    ("PATCH", "/api/v1/instructors/<int:instructor_id>"): ADMIN,
    ("GET", "/api/v1/connections"): ADMIN,
    ("POST", "/api/v1/connections"): ADMIN,
    ("GET", "/api/v1/connections/<int:connection_id>"): ADMIN,
    ("PATCH", "/api/v1/connections/<int:connection_id>"): ADMIN,
    ("DELETE", "/api/v1/connections/<int:connection_id>"): ADMIN,
    ("DELETE", "/api/v1/tokens/<int:token_id>"): PERSONAL,
    (
        "DELETE",
        "/api/v1/meetings/<int:meeting_id>/participants/<int:participant_pk>/match",
    ): COURSE,
    ("DELETE", "/api/v1/courses/<int:course_id>/links/<int:link_id>"): COURSE,
    (
        "DELETE",
        "/api/v1/courses/<int:course_id>/instructors/<int:instructor_id>",
    ): ADMIN,
    ("DELETE", "/api/v1/instructors/<int:instructor_id>"): ADMIN,
    ("DELETE", "/api/v1/courses/<int:course_id>"): ADMIN,
}
#: Write bodies: valid enough to pass the auth check, harmless when they pass it.
BODIES = {
    "/api/v1/courses": {"title": "missing code"},
    "/api/v1/tokens": {},
    "/api/v1/instructors": {},
    "/api/v1/courses/<int:course_id>": {"title": "Renamed"},
    "/api/v1/courses/<int:course_id>/students": [],
    "/api/v1/courses/<int:course_id>/students/<int:student_pk>": {"department": "X"},
    "/api/v1/courses/<int:course_id>/instructors": {},
    "/api/v1/meetings/<int:meeting_id>/attendance/<int:student_pk>": {
        "status": "Excused",
        "note": "authz",
    },
    "/api/v1/instructors/<int:instructor_id>": {"name": "Renamed"},
    "/api/v1/meetings/<int:meeting_id>": {"counts": True},
    "/api/v1/connections/<int:connection_id>": {"account_id": "authz"},
    "/api/v1/meetings/<int:meeting_id>/participants/<int:participant_pk>/match": {
        "student_id": 1
    },
}


def _plain(rule: str) -> str:
    """``<id:x>`` (the API's id converter) written as ``<int:x>``."""
    return rule.replace("<id:", "<int:")


def test_every_route_is_in_the_table(app):
    registered = {
        (method, _plain(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert registered == set(TABLE)


@pytest.fixture
def world(app, client, zoom):
    """ada's course with an ended meeting and a guest; bob teaches nothing; root is admin."""
    with app.app_context():
        headers, people = {}, {}
        for who, admin in (("ada", False), ("bob", False), ("root", True)):
            person = create_instructor(
                f"{who}@uni.edu", who, "pw-long-enough", admin=admin
            )
            headers[who] = {"Authorization": f"Bearer {issue_token(person)}"}
            people[who] = person.id
        spare = create_instructor("spare@uni.edu", "spare", "pw-long-enough")
        issue_token(db.session.get(type(spare), people["ada"]), "spare")
        connection = create_connection("authz", ["authz-secret"])
        db.session.commit()
        ids = {"instructor_id": spare.id, "connection_id": connection.id}
    course = create_course(
        client, app, headers["ada"], code="BIO", zoom_meeting_ids=[NUMBER]
    )
    roster = [
        {"student_id": "S1", "first_name": "A", "last_name": "B", "email": "a@u.edu"}
    ]
    client.post(
        f"/api/v1/courses/{course['id']}/students", json=roster, headers=headers["ada"]
    )
    client.post(
        f"/api/v1/courses/{course['id']}/instructors",
        json={"instructor_id": spare.id},
        headers=headers["root"],
    )
    events = [started(), *session("Walk In", S, E), ended()]
    for event in events:
        assert zoom.post(event).status_code == 200
    (meeting,) = client.get("/api/v1/meetings", headers=headers["ada"]).get_json()
    report = client.get(
        f"/api/v1/meetings/{meeting['id']}/attendance", headers=headers["ada"]
    ).get_json()
    tokens = client.get("/api/v1/tokens", headers=headers["ada"]).get_json()
    ids |= {
        "course_id": course["id"],
        "meeting_id": meeting["id"],
        "student_pk": report["records"][0]["student_pk"],
        "participant_pk": report["guests"][0]["participant_pk"],
        "token_id": next(t["id"] for t in tokens if t["name"] == "spare"),
        "link_id": _remembered_key(app, course["id"], report),
    }
    return headers, ids


def _remembered_key(app, course_id: int, report) -> int:
    """A key the course remembers for its student, for the links routes to find."""
    with app.app_context():
        link = IdentityLinkRow(
            course_id=course_id,
            student_id=report["records"][0]["student_pk"],
            kind="zoom_user",
            value="authz-zoom-user",
            source="manual",
            learned_by="manual",
        )
        db.session.add(link)
        db.session.commit()
        return link.id


def _url(rule: str, ids: dict[str, int]) -> str:
    return re.sub(r"<int:(\w+)>", lambda m: str(ids[m.group(1)]), rule)


@pytest.mark.parametrize("caller", ["anonymous", "other", "owner", "admin"])
def test_who_may_call_what(client, world, caller):
    headers, ids = world
    auth = {"other": headers["bob"], "owner": headers["ada"], "admin": headers["root"]}
    failures = []
    for (method, rule), expected in TABLE.items():
        body = BODIES.get(rule, {}) if method in ("POST", "PATCH") else None
        response = client.open(
            _url(rule, ids), method=method, json=body, headers=auth.get(caller, {})
        )
        status = response.status_code
        want = expected[caller]
        ok = (
            status < 500 and status not in (401, 403, 404)
            if want == OK
            else status == want
        )
        if not ok:
            failures.append(f"{method} {rule}: {status}, expected {want}")
        if status >= 400 and response.mimetype == "application/json":
            assert set(response.get_json()["error"]) == {"code", "message"}, rule
    assert not failures, "\n".join(failures)
