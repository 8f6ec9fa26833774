"""Entry point: ``flask --app app …`` for the CLI, ``python app.py`` to serve.

Serving monkey-patches with eventlet first thing, and only here: patching on
import breaks ``flask db upgrade`` and other CLI commands (../shared/STACK.md).
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    import warnings

    # Known and tracked (../shared/STACK.md): keep it out of every start-up's output.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    os.environ.setdefault("ASYNC_MODE", "eventlet")
    os.environ.setdefault("SCHEDULER_ENABLED", "true")

from attendance import create_app  # noqa: E402
from attendance.extensions import socketio  # noqa: E402

app = create_app()


def serve() -> None:
    """Run the Socket.IO server (eventlet WSGI) with the intake and the scheduler."""
    from attendance.ingest.writer import get_intake
    from attendance.jobs import start_background_scheduler
    from attendance.services.accounts import bootstrap_admin

    with app.app_context():
        bootstrap_admin(
            app.config["ATTENDANCE_ADMIN_EMAIL"],
            app.config["ATTENDANCE_ADMIN_PASSWORD"],
        )
    get_intake(app).start()
    if app.config["SCHEDULER_ENABLED"]:
        start_background_scheduler(app)
    host, port = app.config["HOST"], app.config["PORT"]
    app.logger.info("serving on http://%s:%s", host, port)
    socketio.run(
        app,
        host=host,
        port=port,
        log_output=False,
        # Passed through to eventlet.wsgi.server. Without a timeout a client
        # that stops mid-request holds its connection forever, and 1,024 such
        # (eventlet's default pool) stopped webhooks and health from being
        # accepted at all. Upgraded websockets are not cut by it: Engine.IO
        # sets their own timeout (ping interval + ping timeout, 45 s) and its
        # pings keep quiet ones alive. See the README on what a proxy must set.
        socket_timeout=app.config["HTTP_SOCKET_TIMEOUT_SECONDS"],
        max_size=app.config["HTTP_MAX_CONNECTIONS"],
    )


if __name__ == "__main__":
    serve()
