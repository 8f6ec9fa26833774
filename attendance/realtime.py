"""Socket.IO (CONTRACT §4): who may connect, the meeting rooms, and the one place that emits.

Rooms: ``meeting:<zoom meeting number>`` for a live room, ``instructor:<id>``
for each instructor's notifications, ``admins`` for the raw webhook feed. Every
emit follows a commit (``dispatch.after_commit``), and every payload carries the
participant's whole current state and the meeting's ``events_version``, so a
client that missed or reordered messages is put right by the next one, or by
the snapshot it reloads on reconnecting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_app_context, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room, leave_room
from socketio.packet import ACK, BINARY_ACK, BINARY_EVENT, EVENT, Packet
from sqlalchemy import select

from attendance import access, message_queue, signals
from attendance.auth import authenticated_by_token, bearer_token
from attendance.core.model import Person
from attendance.core.policy import joined_late
from attendance.extensions import db, socketio
from attendance.intake import get_intake
from attendance.jsonbody import MAX_DEPTH, depth_exceeds
from attendance.message_queue import state_of as message_queue_state  # noqa: F401 - public here too
from attendance.models import EventStatus, Instructor, Meeting, Participant
from attendance.models.types import iso, utcnow
from attendance.services import dispatch
from attendance.services.accounts import token_owner
from attendance.services.live import (
    Changes,
    course_of,
    course_of_number,
    instructor_ids,
    live_view,
    snapshot_for_number,
    teaches,
)
from attendance.services.meeting_inputs import course_policy
from attendance.text import is_digits

log = logging.getLogger(__name__)

ADMINS = "admins"
#: The event a packet that could not be read becomes (see ``PacketJSON``).
MALFORMED_EVENT = "malformed-message"
#: Longer integers stay text in packets: Python refuses to convert them.
_MAX_INT_DIGITS = min(sys.get_int_max_str_digits() or 4300, 4300)
_PACKET_TYPES = range(7)  # CONNECT … BINARY_ACK

#: Zoom event -> the room event of CONTRACT §4 (participant events first).
ROOM_EVENTS = {
    "meeting.participant_joined": "participantJoined",
    "meeting.participant_jbh_joined": "participantJoined",
    "meeting.participant_left": "participantLeft",
    "meeting.participant_joined_waiting_room": "participantWaiting",
    "meeting.participant_jbh_waiting": "participantWaiting",
    "meeting.participant_admitted": "participantAdmitted",
    "meeting.participant_put_in_waiting_room": "participantMovedToWaitingRoom",
    # Leaving a waiting room may be being let in (admitted, or the host came for
    # join-before-host), not leaving: the participant's status says which.
    "meeting.participant_left_waiting_room": "participantStatusUpdate",
    "meeting.participant_jbh_waiting_left": "participantStatusUpdate",
    "meeting.participant_joined_breakout_room": "participantStatusUpdate",
    "meeting.participant_left_breakout_room": "participantStatusUpdate",
    "meeting.participant_role_changed": "participantStatusUpdate",
    "meeting.participant_updated": "participantStatusUpdate",
    "meeting.sharing_started": "sharingStarted",
    "meeting.sharing_ended": "sharingEnded",
    "recording.started": "recordingStarted",
    "recording.stopped": "recordingStopped",
    "meeting.started": "meetingStarted",
    "meeting.ended": "meetingEnded",
}


def meeting_room(number: int | str) -> str:
    return f"meeting:{number}"


def instructor_room(instructor_id: int) -> str:
    return f"instructor:{instructor_id}"


#: A large meeting's view costs milliseconds per hundred people, so under load
#: changes are gathered and emitted together: after a flush that took t seconds
#: the next one waits t * (1 / FLUSH_DUTY - 1), so the live room takes at most
#: this share of the server; never longer than FLUSH_MAX_SECONDS. A change after
#: a quiet spell goes out at once. Inline processing (tests) emits at once.
FLUSH_DUTY = 0.5
FLUSH_MAX_SECONDS = 0.1


class _Flusher:
    """Gathers notices per meeting; emits them at once, or after a pause under load."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pending: dict[str, list[dispatch.Notice]] = defaultdict(list)
        self.changes: dict[int, Changes] = defaultdict(list)
        self.task: Any = None
        self.wake: Any = None
        self.ready_at = 0.0

    def add(self, ctx: dispatch.ApplyContext) -> None:
        for meeting_id, change in ctx.changed_connections.items():
            self.changes[meeting_id].append(change)
        for notice in ctx.notices:
            self.pending[notice.meeting_uuid].append(notice)
        if self.task is None:
            self.wake = socketio.server.eio.create_event()
            self.task = socketio.start_background_task(self._loop)
        if self.pending:
            self.wake.set()

    def _loop(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            delay = self.ready_at - time.monotonic()
            if delay > 0:
                socketio.sleep(delay)
            started = time.monotonic()
            batch, self.pending = self.pending, defaultdict(list)
            changes, self.changes = self.changes, defaultdict(list)
            with self.app.app_context():
                try:
                    _publish_meetings(batch, changes)
                except Exception:  # noqa: BLE001 - the next flush must still run
                    log.exception("emitting live changes failed")
                finally:
                    db.session.remove()
                    took = time.monotonic() - started
                    pause = min(FLUSH_MAX_SECONDS, took * (1 / FLUSH_DUTY - 1))
                    self.ready_at = time.monotonic() + pause


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


def init_realtime(app: Flask) -> None:
    """Register the Socket.IO handlers and the after-commit emitter (once per process)."""
    if app.config.get("WEBHOOK_PROCESSING") == "background":
        app.extensions["attendance.flusher"] = _Flusher(app)
    get_intake(app).watched = _live_rooms_open
    if not app.config.get("WEBSOCKET_COMPRESSION"):
        app.wsgi_app = without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]
    if publish not in dispatch.after_commit:
        dispatch.after_commit.append(publish)
    app.extensions["attendance.sockets"] = {}
    # Hostile packets get an error ack, not a traceback (see SafePacket).
    socketio.server.packet_class = SafePacket
    if app.config.get("REDIS_URL"):
        queue = message_queue.install(socketio, app.config["REDIS_URL"])
        queue.on_control = lambda message: _on_control(app, message)
        # In a task of its own: it may be called from any emitter (the intake's
        # worker publishing the admin feed), and re-checks every socket.
        queue.on_recovered = lambda everywhere: socketio.start_background_task(
            _resync, app, everywhere
        )
        app.extensions["attendance.queue"] = queue
    access.watch()
    signals.access_changed.connect(_access_changed)


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
    text = str(value)[:32].replace(" ", "")
    if not is_digits(text) or not 9 <= len(text) <= 11:
        return None
    return int(text)


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


