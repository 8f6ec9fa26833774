"""Which live events deserve an instructor's attention, and what to tell them.

Rules only: given the meeting, its course, the room event (CONTRACT §4) and
the person it is about, the kind and text of a notification, or None. The
realtime layer asks and emits; nothing here reads the database or knows of
Socket.IO.
"""

from __future__ import annotations

from datetime import datetime

from attendance.core.model import Person
from attendance.core.policy import joined_late
from attendance.models import Course, Meeting
from attendance.services.meeting_inputs import course_policy


def notification_for(
    meeting: Meeting,
    course: Course | None,
    room_event: str,
    person: Person | None,
    start: datetime | None = None,
) -> tuple[str, str] | None:
    """(kind, message) when ``room_event`` deserves the instructor's attention, else None.

    A meeting starting or ending, a guest (not on the roster) waiting to be let
    in, and a student's first join after the course's grace period from
    ``start``: when the class began as judged (S' of a scheduled class, §5.9),
    else the meeting's own start.
    """
    topic = meeting.topic or f"Meeting {meeting.zoom_meeting_id}"
    if room_event == "meetingStarted":
        return "meeting_started", f"{topic} started"
    if room_event == "meetingEnded":
        return "meeting_ended", f"{topic} ended; attendance is ready"
    if person is None:
        return None
    who = person.name or "Someone"
    if room_event == "participantWaiting" and person.student_pk is None:
        return "guest_waiting", f"{who} (not on the roster) is in the waiting room"
    if (
        room_event == "participantJoined"
        and person.student_pk is not None
        and person.sessions == 1
        and _late(start or meeting.start_time, course, person)
    ):
        return "late_join", f"{who} joined late"
    return None


def _late(start: datetime | None, course: Course | None, person: Person) -> bool:
    """Whether ``person`` first joined after the course's grace from ``start``."""
    if course is None or start is None:
        return False
    return joined_late(person.first_join, start, course_policy(course))
