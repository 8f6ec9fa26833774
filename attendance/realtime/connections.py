"""Socket connections: who may connect and join which room, and losing that right.

A socket is admitted with the dashboard's session or an API token (CONTRACT §4)
and joins its instructor's room (and ``admins``); ``join-meeting`` checks the
credential and the course again each time. When access changes, in this or
any process, the instructor's sockets are re-checked and lose what they may no
longer hear.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_app_context, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room, leave_room

from attendance.auth import authenticated_by_token, bearer_token
from attendance.extensions import db, socketio
from attendance.models import Instructor
from attendance.models.types import iso, utcnow
from attendance.realtime.packets import MALFORMED_EVENT
from attendance.realtime.rooms import ADMINS, instructor_room, meeting_room
from attendance.services.accounts import token_owner
from attendance.services.live import course_of_number, snapshot_for_number, teaches
from attendance.text import is_digits
from attendance.zoom.meeting_numbers import meeting_number_digits

log = logging.getLogger(__name__)


# -- connections -------------------------------------------------------------


#: ``join-meeting`` per socket: a burst of this many, then one per JOIN_INTERVAL.
#: The live room joins on connect, on a new instance and after an outage.
JOIN_BURST = 5
JOIN_INTERVAL_SECONDS = 1.0


@dataclass(slots=True)
class _Grant:
    """What a socket was allowed at connect, and how to check it still is."""

    instructor_id: int
    is_admin: bool
    #: The API token it connected with (re-checked: revoked means gone), or None
    #: for the dashboard's session, checked by the account's ``auth_version``.
    token: str | None
    auth_version: int
    allowance: float = JOIN_BURST
    checked_at: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        """One ``join-meeting`` from the socket's token bucket; False when empty."""
        now = time.monotonic()
        self.allowance = min(
            JOIN_BURST, self.allowance + (now - self.checked_at) / JOIN_INTERVAL_SECONDS
        )
        self.checked_at = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True


def _sockets(app: Flask | None = None) -> dict[str, _Grant]:
    """This process's connected sockets (sid -> grant)."""
    return (app or current_app).extensions["attendance.sockets"]


def _caller(auth: Any) -> tuple[Instructor, str | None] | None:
    """The dashboard's signed-in instructor, or the owner of ``auth={"token"}``."""
    if current_user.is_authenticated:
        person = db.session.get(Instructor, current_user.id)
        if person is None:
            return None
        # Signed in by an ``Authorization: Bearer`` header rather than a cookie:
        # the grant is that token, so revoking it ends the socket too.
        return person, bearer_token() if authenticated_by_token() else None
    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str):
        person = token_owner(token)
        return (person, token) if person is not None else None
    return None


def _holder(grant: _Grant) -> Instructor | None:
    """The instructor behind ``grant`` if its credential still works, else None."""
    if grant.token is not None:
        person = token_owner(grant.token)
    else:
        person = db.session.get(Instructor, grant.instructor_id)
        if person is not None and person.auth_version != grant.auth_version:
            person = None
    return person if person is not None and person.id == grant.instructor_id else None


@socketio.on("connect")
def _connect(auth: Any = None) -> None:
    caller = _caller(auth)
    if caller is None:
        raise ConnectionRefusedError("unauthorized: sign in or send auth={token}")
    person, token = caller
    _sockets()[request.sid] = _Grant(
        person.id, bool(person.is_admin), token, person.auth_version or 0
    )
    join_room(instructor_room(person.id))
    if person.is_admin:
        join_room(ADMINS)


@socketio.on("disconnect")
def _disconnect(*_reason: Any) -> None:
    _sockets().pop(request.sid, None)


def _meeting_number(data: Any) -> int | None:
    """The Zoom meeting number in ``{"meetingId"}``; None for anything else."""
    value = data.get("meetingId") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    # Bounded before str(): int -> str of a huge number raises, and long text is
    # not a meeting number anyway.
    if isinstance(value, int) and not 0 < value < 10**12:
        return None
    digits = meeting_number_digits(str(value)[:32])
    return int(digits) if digits is not None else None


_NOT_A_NUMBER = {"ok": False, "error": "meetingId must be a Zoom meeting number"}


