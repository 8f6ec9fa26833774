"""The real server plus one bare route, ``POST /bench/floor``, for ``bench/ingest.py``.

Started exactly as ``python app.py`` starts (keep the prologue below in step
with ``app.py``'s): eventlet's monkey patch first thing, then ``app.py`` itself
is imported (``create_app`` at module level) and its ``serve()`` runs (intake
writer and worker, eventlet WSGI via ``socketio.run``).
The only difference is the extra route, which reads the raw body, verifies the
signature with the route's own function and answers 200: the floor that the
full intake is compared with, on the same process, stack and configuration.

Configuration comes from the environment, as for ``app.py`` (HOST, PORT,
DATABASE_URL, ZOOM_WEBHOOK_SECRET_TOKEN, LOG_LEVEL, SCHEDULER_ENABLED, ...).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    import warnings

    # As app.py: the known eventlet deprecation notice stays out of the log.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    os.environ.setdefault("ASYNC_MODE", "eventlet")
    os.environ.setdefault("SCHEDULER_ENABLED", "true")

from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import time  # noqa: E402

from flask import Flask, current_app, jsonify, request  # noqa: E402

from attendance.errors import InvalidSignature  # noqa: E402
from attendance.zoom import signature  # noqa: E402

FLOOR_PATH = "/bench/floor"


def floor():
    """Verify the signature over the raw body with the real route's code, answer 200."""
    body = request.get_data(cache=True)
    config = current_app.config
    try:
        signature.verify(
            config["ZOOM_WEBHOOK_SECRETS"],
            request.headers.get("x-zm-signature"),
            request.headers.get("x-zm-request-timestamp"),
            body,
            now=time.time(),
            max_skew=config["WEBHOOK_MAX_SKEW_SECONDS"],
        )
    except InvalidSignature as exc:
        error = {"code": "invalid_signature", "message": str(exc)}
        return jsonify({"error": error}), 401
    return jsonify({"status": "ok"})


def add_floor_route(app: Flask) -> None:
    """Register ``POST /bench/floor`` on ``app`` (CSRF-exempt if CSRF is installed)."""
    app.add_url_rule(FLOOR_PATH, "bench_floor", floor, methods=["POST"])
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(floor)


def main() -> None:
    """Import ``app.py`` (which builds the app), add the floor route, ``serve()``."""
    import app as app_module

    add_floor_route(app_module.app)
    app_module.serve()


if __name__ == "__main__":
    main()
