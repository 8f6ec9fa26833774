"""WSGI middleware that keeps websocket messages plain (no permessage-deflate)."""

from __future__ import annotations

from typing import Any


def without_websocket_compression(wsgi_app: Any) -> Any:
    """WSGI middleware: answer websocket upgrades without permessage-deflate.

    Browsers offer the extension and eventlet accepts it, after which the server
    deflates every message once per client and each client inflates it: a join
    in a room of 50 is 100 compressions of the same few hundred bytes. In
    ``bench/live.py`` (socket.io-client, which offers it as browsers do) the 50
    clients spent 9.0 s of CPU with it and 1.9 s without. Dropping the offer
    keeps the handshake standard (the extension is optional) and the messages
    plain; ``WEBSOCKET_COMPRESSION=true`` keeps it for slow links.
    """

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return wsgi_app(environ, start_response)

    return app
