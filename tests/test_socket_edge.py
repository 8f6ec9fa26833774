"""Socket.IO's edge against a real ``python app.py`` (eventlet): the Origin check
(issue 10, security item 1) and hostile packets, written byte by byte."""

from __future__ import annotations

import json

import pytest
import socketio
import websocket

from tests.browser import Api
from tests.engine_support import NUMBER

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def edge(live_server):
    api = Api.sign_in(live_server)
    api.post("/courses", {"code": "EDGE", "zoom_meeting_ids": [str(NUMBER)]})
    token = api.session.headers["Authorization"].split()[1]
    yield live_server, api, token
    api.close()


def _connect(server, token, origin=None, **options):
    """A python-socketio client; websocket-client sends ``origin`` as the Origin."""
    client = socketio.Client(
        reconnection=False, websocket_extra_options={"origin": origin or server.url}
    )
    client.connect(
        server.url,
        auth={"token": token},
        transports=["websocket"],
        wait_timeout=10,
        **options,
    )
    return client


def test_socket_origin_foreign_websocket_is_refused(edge):
    server, api, token = edge
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(server, token, origin=EVIL)
    # The browser's session cookie does not help either.
    cookie = "; ".join(f"{k}={v}" for k, v in api.session.cookies.items())
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(
            server,
            token,
            headers={"Cookie": cookie},
            origin=EVIL,
        )
    server.check_alive()


def test_socket_origin_foreign_polling_is_refused(edge):
    server, _api, _token = edge
    import requests

    url = f"{server.url}/socket.io/?EIO=4&transport=polling"
    assert requests.get(url, headers={"Origin": EVIL}, timeout=5).status_code == 400
    same = requests.get(url, headers={"Origin": server.url}, timeout=5)
    assert same.status_code == 200


def test_socket_origin_same_origin_joins(edge):
    server, _api, token = edge
    client = _connect(server, token, origin=server.url)
    try:
        ack = client.call("join-meeting", {"meetingId": str(NUMBER)}, timeout=10)
        assert ack["ok"] is True
    finally:
        client.disconnect()


def test_socket_origin_behind_a_proxy_is_the_public_one(edge):
    """A proxy that forwards the public host and scheme (engineio reads them)."""
    server, _api, token = edge
    client = _connect(
        server,
        token,
        headers={"X-Forwarded-Host": "attend.example", "X-Forwarded-Proto": "https"},
        origin="https://attend.example",
    )
    client.disconnect()


class RawSocket:
    """Socket.IO v5 over Engine.IO v4 by hand: what a hostile script can send."""

    def __init__(self, server, token: str) -> None:
        url = server.url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{url}/socket.io/?EIO=4&transport=websocket", timeout=10
        )
        assert self.ws.recv().startswith("0")  # Engine.IO open
        self.ws.send("40" + json.dumps({"token": token}))
        assert self._next().startswith("40")
        self.ack_id = 0

    def _next(self) -> str:
        while True:
            frame = self.ws.recv()
            if frame == "2":  # ping
                self.ws.send("3")
                continue
            return frame

    def call(self, body: str) -> list:
        """Send ``42<id><body>``; the ack's arguments."""
        self.ack_id += 1
        self.ws.send(f"42{self.ack_id}{body}")
        while True:
            frame = self._next()
            prefix = f"43{self.ack_id}"
            if frame.startswith(prefix):
                return json.loads(frame[len(prefix) :])

    def close(self) -> None:
        self.ws.close()


HOSTILE = [
    '["join-meeting",{"meetingId":' + "9" * 10_000 + "}]",
    '["join-meeting",{"meetingId":"' + "9" * 10_000 + '"}]',
    '["join-meeting",' + "[" * 5000 + "]" * 5000 + "]",
    '["join-meeting",{"meetingId":' + "[" * 100 + "]" * 100 + "}]",
    '["join-meeting"',
    '["join-meeting",{"meetingId":"' + "x" * 500_000 + '"}]',
    '["join-meeting",{"meetingId":1e999}]',
    '["join-meeting",{"meetingId":NaN}]',
    '["join-meeting",{"meetingId":"\\ud800"}]',
    '["join-meeting",{}]',
    '["join-meeting",null]',
    '["join-meeting",1,2,3]',
    '["join-meeting"]',
    '["leave-meeting",{"meetingId":' + "9" * 10_000 + "}]",
    '["leave-meeting","x"]',
    '{"not":"a list"}',
    '["x"]',
]


def test_socket_hostile_packets_get_error_acks(edge):
    server, _api, token = edge
    for body in HOSTILE:
        raw = RawSocket(server, token)  # a fresh allowance of joins for each
        try:
            if body == '["x"]':
                raw.ws.send("42" + body)  # no such event: ignored, no ack
                continue
            (ack,) = raw.call(body)
            assert ack["ok"] is False, (body[:60], ack)
            assert ack["error"] not in ("too many requests", "internal error"), ack
            # The socket still works afterwards.
            (ack,) = raw.call(json.dumps(["join-meeting", {"meetingId": str(NUMBER)}]))
            assert ack["ok"] is True
        finally:
            raw.close()
    raw = RawSocket(server, token)
    try:
        # Frames no client library would send: bad types, headers, namespaces.
        for frame in (
            "49",
            "4x",
            "42" + "9" * 200 + "[]",
            "45-",
            "46-",
            "42/x,[]",
            "43[]",
        ):
            raw.ws.send(frame)
        (ack,) = raw.call(json.dumps(["join-meeting", {"meetingId": str(NUMBER)}]))
        assert ack["ok"] is True
    finally:
        raw.close()
    server.check_alive()
    log = server.output()
    assert "Traceback" not in log and "handler error" not in log, log[-3000:]


def test_socket_origin_listed_origins_replace_the_same_origin(database_url):
    """``SOCKETIO_ALLOWED_ORIGINS``: exactly those origins (list the dashboard's own)."""
    from tests.conftest import make_test_app

    app = make_test_app(database_url, SOCKETIO_ALLOWED_ORIGINS=["https://dash.example"])
    client = app.test_client()
    url = "/socket.io/?EIO=4&transport=polling"
    listed = client.get(url, headers={"Origin": "https://dash.example"})
    assert listed.status_code == 200
    assert client.get(url, headers={"Origin": EVIL}).status_code == 400
    # Unset (or empty): the same origin only; never "anyone", as [] was.
    for setting in (None, []):
        app = make_test_app(database_url, SOCKETIO_ALLOWED_ORIGINS=setting)
        client = app.test_client()
        assert client.get(url, headers={"Origin": EVIL}).status_code == 400
        same = client.get(url, headers={"Origin": "http://localhost"})
        assert same.status_code == 200


def test_message_queue_state_without_redis_is_disabled(app):
    from attendance.message_queue import state_of

    assert state_of(app) == "disabled"
