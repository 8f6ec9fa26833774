"""Helpers for the ``/api/v1`` tests: courses are created by an administrator (CONTRACT §3)."""

from __future__ import annotations

from typing import Any

from attendance.extensions import db
from attendance.models import Instructor
from attendance.services.accounts import create_instructor, issue_token

ADMIN_EMAIL = "registrar@uni.edu"


def admin_headers(app) -> dict[str, str]:
    """A bearer header of an administrator who teaches nothing until they create a course."""
    with app.app_context():
        person = db.session.scalar(
            db.select(Instructor).where(Instructor.email == ADMIN_EMAIL)
        ) or create_instructor(ADMIN_EMAIL, "Registrar", "registrar-pw", admin=True)
        token = issue_token(person, "tests")
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def create_course(client, app, owner: dict[str, str], **body: Any) -> dict[str, Any]:
    """An administrator creates the course and hands it to the instructor of ``owner``.

    The administrator, who teaches a course they create, then steps down from it, so
    the course's instructors are the owner alone (admins see every course anyway).
    """
    admin = admin_headers(app)
    response = client.post("/api/v1/courses", json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    course = response.get_json()
    url = f"/api/v1/courses/{course['id']}/instructors"
    me = client.get("/api/v1/me", headers=owner).get_json()["id"]
    registrar = client.get("/api/v1/me", headers=admin).get_json()["id"]
    if me != registrar:
        assigned = client.post(url, json={"instructor_id": me}, headers=admin)
        assert assigned.status_code == 201, assigned.get_json()
        left = client.delete(f"{url}/{registrar}", headers=admin)
        assert left.status_code == 204
    return course
