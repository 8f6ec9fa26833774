"""The caller, their tokens, and the admin's instructors and course assignments."""

from __future__ import annotations

import pytest

from tests.api_support import create_course

PASSWORD = "correct horse battery"


@pytest.fixture
def people(bearers):
    """An admin, two instructors; their bearer headers by name."""
    return bearers(root=True, ada=False, bob=False)


def _id(client, headers) -> int:
    return client.get("/api/v1/me", headers=headers).get_json()["id"]


def test_me(client, people):
    me = client.get("/api/v1/me", headers=people["ada"]).get_json()
    assert me == {
        "id": me["id"],
        "email": "ada@uni.edu",
        "name": "ada",
        "is_admin": False,
        "course_ids": [],
    }


def test_token_list_and_revoke(client, people):
    second = client.post(
        "/api/v1/tokens",
        json={"email": "ada@uni.edu", "password": PASSWORD, "name": "lms sync"},
    ).get_json()["token"]
    listed = client.get("/api/v1/tokens", headers=people["ada"]).get_json()
    assert [t["name"] for t in listed] == ["lms sync", "cli"]
    assert set(listed[0]) == {"id", "name", "prefix", "created_at", "last_used_at"}
    assert second.startswith(listed[0]["prefix"]) and second not in str(listed)
    # bob cannot revoke ada's token: it is not his (404, as if it did not exist).
    bob = client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=people["bob"])
    assert bob.status_code == 404
    gone = client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=people["ada"])
    assert gone.status_code == 204
    auth = {"Authorization": f"Bearer {second}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 401
    again = client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=people["ada"])
    assert again.status_code == 404
    assert len(client.get("/api/v1/tokens", headers=people["ada"]).get_json()) == 1


def test_admin_manages_instructors(client, people):
    created = client.post(
        "/api/v1/instructors",
        json={"email": " Cy@Uni.edu", "name": "Cy", "password": PASSWORD},
        headers=people["root"],
    )
    assert created.status_code == 201
    cy = created.get_json()
    assert (cy["email"], cy["is_admin"], cy["course_ids"]) == ("cy@uni.edu", False, [])
    emails = [
        p["email"]
        for p in client.get("/api/v1/instructors", headers=people["root"]).get_json()
    ]
    assert emails == ["ada@uni.edu", "bob@uni.edu", "cy@uni.edu", "root@uni.edu"]
    taken = client.post(
        "/api/v1/instructors",
        json={"email": "cy@uni.edu", "name": "Cy", "password": PASSWORD},
        headers=people["root"],
    )
    assert taken.status_code == 409
    changed = client.patch(
        f"/api/v1/instructors/{cy['id']}",
        json={"name": "Cy Young", "is_admin": True},
        headers=people["root"],
    )
    assert changed.status_code == 200 and changed.get_json()["is_admin"] is True
    # A new password revokes the account's tokens.
    token = client.post(
        "/api/v1/tokens", json={"email": "cy@uni.edu", "password": PASSWORD}
    ).get_json()["token"]
    client.patch(
        f"/api/v1/instructors/{cy['id']}",
        json={"password": "another long one"},
        headers=people["root"],
    )
    assert (
        client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    assert (
        client.delete(
            f"/api/v1/instructors/{cy['id']}", headers=people["root"]
        ).status_code
        == 204
    )
    assert (
        client.get(
            f"/api/v1/instructors/{cy['id']}", headers=people["root"]
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": "x@uni.edu", "name": "X"}, 422),
        ({"email": "x@uni.edu", "name": "X", "password": "short"}, 422),
        ({"email": "not-an-email", "name": "X", "password": PASSWORD}, 422),
        ({"email": 5, "name": "X", "password": PASSWORD}, 422),
        ({"email": "x@uni.edu", "name": "X", "password": PASSWORD, "is_admin": 1}, 422),
        ({"email": "x@uni.edu", "name": "X", "password": PASSWORD, "role": "x"}, 422),
        (["x@uni.edu"], 400),
    ],
)
def test_bad_instructor_bodies(client, people, body, status):
    response = client.post("/api/v1/instructors", json=body, headers=people["root"])
    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_admins_keep_themselves(client, people):
    root = _id(client, people["root"])
    assert (
        client.delete(f"/api/v1/instructors/{root}", headers=people["root"]).status_code
        == 409
    )
    demote = client.patch(
        f"/api/v1/instructors/{root}", json={"is_admin": False}, headers=people["root"]
    )
    assert demote.status_code == 409


def test_only_admins_manage_people(client, people):
    ada = _id(client, people["ada"])
    for method, path in (
        ("get", "/api/v1/instructors"),
        ("post", "/api/v1/instructors"),
        ("get", f"/api/v1/instructors/{ada}"),
        ("patch", f"/api/v1/instructors/{ada}"),
        ("delete", f"/api/v1/instructors/{ada}"),
    ):
        response = getattr(client, method)(path, json={}, headers=people["bob"])
        assert response.status_code == 403, (method, path)


def test_course_assignment(app, client, people):
    course = create_course(client, app, people["ada"], code="BIO")
    url = f"/api/v1/courses/{course['id']}"
    bob = _id(client, people["bob"])
    assert client.get(url, headers=people["bob"]).status_code == 404
    # ada teaches it but is no admin: she cannot add colleagues.
    refused = client.post(
        f"{url}/instructors", json={"instructor_id": bob}, headers=people["ada"]
    )
    assert refused.status_code == 403
    added = client.post(
        f"{url}/instructors", json={"instructor_id": bob}, headers=people["root"]
    )
    assert added.status_code == 201
    assert [p["email"] for p in added.get_json()] == ["ada@uni.edu", "bob@uni.edu"]
    assert client.get(url, headers=people["bob"]).status_code == 200
    assert client.get("/api/v1/me", headers=people["bob"]).get_json()["course_ids"] == [
        course["id"]
    ]
    listed = client.get(f"{url}/instructors", headers=people["bob"]).get_json()
    assert len(listed) == 2
    for body in ({"instructor_id": "1"}, {"instructor_id": 2**70}, {}):
        bad = client.post(f"{url}/instructors", json=body, headers=people["root"])
        assert bad.status_code == 422, body
    # A well-formed id of no one: the instructor is not found.
    nobody = client.post(
        f"{url}/instructors", json={"instructor_id": 99999}, headers=people["root"]
    )
    assert nobody.status_code == 404
    removed = client.delete(f"{url}/instructors/{bob}", headers=people["root"])
    assert removed.status_code == 204
    assert client.get(url, headers=people["bob"]).status_code == 404
    assert (
        client.delete(f"{url}/instructors/{bob}", headers=people["root"]).status_code
        == 404
    )