class _BoundedJSON:
    """JSON for Socket.IO packets: bounded, and never raising.

    A number longer than Python converts (``int('1' * 10000)`` raises) stays the
    text it was; a packet that is not JSON, or nests deeper than the API allows,
    reads as the event ``MALFORMED_EVENT``, whose handler answers an error ack.
    """

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return json.dumps(*args, **kwargs)

    @staticmethod
    def loads(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        try:
            value = json.loads(text, parse_int=_bounded_int)
        except (ValueError, RecursionError):
            return [MALFORMED_EVENT]
        if depth_exceeds(value, MAX_DEPTH):
            return [MALFORMED_EVENT]
        return value


def _bounded_int(text: str) -> int | str:
    return int(text) if len(text) <= _MAX_INT_DIGITS else text


class SafePacket(Packet):
    """python-socketio's packet, read so that no packet from a client can raise.

    Without it a 10,000-digit number, deep nesting, an event that is not a list
    or a bad packet header raised inside python-socketio: a traceback in the log
    and no answer. Now each is the event ``MALFORMED_EVENT`` (answered with an
    error ack when the packet asked for one).
    """

    json = _BoundedJSON

    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, TypeError, IndexError):
            self.packet_type, self.namespace, self.data = EVENT, None, None
            attachments = 0
        if self.packet_type not in _PACKET_TYPES:
            self.packet_type, self.data = EVENT, None
        if self.packet_type in (BINARY_EVENT, BINARY_ACK) and not attachments:
            # python-socketio would wait for an attachment it then refuses.
            self.packet_type = EVENT if self.packet_type == BINARY_EVENT else ACK
        if self.packet_type in (EVENT, BINARY_EVENT) and not (
            isinstance(self.data, list) and self.data and isinstance(self.data[0], str)
        ):
            self.data = [MALFORMED_EVENT]
        return attachments


