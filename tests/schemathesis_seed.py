"""Seed a database for ``tests/schemathesis.sh``; print the API token to use.

Run with ``DATABASE_URL`` set (and nothing serving it yet): it applies the
migrations, then makes an administrator with a token, a second instructor, a
course with a roster and meeting numbers, an ended meeting with attendance (sent
as signed webhooks through the app's own route) and a live one.

The administrator and their token get known ids, far from 1 and from the largest
id: ``tests/schemathesis_hooks.py`` keeps the run from revoking the token it sends
(or changing its owner's password), which would turn the rest of the run into 401s.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("ASYNC_MODE", "threading")
os.environ.setdefault("SCHEDULER_ENABLED", "false")

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import update  # noqa: E402

from attendance import create_app  # noqa: E402
from attendance.extensions import db  # noqa: E402
from attendance.models import ApiToken, Instructor  # noqa: E402
from attendance.services.accounts import create_instructor, issue_token  # noqa: E402
from tests.engine_support import (  # noqa: E402
    NUMBER,
    ROSTER,
    E,
    S,
    ended,
    session,
    started,
)
from tests.schemathesis_hooks import ADMIN_ID, TOKEN_ID  # noqa: E402
from tests.support import SECRET, encode, signed_headers  # noqa: E402


def main() -> None:
    app = create_app(
        {
            "WEBHOOK_PROCESSING": "inline",
            "ZOOM_WEBHOOK_SECRETS": (SECRET,),
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        made = create_instructor("fuzz@uni.edu", "Fuzz", "fuzz-password", admin=True)
        db.session.execute(
            update(Instructor).where(Instructor.id == made.id).values(id=ADMIN_ID)
        )
        db.session.commit()
        token = issue_token(db.session.get(Instructor, ADMIN_ID), "schemathesis")
        db.session.execute(update(ApiToken).values(id=TOKEN_ID))
        create_instructor("ada@uni.edu", "Ada", "ada-password")
        db.session.commit()
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}

    def call(method: str, path: str, status: int, **kwargs):
        response = client.open(
            f"/api/v1{path}", method=method, headers=bearer, **kwargs
        )
        assert response.status_code == status, (path, response.get_json())
        return response.get_json()

    course = call(
        "POST",
        "/courses",
        201,
        json={"code": "BIO-101", "title": "Biology", "zoom_meeting_ids": [NUMBER]},
    )
    call("POST", f"/courses/{course['id']}/students", 200, json=ROSTER)
    ada = call("GET", "/instructors", 200)[0]
    call(
        "POST",
        f"/courses/{course['id']}/instructors",
        201,
        json={"instructor_id": ada["id"]},
    )
    events = [started(), *session("Ana Díaz", S, E, email="ana@uni.edu")]
    events += session("Ben Okafor", S + timedelta(minutes=15), E, email="ben@uni.edu")
    events += [*session("Walk In", S, E - timedelta(minutes=30)), ended()]
    events += [
        started(uuid="Live+Run=="),
        *session("Early", E, None, uuid="Live+Run=="),
    ]
    for event in events:
        body = encode(event)
        response = client.post(
            "/api/zoom/webhook", data=body, headers=signed_headers(body)
        )
        assert response.status_code == 200, response.get_json()
    meetings = call("GET", "/meetings?status=ended", 200)
    assert meetings and meetings[0]["participant_count"] > 0, meetings
    with app.app_context():
        db.engine.dispose()
    print(token)


if __name__ == "__main__":
    main()
