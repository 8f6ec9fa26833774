"""Socket.IO websockets are answered without permessage-deflate unless configured.

Against real ``python app.py`` servers (eventlet), with the handshake a browser
sends: it offers the extension, and eventlet would accept it.
"""

from __future__ import annotations

import base64
import os
import socket

import pytest


def _handshake(port: int) -> tuple[str, dict[str, str]]:
    """Open a Socket.IO websocket offering permessage-deflate; the status line and headers."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        "\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return head[0], headers


@pytest.mark.parametrize(
    ("setting", "deflate"), [(None, False), ("false", False), ("true", True)]
)
def test_websocket_compression_follows_the_setting(server_factory, setting, deflate):
    env = {} if setting is None else {"WEBSOCKET_COMPRESSION": setting}
    server = server_factory.start(env=env)
    status, headers = _handshake(server.port)
    assert status.startswith("HTTP/1.1 101"), (status, headers)
    offered = headers.get("sec-websocket-extensions", "")
    assert ("permessage-deflate" in offered) is deflate, headers
    server.stop()
