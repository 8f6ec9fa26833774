"""Two server processes sharing Redis (CONTRACT §4): a webhook applied by one reaches
a dashboard client connected to the other."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import socketio

from tests.browser import Api, send_webhook, wait_until
from tests.engine_support import NUMBER, participant_event, started
from tests.support import redis_url, require

UUID = "redis-fanout=="


@pytest.fixture(scope="module")
def pair(server_factory):
    require("redis")
    env = {"REDIS_URL": redis_url()}
    database = server_factory.database(env)
    a = server_factory.start(database_url=database, env=env)
    b = server_factory.start(database_url=database, env=env)
    return a, b


def _client(server, token: str, received: list):
    client = socketio.Client(reconnection=False)
    for name in ("participantJoined", "meetingStarted", "notification"):
        client.on(name, lambda payload, name=name: received.append((name, payload)))
    client.connect(
        server.url, auth={"token": token}, transports=["websocket"], wait_timeout=10
    )
    return client


def test_an_event_applied_by_one_process_reaches_clients_of_the_other(pair):
    a, b = pair
    api = Api.sign_in(a)
    course = api.post("/courses", {"code": "REDIS", "zoom_meeting_ids": [str(NUMBER)]})
    api.post(
        f"/courses/{course['id']}/students",
        [
            {
                "student_id": "S1",
                "first_name": "Ana",
                "last_name": "Díaz",
                "email": "ana@uni.edu",
            }
        ],
    )
    token = api.session.headers["Authorization"].split()[1]
    received: list = []
    client = _client(b, token, received)
    try:
        ack = client.call("join-meeting", {"meetingId": str(NUMBER)}, timeout=10)
        assert ack["ok"] is True
        now = datetime.now(UTC).replace(microsecond=0)
        assert send_webhook(a, started(UUID, now)) == 200
        joined = participant_event(
            "meeting.participant_joined",
            "joined",
            now,
            user_id="1",
            user_name="Ana Díaz",
            email="ana@uni.edu",
            uuid=UUID,
        )
        assert send_webhook(a, joined) == 200
        wait_until(
            lambda: any(name == "participantJoined" for name, _p in received),
            timeout=5,
            message="participantJoined at the other process's client",
        )
        names = [name for name, _p in received]
        assert "meetingStarted" in names and "participantJoined" in names, names
        (payload,) = [p for name, p in received if name == "participantJoined"]
        assert payload["participant"]["student_id"] == "S1"
        assert payload["meetingUuid"] == UUID
    finally:
        client.disconnect()
        api.close()
