"""The notification rules (``services.notifications``): which room event says what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from attendance.core.model import Person, Presence
from attendance.models import Course, Meeting
from attendance.services.notifications import notification_for

START = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def _meeting(topic: str = "Algebra", started: bool = True) -> Meeting:
    return Meeting(
        uuid="u==",
        zoom_meeting_id=123456789,
        topic=topic,
        start_time=START if started else None,
    )


def _course(late_after: int = 10) -> Course:
    return Course(
        code="MATH1",
        title="Algebra",
        late_after_minutes=late_after,
        left_early_minutes=10,
        min_attendance_percent=50.0,
    )


def _person(
    name: str = "Ada Lovelace",
    student_pk: int | None = 7,
    joined_after: float = 0,
    sessions: int = 1,
) -> Person:
    """A person who first joined ``joined_after`` minutes after the start."""
    return Person(
        pk=1,
        connection_pks=(1,),
        name=name,
        email="",
        zoom_user_ids=(),
        registrant_ids=(),
        student_pk=student_pk,
        matched_by="email" if student_pk is not None else None,
        is_host=False,
        role="guest",
        intervals=(),
        attended_seconds=0,
        first_join=START + timedelta(minutes=joined_after),
        last_leave=None,
        sessions=sessions,
        presence=Presence.IN_MEETING,
        in_breakout_room=False,
        sharing=False,
        audio=None,
        video=None,
    )


#: Who an event is about, by what the rules tell apart.
PEOPLE = {
    "nobody": None,
    "guest": _person("Sam", student_pk=None),
    "student on time": _person(joined_after=10),  # at the grace: not late yet
    "student late": _person(joined_after=11),
    "student rejoining late": _person(joined_after=11, sessions=2),
    "guest late": _person("Sam", student_pk=None, joined_after=11),
}

KINDS = [
    # (room event, who, the notification's kind or None)
    ("meetingStarted", "nobody", "meeting_started"),
    ("meetingStarted", "student late", "meeting_started"),
    ("meetingEnded", "nobody", "meeting_ended"),
    ("participantWaiting", "guest", "guest_waiting"),
    ("participantWaiting", "student on time", None),
    ("participantWaiting", "nobody", None),
    ("participantJoined", "student late", "late_join"),
    ("participantJoined", "student on time", None),
    ("participantJoined", "student rejoining late", None),
    ("participantJoined", "guest late", None),
    ("participantJoined", "nobody", None),
    ("participantAdmitted", "guest", None),
    ("participantLeft", "student late", None),
    ("participantStatusUpdate", "guest", None),
]


@pytest.mark.parametrize(("room_event", "who", "kind"), KINDS)
def test_notification_for_kind_per_event_and_person(room_event, who, kind):
    found = notification_for(_meeting(), _course(), room_event, PEOPLE[who])
    assert (found[0] if found else None) == kind


LATENESS = [
    # (course's late_after_minutes, None: no course; start known; joined after; late)
    (10, True, 11, True),
    (10, True, 10, False),
    (30, True, 20, False),
    (0, True, 1, True),
    (None, True, 20, False),
    (10, False, 20, False),
]


@pytest.mark.parametrize(("late_after", "started", "joined_after", "late"), LATENESS)
def test_notification_for_late_join_follows_the_course_policy(
    late_after, started, joined_after, late
):
    course = _course(late_after) if late_after is not None else None
    person = _person(joined_after=joined_after)
    found = notification_for(
        _meeting(started=started), course, "participantJoined", person
    )
    assert (found is not None) == late


MESSAGES = [
    # (topic, room event, name of who it is about, message)
    ("Algebra", "meetingStarted", "", "Algebra started"),
    ("", "meetingStarted", "", "Meeting 123456789 started"),
    ("Algebra", "meetingEnded", "", "Algebra ended; attendance is ready"),
    (
        "Algebra",
        "participantWaiting",
        "Sam",
        "Sam (not on the roster) is in the waiting room",
    ),
    (
        "Algebra",
        "participantWaiting",
        "",
        "Someone (not on the roster) is in the waiting room",
    ),
    ("Algebra", "participantJoined", "Ada", "Ada joined late"),
]


@pytest.mark.parametrize(("topic", "room_event", "name", "message"), MESSAGES)
def test_notification_for_message_names_the_meeting_and_person(
    topic, room_event, name, message
):
    # A guest when waiting (only guests are announced there), else a late student.
    student_pk = None if room_event == "participantWaiting" else 7
    person = _person(name, student_pk=student_pk, joined_after=11)
    found = notification_for(_meeting(topic), _course(), room_event, person)
    assert found is not None and found[1] == message


#: (minutes the host opened the room before the class's S', minutes after S'
#: the student first joined, late?): lateness counts from when the class began
#: (§5.9), not from when the host pressed Start.
OPENED_EARLY = [
    (15, 5, False),  # 20 minutes after Start, 5 after the class began
    (15, 11, True),
    (0, 11, True),
]


@pytest.mark.parametrize(("early", "after_class_start", "late"), OPENED_EARLY)
def test_a_late_join_counts_from_the_class_start(early, after_class_start, late):
    class_start = START + timedelta(minutes=early)
    person = _person(joined_after=early + after_class_start)
    found = notification_for(
        _meeting(), _course(10), "participantJoined", person, class_start
    )
    assert (found is not None) == late
