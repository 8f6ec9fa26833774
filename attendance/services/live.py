"""What the live room shows: a meeting's participants now, and its statistics.

One service serves the Socket.IO ``join-meeting`` snapshot, the events emitted
after each batch, and ``GET /api/zoom/meeting/<id>/live-participants``, so the
three can never disagree. Participants are persons (connections merged, CONTRACT
§5.2) as ``core.compute`` derives them, with attended time as of now.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, func, select

from attendance.core import intervals as iv
from attendance.core.model import MeetingResult, Person, Presence, Student
from attendance.extensions import db
from attendance.models import (
    Course,
    Meeting,
    ParticipantEvent,
    course_instructors,
)
from attendance.models.meeting import MeetingStatus
from attendance.models.types import EPOCH, from_micros, iso, utcnow
from attendance.services import meeting_cache
from attendance.services.courses import course_for_meeting_number, visible_course
from attendance.services.generation import compute_persons
from attendance.services.meeting_inputs import meeting_roster, roster_now
from attendance.services.reports import meeting_json


class LiveView:
    """A meeting's persons now, their Participant JSON on demand, and the statistics."""

    def __init__(
        self,
        meeting: Meeting,
        result: MeetingResult,
        roster: Sequence[Student],
        at: datetime,
        until: datetime | None,
    ) -> None:
        self.meeting = meeting
        self.at = at
        self._until = until
        self._roster = roster
        self._student_ids = {s.pk: s.student_id for s in roster}
        self._persons = result.persons
        #: When the class began, as judged: S' of a scheduled class (§5.9), else S.
        self.start = result.window.start if result.window is not None else result.start
        self._by_connection = {
            pk: person for person in result.persons for pk in person.connection_pks
        }
        self._json: dict[int, dict[str, Any]] = {}
        self.statistics = statistics(result.persons, len(roster))

    def person(self, connection_pk: int | None) -> Person | None:
        """The person a connection belongs to (None if unknown)."""
        return self._by_connection.get(connection_pk) if connection_pk else None

    def participant(self, connection_pk: int | None) -> dict[str, Any] | None:
        """The Participant (CONTRACT §4) a connection belongs to (None if unknown)."""
        person = self.person(connection_pk)
        if person is None:
            return None
        made = self._json.get(person.pk)
        if made is None:
            made = participant_json(person, self._student_ids, self._until)
            self._json[person.pk] = made
        return made

    @property
    def roster(self) -> list[dict[str, Any]]:
        """The roster as the snapshot lists it (only snapshots need it)."""
        return roster_json(self._roster)

    @property
    def participants(self) -> list[dict[str, Any]]:
        return [self.participant(p.connection_pks[0]) for p in self._persons]  # type: ignore[misc]

    def snapshot(self) -> dict[str, Any]:
        """The shape of ``join-meeting``'s ack and of the live-participants answer."""
        return {
            "meeting": meeting_json(
                self.meeting,
                self.statistics["total"] if self._until is not None else None,
            ),
            "participants": self.participants,
            "statistics": self.statistics,
            "roster": self.roster,
            "version": self.meeting.events_version,
            "ts": iso(self.at),
        }


def latest_instance(zoom_meeting_id: int) -> Meeting | None:
    """The live instance of a meeting number, else its latest one (None before the first)."""
    return db.session.scalar(
        select(Meeting)
        .where(Meeting.zoom_meeting_id == zoom_meeting_id)
        .order_by(
            case((Meeting.status == MeetingStatus.LIVE, 0), else_=1),
            Meeting.start_time.desc(),
            Meeting.id.desc(),
        )
        .limit(1)
    )


def teaches(instructor: Any, course_id: int | None) -> bool:
    """Whether ``instructor`` may watch meetings of ``course_id`` (admins: any course)."""
    if course_id is None:
        return bool(instructor.is_admin)
    return visible_course(instructor, course_id) is not None


