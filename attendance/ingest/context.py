"""What one applied batch shares and hands on: its context, its outcomes, its notices.

Handlers import only this module (never the applier), and the applier imports
the handlers: no cycle. After a batch commits the applier sends
``batch_applied`` with an :class:`AppliedBatch` holding what the batch already
knows (meeting and participant ids, new event versions, decoded bodies), so
listeners such as the live dashboard do not look any of it up again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from blinker import Namespace

from attendance.models import EventStatus, Meeting, Participant

_signals = Namespace()

#: Sent after each applied batch commits, with ``batch=<AppliedBatch>``. Never
#: inside the transaction: under eventlet an emit that yields mid-transaction
#: stalls every other SQLite writer. Receivers' errors are logged, not raised.
batch_applied = _signals.signal("batch-applied")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying one stored event did."""

    id: int
    event: str
    meeting_uuid: str | None
    status: EventStatus
    error: str | None = None
    #: The stored body (the admin feed shows it, decoded, when an admin listens).
    body: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Notice:
    """An applied event as the live dashboard hears of it, with the rows it touched."""

    #: The real Zoom event name (``zoom.catalog``).
    event: str
    meeting_id: int
    #: The participant row (``participants.id``) of a participant event.
    participant_id: int | None = None


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """A roster student's Zoom presence as a batch left it (``user.presence_status_updated``)."""

    course_id: int
    student_pk: int
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AppliedBatch:
    """What ``batch_applied`` carries: the batch's outcomes and what they changed."""

    outcomes: tuple[Outcome, ...]
    notices: tuple[Notice, ...]
    #: Per meeting id: (its events_version after this batch, connection ids it changed).
    changed_connections: dict[int, tuple[int, set[int]]]
    #: Students whose presence the batch changed, each with its final state.
    presence: tuple[PresenceChange, ...] = ()


@dataclass
class ApplyContext:
    """State shared by the handlers of one batch."""

    #: Meeting rows by uuid, so a batch looks each meeting up once.
    meetings: dict[str, Meeting] = field(default_factory=dict)
    #: Participant rows by (meeting id, connection key).
    participants: dict[tuple[int, str], Participant] = field(default_factory=dict)
    #: Connections whose events changed: their sessions are re-swept after the batch.
    sessions_dirty: set[int] = field(default_factory=set)
    #: Per meeting: (its events_version after this batch, the connections it changed).
    changed_connections: dict[int, tuple[int, set[int]]] = field(default_factory=dict)
    #: Participant sightings queued by handlers, written together by a finisher.
    sightings: list[Any] = field(default_factory=list)
    #: Run once after the batch's handlers (in its savepoint): bulk writes.
    finishers: list[Callable[[ApplyContext], None]] = field(default_factory=list)
    #: Ids of the meetings whose events this batch applied.
    touched: set[int] = field(default_factory=set)
    #: (event, meeting uuid, connection key) of each applied event; resolved to
    #: row ids by :meth:`notices` once the finishers have written the rows.
    heard: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: The Zoom connection of the stored event being applied (``webhook_events.
    #: connection_id``; None: the environment's). Set by the applier per event.
    connection_id: int | None = None
    #: Presence changes by student row id (the latest state only).
    presence: dict[int, PresenceChange] = field(default_factory=dict)

    def finish_with(self, finisher: Callable[[ApplyContext], None]) -> None:
        """Have ``finisher`` run once after this batch's handlers."""
        if finisher not in self.finishers:
            self.finishers.append(finisher)

    def finish(self) -> None:
        """Run the finishers (they flush what they write)."""
        for finisher in self.finishers:
            finisher(self)

    def notices(self) -> list[Notice]:
        """The applied events with the meeting and participant rows they touched."""
        out = []
        for event, meeting_uuid, key in self.heard:
            meeting = self.meetings.get(meeting_uuid)
            if meeting is None:
                continue
            participant = self.participants.get((meeting.id, key)) if key else None
            out.append(
                Notice(event, meeting.id, participant.id if participant else None)
            )
        return out

    def merge(self, other: ApplyContext) -> None:
        """Take in what ``other`` (one isolated event's context) touched and heard."""
        self.meetings.update(other.meetings)
        self.participants.update(other.participants)
        self.touched |= other.touched
        self.sessions_dirty |= other.sessions_dirty
        self.heard += other.heard
        self.presence.update(other.presence)
