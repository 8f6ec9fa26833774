"""Socket.IO websockets are answered without permessage-deflate unless configured.

Against real ``python app.py`` servers (eventlet), with the handshake a browser
sends: it offers the extension, and eventlet would accept it.
"""

from __future__ import annotations

import pytest
import websocket  # websocket-client, python-socketio's own client transport

OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"


def _accepted_extensions(port: int) -> str:
    """Open a Socket.IO websocket offering permessage-deflate; what the server accepted."""
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
        header=[OFFER],
        timeout=10,
    )
    try:
        assert ws.getstatus() == 101
        return (ws.getheaders() or {}).get("sec-websocket-extensions", "")
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("setting", "deflate"), [(None, False), ("false", False), ("true", True)]
)
def test_websocket_compression_follows_the_setting(server_factory, setting, deflate):
    env = {} if setting is None else {"WEBSOCKET_COMPRESSION": setting}
    server = server_factory.start(env=env)
    assert ("permessage-deflate" in _accepted_extensions(server.port)) is deflate
    server.stop()
