"""Two server processes sharing Redis (CONTRACT §4): a webhook applied by one reaches
a dashboard client connected to the other."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
import requests
import socketio

from tests.browser import Api, send_webhook, wait_until
from tests.engine_support import NUMBER, participant_event, started
from tests.support import redis_url, require
from tests.tcp_proxy import TcpProxy

UUID = "redis-fanout=="
OTHER = "98765432101"


@pytest.fixture(scope="module")
def pair(server_factory):
    require("redis")
    env = {"REDIS_URL": redis_url()}
    database = server_factory.database(env)
    a = server_factory.start(database_url=database, env=env)
    b = server_factory.start(database_url=database, env=env)
    return a, b


def _client(server, token: str, received: list, extra: tuple[str, ...] = ()):
    client = socketio.Client(reconnection=False)
    for name in ("participantJoined", "meetingStarted", "notification", *extra):
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


def _health_queue(server) -> str | None:
    try:
        body = requests.get(f"{server.url}/api/zoom/health", timeout=5).json()
    except (requests.RequestException, ValueError):
        return None
    return body["checks"]["message_queue"]


def test_losing_a_course_in_one_process_disconnects_sockets_in_the_other(pair):
    """Security item 4 across processes: the unassignment is made on A, the socket is on B."""
    a, b = pair
    admin = Api.sign_in(a)
    course = admin.post("/courses", {"code": "KICK", "zoom_meeting_ids": [OTHER]})
    ada = admin.post(
        "/instructors",
        {"email": "kick@uni.edu", "name": "Kick", "password": "kick-password"},
    )
    admin.post(f"/courses/{course['id']}/instructors", {"instructor_id": ada["id"]})
    kick = Api.sign_in(b, "kick@uni.edu", "kick-password")
    token = kick.session.headers["Authorization"].split()[1]
    kick.close()
    received: list = []
    client = _client(b, token, received)
    try:
        assert client.call("join-meeting", {"meetingId": OTHER}, timeout=10)["ok"]
        admin.call("DELETE", f"/courses/{course['id']}/instructors/{ada['id']}")
        wait_until(
            lambda: not client.connected,
            timeout=5,
            message="the other process disconnected the unassigned instructor",
        )
    finally:
        client.disconnect()
        admin.close()


@pytest.fixture(scope="module")
def outage(server_factory):
    """Two processes whose Redis goes through a proxy the test can cut."""
    require("redis")
    target = urlparse(redis_url())
    proxy = TcpProxy((target.hostname or "127.0.0.1", target.port or 6379))
    proxy.start()
    env = {"REDIS_URL": proxy.url}
    database = server_factory.database(env)
    a = server_factory.start(database_url=database, env=env)
    b = server_factory.start(database_url=database, env=env)
    yield a, b, proxy
    proxy.stop()


def test_after_a_redis_outage_dashboards_of_every_process_reload(outage):
    """Emits made during the outage are lost; once Redis is back, within seconds,
    the other process's dashboard is told to reload (``resync``) and its snapshot
    has what it missed; health said ``degraded`` meanwhile."""
    a, b, proxy = outage
    api = Api.sign_in(a)
    api.post("/courses", {"code": "OUTAGE", "zoom_meeting_ids": [str(NUMBER)]})
    token = api.session.headers["Authorization"].split()[1]
    received: list = []
    client = _client(b, token, received, extra=("resync",))
    uuid = "redis-outage=="
    try:
        assert client.call("join-meeting", {"meetingId": str(NUMBER)}, timeout=10)["ok"]
        assert wait_until(lambda: _health_queue(b) == "ok", timeout=10)
        now = datetime.now(UTC).replace(microsecond=0)
        assert send_webhook(a, started(uuid, now)) == 200
        wait_until(
            lambda: any(name == "meetingStarted" for name, _p in received),
            timeout=5,
            message="meetingStarted through Redis before the outage",
        )

        proxy.stop()
        wait_until(
            lambda: _health_queue(b) == "degraded", timeout=10, message="B degraded"
        )
        joined = participant_event(
            "meeting.participant_joined",
            "joined",
            now,
            user_id="outage-1",
            user_name="Lost Message",
            uuid=uuid,
        )
        assert send_webhook(a, joined) == 200  # stored and applied; its emit is dropped
        assert wait_until(lambda: _health_queue(a) == "degraded", timeout=10)
        time.sleep(0.5)
        assert not any(name == "participantJoined" for name, _p in received)

        restored = time.monotonic()
        proxy.start()
        wait_until(
            lambda: any(name == "resync" for name, _p in received),
            timeout=10,
            message="resync at the other process's dashboard",
        )
        assert time.monotonic() - restored < 5
        wait_until(lambda: _health_queue(a) == "ok" and _health_queue(b) == "ok", 10)
        # What the live room does on resync: join again; the snapshot has it.
        ack = client.call("join-meeting", {"meetingId": str(NUMBER)}, timeout=10)
        assert [p["name"] for p in ack["participants"]] == ["Lost Message"]
        # And live events flow again.
        received.clear()
        again = participant_event(
            "meeting.participant_joined",
            "joined",
            now,
            user_id="outage-2",
            user_name="After Outage",
            uuid=uuid,
        )
        assert send_webhook(a, again) == 200
        wait_until(
            lambda: any(name == "participantJoined" for name, _p in received),
            timeout=5,
            message="live events after the outage",
        )
    finally:
        client.disconnect()
        api.close()
    for server in (a, b):
        server.check_alive()
        assert "Traceback" not in server.output()