# -- losing access -------------------------------------------------------------


def _access_changed(_sender: Any = None, instructor_id: Any = None, **_: Any) -> None:
    """``signals.access_changed``: re-check that instructor's sockets in every process."""
    if not isinstance(instructor_id, int) or not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    message = {"kind": "access_changed", "instructor_id": instructor_id}
    queue = app.extensions.get("attendance.queue")
    if queue is not None:
        queue.publish_control(message)  # handled here too
    else:
        _on_control(app, message)


def _on_control(app: Flask, message: dict[str, Any]) -> None:
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


def _resync(app: Flask, everywhere: bool) -> None:
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


# -- emitting ------------------------------------------------------------------


def publish(
    outcomes: Sequence[dispatch.Outcome],
    ctx: dispatch.ApplyContext,
    rows: Sequence[Any],
) -> None:
    """After a batch commits: room events, personal notifications, the admin feed."""
    _publish_admin_feed(outcomes, rows)
    flusher = current_app.extensions.get("attendance.flusher")
    if flusher is not None:
        flusher.add(ctx)
        return
    by_meeting: dict[str, list[dispatch.Notice]] = defaultdict(list)
    for notice in ctx.notices:
        by_meeting[notice.meeting_uuid].append(notice)
    changes = {m: [change] for m, change in ctx.changed_connections.items()}
    _publish_meetings(by_meeting, changes)
    db.session.rollback()  # end the read transaction the lookups opened


def _publish_meetings(
    by_meeting: dict[str, list[dispatch.Notice]], changes: dict[int, Changes]
) -> None:
    for meeting_uuid, notices in by_meeting.items():
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == meeting_uuid))
        if meeting is not None and meeting.zoom_meeting_id is not None:
            _publish_meeting(meeting, notices, changes.get(meeting.id))


def _rooms_here() -> dict[Any, Any] | None:
    """This process's rooms and their sockets; None with a message queue.

    Clients of other processes are invisible here, so callers must then assume
    that someone listens.
    """
    if current_app.config.get("REDIS_URL"):
        return None
    return socketio.server.manager.rooms.get("/", {})


def _live_rooms_open() -> bool:
    """Whether a live meeting room has a viewer."""
    rooms = _rooms_here()
    return rooms is None or any(
        members
        for name, members in rooms.items()
        if str(name).startswith(meeting_room(""))
    )


def _listened(rooms: Sequence[str]) -> bool:
    """Whether anyone may hear an emit to ``rooms``.

    Alone, skip the work (a large meeting's view costs milliseconds) when no
    connected socket is in any of them.
    """
    here = _rooms_here()
    return here is None or any(here.get(room) for room in rooms)


