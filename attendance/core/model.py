"""The core's vocabulary: what a meeting's stored facts look like, and what comes out."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from attendance.core.schedule import Schedule, Window
from attendance.core.status import Status


class Kind(enum.StrEnum):
    """What happened to one connection (Zoom's participant events, by meaning)."""

    JOINED = "joined"  # meeting.participant_joined: opens a main-room interval
    LEFT = "left"  # meeting.participant_left: closes it
    PUT_IN_WAITING_ROOM = "put_in_waiting_room"  # closes it too
    JOINED_WAITING_ROOM = "joined_waiting_room"
    LEFT_WAITING_ROOM = "left_waiting_room"
    ADMITTED = "admitted"
    JBH_WAITING = "jbh_waiting"
    JBH_WAITING_LEFT = "jbh_waiting_left"
    JBH_JOINED = "jbh_joined"
    BREAKOUT_JOINED = "breakout_joined"  # opens a breakout interval (per room)
    BREAKOUT_LEFT = "breakout_left"  # closes it
    ROLE_CHANGED = "role_changed"  # detail: the new role (host | co-host | attendee)
    SHARING_STARTED = "sharing_started"
    SHARING_ENDED = "sharing_ended"
    #: Seed-era ``meeting.participant_updated``: detail "audio=on,video=off,..."
    UPDATED = "updated"


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A half-open span of time [start, end), aware UTC."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """One distinct event of a connection, at the payload's own time."""

    kind: Kind
    at: datetime
    #: The breakout room uuid for BREAKOUT_* events, else "".
    room: str = ""
    #: Kind-specific: the new role for ROLE_CHANGED, flags for UPDATED.
    detail: str = ""


class Source(enum.StrEnum):
    """Where a connection was seen (CONTRACT §6)."""

    WEBHOOK = "webhook"
    #: Only in Zoom's participant report: its events are the report's rows.
    REPORT = "report"


@dataclass(frozen=True, slots=True)
class Connection:
    """One Zoom connection (``user_id``) in one meeting instance, with all its events.

    Identity fields are as stored: the name and email of the connection's
    earliest event that had one.
    """

    key: str
    #: The database id of the participant row (reported as ``participant_pk``).
    pk: int
    name: str = ""
    email: str = ""
    #: ``participant_user_id`` or ``id``: the Zoom account user id; "" for guests.
    zoom_user_id: str = ""
    registrant_id: str = ""
    #: For a breakout connection: the ``user_id`` of its main-room connection.
    parent_key: str = ""
    events: tuple[ConnectionEvent, ...] = ()
    source: Source = Source.WEBHOOK
    #: For a connection webhooks saw: its report rows' [join_time, leave_time], which
    #: correct a lost leave or stand in for missing joins (§6, ``core.reconcile``).
    reported: tuple[Interval, ...] = ()


@dataclass(frozen=True, slots=True)
class Student:
    """A roster entry of the meeting's course."""

    pk: int
    student_id: str
    first_name: str
    last_name: str
    email: str = ""
    #: Alias e-mail addresses and alias display names (as entered).
    alias_emails: tuple[str, ...] = ()
    alias_names: tuple[str, ...] = ()
    #: The course-local date from which they are off the roster (§5.8); None: enrolled.
    withdrawn_on: date | None = None


class LinkKind(enum.StrEnum):
    """What a remembered identity link keys on."""

    ZOOM_USER = "zoom_user"  # a Zoom account user id
    REGISTRANT = "registrant"  # a registrant_id
    EMAIL = "email"  # a normalized e-mail (manual links only)
    NAME = "name"  # a normalized display name (manual links only)


class LinkSource(enum.StrEnum):
    """Where a link comes from: an earlier meeting, a manual match, or the Zoom account."""

    LEARNED = "learned"  # matched by email/alias in an earlier meeting of the course
    MANUAL = "manual"  # an instructor's match with ``remember``
    #: A learned key an instructor deleted: kept only so that regenerating the
    #: meeting it was learned in does not learn it again; matches by nothing.
    FORGOTTEN = "forgotten"
    #: A Zoom user id the connection's account lists with a student's e-mail
    #: (CONTRACT §6 account users): true before the student ever joins.
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """A remembered identifier of a student (CONTRACT §5.4 steps zoom_user and manual)."""

    kind: LinkKind
    value: str
    student_pk: int
    source: LinkSource


class MatchedBy(enum.StrEnum):
    """The matching step that found the student, in priority order (CONTRACT §5.4)."""

    EMAIL = "email"
    ALIAS = "alias"
    ZOOM_USER = "zoom_user"
    MANUAL = "manual"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class Policy:
    """A course's status thresholds (CONTRACT §5.5); defaults 10 / 10 / 50."""

    late_after_minutes: float = 10
    left_early_minutes: float = 10
    min_attendance_percent: float = 50


@dataclass(frozen=True, slots=True)
class MeetingFacts:
    """What the meeting-level events said."""

    #: Earliest ``meeting.started`` start_time, or None if none arrived.
    started_at: datetime | None
    #: Latest ``meeting.ended`` end_time (or the stale-meeting closure), None while live.
    ended_at: datetime | None
    host_id: str = ""
    #: The course's weekly slots (CONTRACT §5.9); None or no slots: judged over [S, E].
    schedule: Schedule | None = None


class Presence(enum.StrEnum):
    """Where a person is now (CONTRACT §4 Participant.status)."""

    IN_MEETING = "in_meeting"
    IN_WAITING_ROOM = "in_waiting_room"
    LEFT = "left"


@dataclass(frozen=True, slots=True)
class Person:
    """Connections merged into one human (CONTRACT §5.2), with their attendance."""

    #: pk of the person's earliest connection: the stable ``participant_pk``.
    pk: int
    connection_pks: tuple[int, ...]
    name: str
    email: str
    zoom_user_ids: tuple[str, ...]
    registrant_ids: tuple[str, ...]
    student_pk: int | None
    matched_by: MatchedBy | None
    is_host: bool
    #: "host" for the meeting's host only; else "co-host" or "guest", from the
    #: latest role change of any of its connections (Zoom's "host" is "co-host").
    role: str
    #: The clipped union of all main-room and breakout intervals.
    intervals: tuple[Interval, ...]
    attended_seconds: int
    first_join: datetime | None
    last_leave: datetime | None
    sessions: int
    presence: Presence
    in_breakout_room: bool
    sharing: bool
    audio: bool | None
    video: bool | None


@dataclass(frozen=True, slots=True)
class Record:
    """One roster student's computed attendance (before any manual override)."""

    student_pk: int
    status: Status
    late: bool
    left_early: bool
    attended_seconds: int
    #: attended / (E - S) * 100 rounded half-up to one decimal.
    attended_percent: float
    first_join: datetime | None
    last_leave: datetime | None
    sessions: int
    matched_by: MatchedBy | None
    #: The person matched to this student, if any was seen.
    participant_pk: int | None


@dataclass(frozen=True, slots=True)
class MeetingResult:
    """Everything ``compute_meeting`` derives from one meeting's facts."""

    start: datetime | None
    end: datetime | None
    persons: tuple[Person, ...]
    #: One per roster student, in roster order.
    records: tuple[Record, ...]
    #: Persons that are neither the host nor matched to a student.
    guests: tuple[Person, ...]
    #: Students and guests seen, host excluded.
    participant_count: int
    #: Zoom user ids and registrant ids of persons matched by email or alias:
    #: what later meetings of the course may match by (step zoom_user).
    learned_links: tuple[IdentityLink, ...] = field(default=())
    #: Whether it is a scheduled class and the window [S', E'] it was judged over
    #: (§5.9); ``start`` and ``end`` above stay the instance's own S and E.
    window: Window | None = None