@socketio.on("join-meeting")
def _join_meeting(data: Any = None, *_extra: Any) -> dict[str, Any]:
    """Join a meeting number's room; the ack is its snapshot (CONTRACT §4).

    The socket's credential and the course assignment are checked again on
    every join: a token revoked or a course unassigned since connecting counts.
    """
    grant = _sockets().get(request.sid)
    if grant is None:
        return {"ok": False, "error": "unauthorized"}
    if not grant.take():
        return {"ok": False, "error": "too many requests"}
    number = _meeting_number(data)
    if number is None:
        return dict(_NOT_A_NUMBER)
    person = _holder(grant)
    if person is None:
        _leave_everything(request.sid)
        return {"ok": False, "error": "unauthorized"}
    if grant.is_admin and not person.is_admin:
        grant.is_admin = False
        leave_room(ADMINS)
    course_id = course_of_number(number)
    # The same answer for "not yours" and "no such meeting", as the REST API's 404.
    if not teaches(person, course_id):
        leave_room(meeting_room(number))
        return {"ok": False, "error": "no such meeting"}
    join_room(meeting_room(number))
    return {"ok": True, **snapshot_for_number(number, course_id)}


@socketio.on("leave-meeting")
def _leave_meeting(data: Any = None, *_extra: Any) -> dict[str, Any]:
    number = _meeting_number(data)
    if number is None:
        return dict(_NOT_A_NUMBER)
    leave_room(meeting_room(number))
    return {"ok": True}


@socketio.on(MALFORMED_EVENT)
def _malformed(*_args: Any) -> dict[str, Any]:
    """A packet SafePacket could not read (bad JSON, too deep): answered, not logged."""
    return {"ok": False, "error": "malformed message"}


@socketio.on_error_default
def _failed(exc: Exception) -> Any:
    """A handler raised: one log line and an error ack (a refusal for ``connect``)."""
    event = getattr(request, "event", None) or {}
    log.error(
        "socket.io %s failed: %s: %s",
        str(event.get("message"))[:64],
        type(exc).__name__,
        str(exc).splitlines()[0][:200] if str(exc) else "",
    )
    with contextlib.suppress(Exception):  # the database may be what failed
        db.session.rollback()
    if event.get("message") == "connect":
        return False
    return {"ok": False, "error": "internal error"}


# -- losing access -------------------------------------------------------------


def on_access_changed(_sender: Any = None, instructor_id: Any = None, **_: Any) -> None:
    """``signals.access_changed``: re-check that instructor's sockets in every process."""
    if not isinstance(instructor_id, int) or not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    message = {"kind": "access_changed", "instructor_id": instructor_id}
    queue = app.extensions.get("attendance.queue")
    if queue is not None:
        queue.publish_control(message)  # handled here too
    else:
        on_control(app, message)


def on_control(app: Flask, message: dict[str, Any]) -> None:
    """A control message from any process (``message_queue``)."""
    if message.get("kind") != "access_changed":
        return
    instructor_id = message.get("instructor_id")
    sids = [
        sid
        for sid, grant in list(_sockets(app).items())
        if grant.instructor_id == instructor_id
    ]
    if sids:
        _recheck(app, sids)


def _recheck(app: Flask, sids: Sequence[str]) -> None:
    """Take from each socket what its instructor may no longer have.

    A credential that stopped working (token revoked, password changed, signed
    out, account deleted) or a meeting room of a course no longer theirs ends
    the connection (the live room reconnects and asks again); lost admin rights
    leave the raw webhook feed.
    """
    server = socketio.server
    with app.app_context():
        try:
            for sid in sids:
                grant = _sockets(app).get(sid)
                if grant is None:
                    continue
                person = _holder(grant)
                if person is None or not _may_stay(person, server.rooms(sid)):
                    server.disconnect(sid, namespace="/", ignore_queue=True)
                    continue
                if grant.is_admin and not person.is_admin:
                    grant.is_admin = False
                    server.leave_room(sid, ADMINS, namespace="/")
        finally:
            db.session.remove()


def _may_stay(person: Instructor, rooms: Sequence[str]) -> bool:
    """Whether ``person`` may still watch every meeting room in ``rooms``."""
    prefix = meeting_room("")
    for room in rooms:
        if isinstance(room, str) and room.startswith(prefix):
            number = room[len(prefix) :]
            if not is_digits(number) or not teaches(
                person, course_of_number(int(number))
            ):
                return False
    return True


def _leave_everything(sid: str) -> None:
    """Leave every room but the socket's own: it no longer hears anything."""
    for room in socketio.server.rooms(sid):
        if room != sid:
            leave_room(room)


# -- outages of the message queue -----------------------------------------------


def resync(app: Flask, everywhere: bool) -> None:
    """The queue works again after an outage: every dashboard that may have missed
    messages reloads its snapshot (``resync``), and sockets are re-checked, since
    a loss of access announced during the outage may not have arrived.

    ``everywhere``: this process dropped emits, so other processes' clients are
    told too (through the queue); otherwise only this process's clients missed
    anything.
    """
    _recheck(app, list(_sockets(app)))
    body = {"reason": "message queue recovered", "ts": iso(utcnow())}
    if everywhere:
        socketio.emit("resync", body)
    else:
        socketio.emit("resync", body, ignore_queue=True)
