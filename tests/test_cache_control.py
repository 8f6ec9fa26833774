"""Cache-Control: no-store on API answers, CSV downloads and the new-token page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import Course, Meeting
from attendance.services.accounts import create_instructor
from tests.engine_support import UUID, E, S, ended, make_course, session, started

PASSWORD = "correct horse battery"


@pytest.fixture
def taught(app, zoom):
    """ada teaches BIO-101, which has one ended meeting; returns the ids."""
    course_id = make_course(app)
    with app.app_context():
        ada = create_instructor("ada@uni.edu", "Ada", PASSWORD)
        course = db.session.get(Course, course_id)
        course.instructors.append(ada)
        db.session.commit()
    for event in [started(), *session("Ana", S, E, email="ana@uni.edu"), ended()]:
        assert zoom.post(event).status_code == 200
    with app.app_context():
        meeting_id = db.session.scalar(select(Meeting.id).where(Meeting.uuid == UUID))
    return {"course": course_id, "meeting": meeting_id}


def _signed_in(app):
    client = app.test_client()
    response = client.post(
        "/login", data={"email": "ada@uni.edu", "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


def test_cache_control_no_store_on_api_answers(app, taught):
    client = _signed_in(app)
    paths = [
        "/api/v1/me",
        f"/api/v1/courses/{taught['course']}",
        f"/api/v1/meetings/{taught['meeting']}/attendance",
        "/api/v1/no-such-thing",
        "/api/zoom/health",
    ]
    for path in paths:
        response = client.get(path)
        assert response.headers.get("Cache-Control") == "no-store", path
    anonymous = app.test_client().get("/api/v1/me")
    assert anonymous.status_code == 401
    assert anonymous.headers.get("Cache-Control") == "no-store"


def test_cache_control_no_store_on_csv_downloads(app, taught):
    client = _signed_in(app)
    for path in (
        f"/api/v1/meetings/{taught['meeting']}/attendance.csv",
        f"/api/v1/courses/{taught['course']}/attendance.csv",
        f"/api/v1/courses/{taught['course']}/attendance.csv?layout=wide",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/csv"
        assert response.headers.get("Cache-Control") == "no-store", path
        response.close()


def test_cache_control_no_store_on_the_new_token_page(app, taught):
    client = _signed_in(app)
    response = client.post("/tokens", data={"name": "grading script"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'id="new-token" class="mono" value="att_', html)
    assert response.headers.get("Cache-Control") == "no-store"