def instructor_ids(course_id: int | None) -> list[int]:
    """Who teaches the course (their personal rooms receive its notifications)."""
    if course_id is None:
        return []
    return list(
        db.session.scalars(
            select(course_instructors.c.instructor_id).where(
                course_instructors.c.course_id == course_id
            )
        )
    )


def course_of_number(number: int) -> int | None:
    """The course a meeting number belongs to (or its instances were linked to)."""
    course_id = course_for_meeting_number(number)
    if course_id is None:
        course_id = db.session.scalar(
            select(Meeting.course_id)
            .where(Meeting.zoom_meeting_id == number, Meeting.course_id.is_not(None))
            .limit(1)
        )
    return course_id


def course_of(meeting: Meeting) -> Course | None:
    return db.session.get(Course, meeting.course_id) if meeting.course_id else None


#: A live meeting is derived up to this far end, so each connection's derivation
#: (kept in ``meeting_cache``) stays valid from one view to the next; the time
#: attended is then cut at now.
_HORIZON = datetime(9999, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def live_view(
    meeting: Meeting,
    now: datetime | None = None,
    changes: meeting_cache.Changes | None = None,
) -> LiveView:
    """Everyone seen in ``meeting`` with where they are now, and the counts above the room.

    ``changes``: what this process's batches changed since the last view (lets a
    live meeting reload only those connections).
    """
    now = max(now or utcnow(), _latest_event_time(meeting))
    roster = meeting_roster(meeting)
    if meeting.effective_end is None:
        entry = meeting_cache.connections(meeting, changes or [], staged=False)
        result = compute_persons(
            meeting,
            _HORIZON,
            entry.derivations,
            connections=list(entry.connections.values()),
            roster=roster,
        )
        _remember(meeting, entry.version, roster, result)
        until: datetime | None = now
    else:
        version = _version(meeting)
        result = compute_persons(meeting, now, roster=roster)
        _remember(meeting, version, roster, result)
        until = None
    return LiveView(meeting, result, roster, now, until)


def _version(meeting: Meeting) -> int:
    """The meeting's ``events_version`` as committed now (the object may be older)."""
    return db.session.scalars(
        select(Meeting.events_version).where(Meeting.id == meeting.id)
    ).one()


#: A live meeting's persons are computed to the horizon, so they stay right until
#: its events change (its ``events_version``) or its roster does; only the time
#: attended is cut at "now", when the JSON is made. An ended meeting's stay right
#: while its events, end and roster do. Snapshots reuse them for at most this
#: long (a manual match changes persons without a new version).
SNAPSHOT_REUSE_SECONDS = 2.0


class _Kept(NamedTuple):
    uuid: str
    version: int
    end: datetime | None
    roster: Sequence[Student]
    result: MeetingResult
    at: float


#: meeting id -> the persons last computed for it, and what they depend on.
_persons: dict[int, _Kept] = {}
_PERSONS_KEPT = 256


def _remember(
    meeting: Meeting, version: int, roster: Sequence[Student], result: MeetingResult
) -> None:
    if len(_persons) >= _PERSONS_KEPT:
        _persons.clear()
    _persons[meeting.id] = _Kept(
        meeting.uuid, version, meeting.effective_end, roster, result, time.monotonic()
    )


def _reused_view(meeting: Meeting) -> LiveView | None:
    """The meeting's view from persons computed since its last change, if any.

    ``join-meeting`` asks for snapshots at the rate of clients; a meeting that
    has not changed is not computed again for each of them (issue 10).
    """
    kept = _persons.get(meeting.id)
    if (
        kept is None
        or time.monotonic() - kept.at > SNAPSHOT_REUSE_SECONDS
        or kept.uuid != meeting.uuid
        or kept.end != meeting.effective_end
        or kept.version != _version(meeting)
        # The roster cache hands out the same list while the roster is unchanged.
        or meeting_roster(meeting) is not kept.roster
    ):
        return None
    now = max(utcnow(), _latest_event_time(meeting))
    until = now if meeting.effective_end is None else None
    return LiveView(meeting, kept.result, kept.roster, now, until)


def _latest_event_time(meeting: Meeting) -> datetime:
    """Just after the newest participant event's own time: "now" is never earlier.

    Zoom's clock may run ahead of ours; clipping a live meeting at our now would
    hide the connections it reported last (an interval that opened at "now" is
    empty, so "now" is one microsecond later: attended seconds are unchanged).
    """
    latest = db.session.scalar(
        select(func.max(ParticipantEvent.at_us)).where(
            ParticipantEvent.meeting_id == meeting.id
        )
    )
    return from_micros(latest + 1) if latest is not None else EPOCH


def roster_json(roster: Sequence[Student]) -> list[dict[str, Any]]:
    """The course's students, by name: the live room lists those not seen yet."""
    return [
        {
            "student_pk": s.pk,
            "student_id": s.student_id,
            "first_name": s.first_name,
            "last_name": s.last_name,
        }
        for s in roster
    ]


def participant_json(
    person: Person, student_ids: dict[int, str], until: datetime | None = None
) -> dict[str, Any]:
    """A Participant (CONTRACT §4); ``until``: a live meeting's now (time is cut there)."""
    attended, last_leave = person.attended_seconds, person.last_leave
    if until is not None:
        spans = iv.clip(person.intervals, EPOCH, until)
        attended = iv.total(spans) // _SECOND
        # Still connected: no leave yet.
        last_leave = spans[-1].end if spans and spans[-1].end < until else None
    return {
        "id": person.pk,
        "name": person.name,
        "email": person.email,
        "student_pk": person.student_pk,
        "student_id": student_ids.get(person.student_pk)
        if person.student_pk is not None
        else None,
        "role": person.role,
        "status": person.presence.value,
        "first_join": iso(person.first_join),
        "last_leave": iso(last_leave),
        "attended_seconds": attended,
        "sessions": person.sessions,
        "audio": person.audio,
        "video": person.video,
        "sharing": person.sharing,
        "in_breakout_room": person.in_breakout_room,
        "matched_by": person.matched_by.value if person.matched_by else None,
    }


def statistics(persons: Sequence[Person], roster_size: int) -> dict[str, int]:
    """Counts for the top of the live room; the host is not counted."""
    people = [p for p in persons if not p.is_host]
    where = [p.presence for p in people]
    present = {
        p.student_pk
        for p in people
        if p.student_pk is not None and p.presence is Presence.IN_MEETING
    }
    seen = {p.student_pk for p in people if p.student_pk is not None}
    return {
        "total": len(people),
        "in_meeting": where.count(Presence.IN_MEETING),
        "in_waiting_room": where.count(Presence.IN_WAITING_ROOM),
        "left": where.count(Presence.LEFT),
        "students_present": len(present),
        "guests": sum(1 for p in people if p.student_pk is None),
        "roster_size": roster_size,
        "absent_so_far": roster_size - len(seen),
    }


def participant_counts(meetings: Iterable[Meeting]) -> dict[int, int]:
    """Each meeting's participant count now (CONTRACT §5: students and guests seen).

    An ended meeting's is stored with its attendance; a live meeting's is counted
    from its events so far (the stored one is set only when attendance is made).
    """
    return {
        m.id: live_view(m).statistics["total"]
        if m.effective_end is None
        else m.participant_count
        for m in meetings
    }


def snapshot_for_number(zoom_meeting_id: int, course_id: int | None) -> dict[str, Any]:
    """The live room's snapshot of a meeting number: its current or latest instance."""
    meeting = latest_instance(zoom_meeting_id)
    if meeting is None:
        roster = roster_json(roster_now(course_id))
        return {
            "meeting": None,
            "participants": [],
            "statistics": statistics((), len(roster)),
            "roster": roster,
            "version": 0,
            "ts": iso(utcnow()),
        }
    view = _reused_view(meeting) or live_view(meeting)
    return view.snapshot()
