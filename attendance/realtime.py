"""Socket.IO (CONTRACT §4): who may connect, the meeting rooms, and the one place that emits.

Rooms: ``meeting:<zoom meeting number>`` for a live room, ``instructor:<id>``
for each instructor's notifications, ``admins`` for the raw webhook feed. Every
emit follows a commit (``dispatch.after_commit``), and every payload carries the
participant's whole current state and the meeting's ``events_version``, so a
client that missed or reordered messages is put right by the next one, or by
the snapshot it reloads on reconnecting.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room, leave_room
from sqlalchemy import select

from attendance.core.model import Person
from attendance.core.policy import joined_late
from attendance.extensions import db, socketio
from attendance.intake import get_intake
from attendance.models import EventStatus, Instructor, Meeting, Participant
from attendance.models.types import iso, utcnow
from attendance.services import dispatch
from attendance.services.accounts import token_owner
from attendance.services.attendance import course_policy
from attendance.services.live import (
    Changes,
    course_of,
    course_of_number,
    instructor_ids,
    live_view,
    snapshot_for_number,
    teaches,
)
from attendance.text import is_digits

log = logging.getLogger(__name__)

ADMINS = "admins"
_SESSION_KEY = "socket_instructor_id"

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


# -- connections -------------------------------------------------------------


def _caller(auth: Any) -> Instructor | None:
    """The dashboard's signed-in instructor, or the owner of ``auth={"token"}``."""
    if current_user.is_authenticated:
        return db.session.get(Instructor, current_user.id)
    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str):
        return token_owner(token)
    return None


def _me() -> Instructor | None:
    instructor_id = session.get(_SESSION_KEY)
    return db.session.get(Instructor, instructor_id) if instructor_id else None


@socketio.on("connect")
def _connect(auth: Any = None) -> None:
    person = _caller(auth)
    if person is None:
        raise ConnectionRefusedError("unauthorized: sign in or send auth={token}")
    session[_SESSION_KEY] = person.id
    join_room(instructor_room(person.id))
    if person.is_admin:
        join_room(ADMINS)


def _meeting_number(data: Any) -> int | None:
    value = data.get("meetingId") if isinstance(data, dict) else None
    text = str(value).replace(" ", "") if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not is_digits(text) or not 9 <= len(text) <= 11:
        return None
    return int(text)


@socketio.on("join-meeting")
def _join_meeting(data: Any = None) -> dict[str, Any]:
    """Join a meeting number's room; the ack is its snapshot (CONTRACT §4)."""
    person = _me()
    if person is None:
        return {"ok": False, "error": "unauthorized"}
    number = _meeting_number(data)
    if number is None:
        return {"ok": False, "error": "meetingId must be a Zoom meeting number"}
    course_id = course_of_number(number)
    # The same answer for "not yours" and "no such meeting", as the REST API's 404.
    if not teaches(person, course_id):
        return {"ok": False, "error": "no such meeting"}
    join_room(meeting_room(number))
    return {"ok": True, **snapshot_for_number(number, course_id)}


@socketio.on("leave-meeting")
def _leave_meeting(data: Any = None) -> dict[str, Any]:
    number = _meeting_number(data)
    if number is None:
        return {"ok": False, "error": "meetingId must be a Zoom meeting number"}
    leave_room(meeting_room(number))
    return {"ok": True}


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
