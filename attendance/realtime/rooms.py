"""Socket.IO room names, and whether anyone connected to this process is in them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app

from attendance.extensions import socketio

#: Every admin's sockets: the raw webhook feed.
ADMINS = "admins"


def meeting_room(number: int | str) -> str:
    """The live room of a Zoom meeting number."""
    return f"meeting:{number}"


def instructor_room(instructor_id: int) -> str:
    """An instructor's own room: their notifications and change records."""
    return f"instructor:{instructor_id}"


def _rooms_here() -> dict[Any, Any] | None:
    """This process's rooms and their sockets; None with a message queue.

    Clients of other processes are invisible here, so callers must then assume
    that someone listens.
    """
    if current_app.config.get("REDIS_URL"):
        return None
    return socketio.server.manager.rooms.get("/", {})


def live_rooms_open() -> bool:
    """Whether a live meeting room has a viewer."""
    rooms = _rooms_here()
    return rooms is None or any(
        members
        for name, members in rooms.items()
        if str(name).startswith(meeting_room(""))
    )


def anyone_in_a_meeting_or_instructor_room() -> bool:
    """Whether a live room or an instructor's room has a socket (always, with a queue).

    Checked before a batch's meetings are even loaded: alone with nobody
    watching, the room events cost nothing.
    """
    rooms = _rooms_here()
    prefixes = (meeting_room(""), "instructor:")
    return rooms is None or any(
        members for name, members in rooms.items() if str(name).startswith(prefixes)
    )


def listened(rooms: Sequence[str]) -> bool:
    """Whether anyone may hear an emit to ``rooms``.

    Alone, skip the work (a large meeting's view costs milliseconds) when no
    connected socket is in any of them.
    """
    here = _rooms_here()
    return here is None or any(here.get(room) for room in rooms)
