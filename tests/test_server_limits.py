"""eventlet's server against slow clients: the socket timeout and the connection limit.

A real ``python app.py`` with a short ``HTTP_SOCKET_TIMEOUT_SECONDS`` and a small
``HTTP_MAX_CONNECTIONS``: half-sent requests are dropped and no longer keep
health and webhooks out, while a quiet dashboard websocket stays connected.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests
import socketio

from tests.browser import Api, send_webhook
from tests.engine_support import NUMBER, started

TIMEOUT = 1.5
CONNECTIONS = 20
#: Stops inside the headers, and inside a body that claims 500 bytes.
PARTIAL = (
    b"GET /api/zoom/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    b"POST /api/zoom/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"',
)


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory.start(
        env={
            "HTTP_SOCKET_TIMEOUT_SECONDS": str(TIMEOUT),
            "HTTP_MAX_CONNECTIONS": str(CONNECTIONS),
        }
    )


def _half_sent(server, payload: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(payload)
    return sock


def _closed_after(sock: socket.socket) -> float:
    """Seconds until the server answers or closes the connection."""
    began = time.monotonic()
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
    return time.monotonic() - began


@pytest.mark.parametrize("payload", PARTIAL, ids=["headers", "body"])
def test_server_half_sent_request_is_dropped_after_the_socket_timeout(server, payload):
    with _half_sent(server, payload) as sock:
        held = _closed_after(sock)
    assert held < TIMEOUT + 3, held
    server.check_alive()


def test_server_connection_limit_holds_and_stalled_clients_free_their_slots(
    server,
):
    """With every slot taken by a stalled client, a new request waits for the
    socket timeout to free one (the limit holds), then is served (before: the
    limit was eventlet's 1,024 and a stalled client held its slot forever)."""
    stalled = [_half_sent(server, PARTIAL[i % 2]) for i in range(CONNECTIONS)]
    try:
        time.sleep(0.3)  # every one accepted
        began = time.monotonic()
        response = requests.get(f"{server.url}/api/zoom/health", timeout=15)
        waited = time.monotonic() - began
        assert response.status_code == 200
        assert TIMEOUT / 2 < waited < TIMEOUT + 3, waited
        began = time.monotonic()
        assert send_webhook(server, started()) == 200
        assert time.monotonic() - began < TIMEOUT + 3
    finally:
        for sock in stalled:
            sock.close()
    server.check_alive()


def test_server_quiet_websocket_outlives_the_socket_timeout(server):
    """A dashboard's websocket is quiet between Engine.IO's pings (25 s): the
    socket timeout must not end it (Engine.IO sets the upgraded socket's own)."""
    api = Api.sign_in(server)
    try:
        api.post("/courses", {"code": "LIMITS", "zoom_meeting_ids": [str(NUMBER)]})
        token = api.session.headers["Authorization"].split()[1]
    finally:
        api.close()
    client = socketio.Client(reconnection=False)
    client.connect(
        server.url,
        auth={"token": token},
        transports=["websocket"],
        wait_timeout=10,
    )
    try:
        time.sleep(TIMEOUT * 3)
        assert client.connected
        answer = client.call("join-meeting", {"meetingId": str(NUMBER)}, timeout=10)
        assert answer["ok"] is True, answer
    finally:
        client.disconnect()
    server.check_alive()