def _publish_meeting(
    meeting: Meeting,
    notices: list[dispatch.Notice],
    meeting_changes: list[tuple[int, set[int]]] | None = None,
) -> None:
    teachers = instructor_ids(meeting.course_id)
    number = str(meeting.zoom_meeting_id)
    room = meeting_room(number)
    if not _listened([room, *(instructor_room(t) for t in teachers)]):
        return
    view = live_view(meeting, changes=meeting_changes)
    course = course_of(meeting)
    keys = {n.connection_key for n in notices if n.connection_key}
    connection_ids = dict(
        db.session.execute(
            select(Participant.user_key, Participant.id).where(
                Participant.meeting_id == meeting.id, Participant.user_key.in_(keys)
            )
        ).all()
        if keys
        else []
    )
    now = iso(view.at)
    for notice in notices:
        name = ROOM_EVENTS.get(notice.event)
        if name is None:
            continue
        connection_id = (
            connection_ids.get(notice.connection_key[:255])
            if notice.connection_key
            else None
        )
        person = view.person(connection_id)
        participant = view.participant(connection_id)
        payload = {
            "meetingId": number,
            "meetingUuid": meeting.uuid,
            "participant": participant,
            "statistics": view.statistics,
            "ts": now,
            "version": meeting.events_version,
        }
        socketio.emit(name, payload, to=room)
        if participant is not None:
            change = {
                "meetingId": number,
                "meetingUuid": meeting.uuid,
                "event": name,
                "participantId": participant["id"],
                "name": participant["name"],
                "status": participant["status"],
                "studentId": participant["student_id"],
                "ts": now,
            }
            for teacher in teachers:
                socketio.emit("participantUpdate", change, to=instructor_room(teacher))
        message = _notification(meeting, course, name, person)
        if message is not None:
            kind, text = message
            notify(teachers, kind, text, number)
    # The batch touched an ended meeting: _after_batch regenerated its attendance.
    if meeting.effective_end is not None and meeting.course_id is not None:
        socketio.emit(
            "attendanceGenerated",
            {
                "meetingId": number,
                "meetingUuid": meeting.uuid,
                "participant": None,
                "statistics": view.statistics,
                "ts": now,
                "version": meeting.events_version,
            },
            to=room,
        )


def _notification(
    meeting: Meeting, course: Any, name: str, person: Person | None
) -> tuple[str, str] | None:
    """(kind, message) when an event deserves the instructor's attention."""
    topic = meeting.topic or f"Meeting {meeting.zoom_meeting_id}"
    if name == "meetingStarted":
        return "meeting_started", f"{topic} started"
    if name == "meetingEnded":
        return "meeting_ended", f"{topic} ended; attendance is ready"
    if person is None:
        return None
    who = person.name or "Someone"
    if name == "participantWaiting" and person.student_pk is None:
        return "guest_waiting", f"{who} (not on the roster) is in the waiting room"
    if (
        name == "participantJoined"
        and person.student_pk is not None
        and person.sessions == 1
        and _late(meeting, course, person)
    ):
        return "late_join", f"{who} joined late"
    return None


def _late(meeting: Meeting, course: Any, person: Person) -> bool:
    if course is None or meeting.start_time is None:
        return False
    return joined_late(person.first_join, meeting.start_time, course_policy(course))


def notify(
    instructor_ids_: Sequence[int], kind: str, message: str, meeting_id: str | None
) -> None:
    """A ``notification`` to each instructor's own room."""
    body = {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "message": message,
        "meetingId": meeting_id,
        "created_at": iso(utcnow()),
    }
    for instructor_id in instructor_ids_:
        socketio.emit("notification", body, to=instructor_room(instructor_id))


def _publish_admin_feed(
    outcomes: Sequence[dispatch.Outcome], rows: Sequence[Any]
) -> None:
    """Every applied event to the admins, and a notification for each failure."""
    if not _listened([ADMINS]):
        return
    status = {o.id: o for o in outcomes}
    for row in rows:
        outcome = status.get(row.id)
        try:
            body = json.loads(row.body)
        except ValueError:
            body = None
        socketio.emit(
            "zoomWebhook",
            {
                "id": row.id,
                "event": row.event,
                "status": outcome.status.value if outcome else None,
                "payload": body,
            },
            to=ADMINS,
        )
        if outcome is not None and outcome.status is EventStatus.FAILED:
            socketio.emit(
                "notification",
                {
                    "id": uuid.uuid4().hex,
                    "kind": "event_failed",
                    "message": f"event {row.id} ({row.event}) failed: {outcome.error}",
                    "meetingId": None,
                    "created_at": iso(utcnow()),
                },
                to=ADMINS,
            )
