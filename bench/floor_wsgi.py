"""The bare floor of ``bench/ingest.py``: verify a Zoom signature, answer 200.

A minimal WSGI app on eventlet's own WSGI server, as ``socketio.run`` serves
the real app (``eventlet.listen`` + ``eventlet.wsgi.server``, no access log),
but with no Flask, no database, no parsing: it reads the body, checks the
``x-zm-request-timestamp`` skew and the ``x-zm-signature`` HMAC over
``v0:{timestamp}:{body}`` (ZOOM.md §1, as ``attendance/zoom/signature.py``),
and answers ``200 {"status":"ok"}`` (401 otherwise). What any webhook
receiver in Python on this stack must do at least: the full intake is
measured against it.

It imports nothing from the application, so the floor is the same whichever
checkout ``bench/ingest.py --root`` serves the intake from.

    .venv/bin/python bench/floor_wsgi.py --port 8099 --secret s3cret
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import zoom_signature  # noqa: E402

#: As the app's WEBHOOK_MAX_SKEW_SECONDS default.
MAX_SKEW_SECONDS = 300
#: As ``attendance/zoom/signature.py``: more digits is not a timestamp.
_MAX_DIGITS = 15
_MILLISECONDS_THRESHOLD = 10**11
_JSON = [("Content-Type", "application/json")]
_OK = b'{"status":"ok"}'
_BAD = b'{"error":{"code":"invalid_signature","message":"signature does not match"}}'

StartResponse = Callable[..., Any]


def _verified(secret: str, timestamp: str, presented: str, body: bytes) -> bool:
    """Whether the timestamp is fresh and the signature matches (constant time)."""
    ts = timestamp.strip()
    if not ts.isascii() or not ts.isdigit() or len(ts) > _MAX_DIGITS:
        return False
    sent_at = int(ts)
    if sent_at > _MILLISECONDS_THRESHOLD:
        sent_at //= 1000
    if abs(time.time() - sent_at) > MAX_SKEW_SECONDS:
        return False
    expected = zoom_signature(secret, ts, body).encode("ascii")
    return hmac.compare_digest(expected, presented.strip().encode("ascii", "replace"))


def make_app(secret: str) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The floor WSGI app for ``secret``: POST anywhere is verified, GET is 200."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ["REQUEST_METHOD"] != "POST":
            start_response("200 OK", [*_JSON, ("Content-Length", "2")])
            return [b"{}"]  # readiness probe
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        ok = _verified(
            secret,
            environ.get("HTTP_X_ZM_REQUEST_TIMESTAMP", ""),
            environ.get("HTTP_X_ZM_SIGNATURE", ""),
            body,
        )
        payload = _OK if ok else _BAD
        status = "200 OK" if ok else "401 Unauthorized"
        start_response(status, [*_JSON, ("Content-Length", str(len(payload)))])
        return [payload]

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the floor on ``--host``:``--port`` until killed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--secret",
        default=os.environ.get("ZOOM_WEBHOOK_SECRET_TOKEN"),
        help="webhook secret (default: $ZOOM_WEBHOOK_SECRET_TOKEN)",
    )
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("--secret or ZOOM_WEBHOOK_SECRET_TOKEN is required")

    import warnings

    # As app.py: the known eventlet deprecation notice stays out of the log.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet
    import eventlet.wsgi

    sock = eventlet.listen((args.host, args.port))
    eventlet.wsgi.server(sock, make_app(args.secret), log_output=False)


if __name__ == "__main__":
    main()
