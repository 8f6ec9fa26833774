"""Reconciliation in the real server: ``python app.py`` (eventlet, its own scheduler)
against the fake Zoom over HTTP, with a rate limit on the way.

The user's story of CONTRACT §6: a leave Zoom never delivered keeps a student in
until the end; "Reconcile now" (here its API) queues the job, the server's
scheduler runs it at once, a QPS 429 is waited out, and the attendance ends
where Zoom's report says. Meanwhile webhooks are still accepted.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from tests.browser import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.engine_support import ROSTER, UUID, E, S, ended, session, started
from tests.fake_zoom import FakeZoom, served
from tests.intake_support import post_signed
from tests.support import encode
from tests.test_reconciliation import ANA_ID, BEN_ID, the_report


@pytest.fixture(scope="module")
def fake():
    with served() as running:
        yield running


def api(server, method: str, path: str, token: str | None = None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(
        method, server.url + "/api/v1" + path, headers=headers, timeout=10, **kwargs
    )


def test_reconcile_now_in_the_server_corrects_a_lost_leave(
    server_factory, fake: FakeZoom
):
    settings = {k: str(v) for k, v in fake.settings().items()}
    server = server_factory.start(
        env={**settings, "SCHEDULER_ENABLED": "true", "JOBS_POLL_SECONDS": "3600"}
    )
    token = api(
        server,
        "POST",
        "/tokens",
        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    ).json()["token"]
    course = api(
        server,
        "POST",
        "/courses",
        token,
        json={
            "code": "BIO-101",
            "title": "Biology",
            "zoom_meeting_ids": ["84712639219"],
        },
    )
    assert course.status_code == 201, course.text
    course_id = course.json()["id"]
    imported = api(
        server,
        "POST",
        f"/courses/{course_id}/students",
        token,
        json=ROSTER[:3],
    )
    assert imported.status_code == 200, imported.text
    events = [started()]
    events += session("Ana Díaz", S, None, email="ana@uni.edu", user_id=ANA_ID)
    events += session(
        "Ben Okafor", S, E - timedelta(minutes=5), email="ben@uni.edu", user_id=BEN_ID
    )
    events.append(ended())
    for event in events:
        # Signed "now": the payload times are the class's, the header's is the delivery's.
        assert post_signed(server.url, encode(event)).status == 200
    meetings = []
    for _ in range(100):
        meetings = api(
            server, "GET", f"/meetings?uuid={requests.utils.quote(UUID)}", token
        ).json()
        if meetings and meetings[0]["status"] == "ended":
            break
        time.sleep(0.05)
    mid = meetings[0]["id"]
    before = {
        r["student_id"]: r
        for r in api(server, "GET", f"/meetings/{mid}/attendance", token).json()[
            "records"
        ]
    }
    assert before["S1"]["attended_seconds"] == 3600

    fake.post("/_fake/participants", {"uuid": UUID, "participants": the_report()})
    fake.fault("429-qps", retry_after="seconds", seconds=1)
    queued = api(server, "POST", f"/meetings/{mid}/reconcile", token)
    assert queued.status_code == 202, queued.text
    body = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = api(server, "GET", f"/meetings/{mid}/reconciliation", token).json()
        if body["status"] != "pending":
            break
        # The intake answers while the job runs.
        assert (
            requests.get(server.url + "/api/zoom/health", timeout=5).status_code == 200
        )
        time.sleep(0.1)
    server.check_alive()
    assert body["status"] == "done", (body, server.output())
    after = {
        r["student_id"]: r
        for r in api(server, "GET", f"/meetings/{mid}/attendance", token).json()[
            "records"
        ]
    }
    assert after["S1"]["attended_seconds"] == 1200
    assert after["S3"]["status"] != "Absent"
    # The 429 was waited out: the report was asked for twice.
    assert len(fake.calls("/v2/report/meetings/")) >= 2
