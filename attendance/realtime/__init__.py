"""Socket.IO (CONTRACT §4): who may connect, the meeting rooms, and the one place that emits.

Rooms: ``meeting:<zoom meeting number>`` for a live room, ``instructor:<id>``
for each instructor's notifications, ``admins`` for the raw webhook feed. Every
emit follows a commit (``ingest.context.batch_applied``), and every payload carries the
participant's whole current state and the meeting's ``events_version``, so a
client that missed or reordered messages is put right by the next one, or by
the snapshot it reloads on reconnecting.

``connections`` admits sockets and keeps them to what they may hear, ``rooms``
names the rooms, ``emit`` turns applied batches into events, ``broadcast``
paces those emits under load, ``packets`` reads what clients send without
raising, and ``compression`` keeps websocket messages undeflated.
"""

from __future__ import annotations

from flask import Flask

from attendance import access, message_queue, signals
from attendance.extensions import socketio
from attendance.ingest.context import batch_applied
from attendance.ingest.writer import get_intake
from attendance.realtime.broadcast import Flusher
from attendance.realtime.compression import without_websocket_compression
from attendance.realtime.connections import on_access_changed, on_control, resync
from attendance.realtime.emit import publish, publish_meetings
from attendance.realtime.packets import SafePacket
from attendance.realtime.rooms import live_rooms_open


def init_realtime(app: Flask) -> None:
    """Register the Socket.IO handlers and the after-commit emitter (once per process)."""
    if app.config.get("WEBHOOK_PROCESSING") == "background":
        app.extensions["attendance.flusher"] = Flusher(app, publish_meetings)
    get_intake(app).watched = live_rooms_open
    if not app.config.get("WEBSOCKET_COMPRESSION"):
        app.wsgi_app = without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]
    batch_applied.connect(publish)
    app.extensions["attendance.sockets"] = {}
    # Hostile packets get an error ack, not a traceback (see SafePacket).
    socketio.server.packet_class = SafePacket
    if app.config.get("REDIS_URL"):
        queue = message_queue.install(socketio, app.config["REDIS_URL"])
        queue.on_control = lambda message: on_control(app, message)
        # In a task of its own: it may be called from any emitter (the intake's
        # worker publishing the admin feed), and re-checks every socket.
        queue.on_recovered = lambda everywhere: socketio.start_background_task(
            resync, app, everywhere
        )
        app.extensions["attendance.queue"] = queue
    access.watch()
    signals.access_changed.connect(on_access_changed)
