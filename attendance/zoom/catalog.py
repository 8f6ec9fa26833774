"""The Zoom events this app applies: one row each (CONTRACT §2 and §4, ZOOM.md §3).

Everything else that depends on an event's name is derived from this table:
the seed-era aliases, which participant events are which connection ``Kind``,
the Socket.IO room event the live dashboard hears, and whether an event is
handled at all (an event not listed here is stored as ``ignored``).

Adding a Zoom event is one row here and, in ``attendance.ingest.handlers``, its
handler (a participant event with a ``kind`` needs none: the participant
handler applies every one). If the event changes intervals, the sweep in
``core/sessions.py`` needs a rule for its kind.

Webinars (CONTRACT §6) are handled exactly like meetings: each ``webinar.*``
row is derived from its meeting counterpart (same kind, room event and
handler), only marked ``webinar`` so the instance is flagged as one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from attendance.core.model import Kind


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One Zoom event: its name, what it does to a connection, what the room hears."""

    #: The real Zoom event name (ZOOM.md §3).
    name: str
    #: The connection event it records, for participant events.
    kind: Kind | None = None
    #: The Socket.IO event emitted to the meeting's room (CONTRACT §4), if any.
    room_event: str | None = None
    #: Older names that mean this event (never sent by Zoom; seed-era fixtures).
    aliases: tuple[str, ...] = ()
    #: The meeting event this one is handled as; None for meeting events
    #: themselves (a ``webinar.*`` row names its ``meeting.*`` twin).
    handled_as: str | None = None

    @property
    def webinar(self) -> bool:
        """Whether this is a webinar event (its instance is a webinar)."""
        return self.handled_as is not None


_JOINED = "participantJoined"
_LEFT = "participantLeft"
_WAITING = "participantWaiting"
#: Leaving a waiting room may be being let in (admitted, or the host came for
#: join-before-host), not leaving: the participant's status in the payload says
#: which, so those are status updates.
_STATUS = "participantStatusUpdate"

_MEETINGS: tuple[EventSpec, ...] = (
    EventSpec("meeting.started", room_event="meetingStarted"),
    EventSpec("meeting.ended", room_event="meetingEnded"),
    EventSpec("meeting.participant_joined", Kind.JOINED, _JOINED),
    EventSpec("meeting.participant_left", Kind.LEFT, _LEFT),
    EventSpec(
        "meeting.participant_put_in_waiting_room",
        Kind.PUT_IN_WAITING_ROOM,
        "participantMovedToWaitingRoom",
    ),
    EventSpec(
        "meeting.participant_joined_waiting_room", Kind.JOINED_WAITING_ROOM, _WAITING
    ),
    EventSpec("meeting.participant_left_waiting_room", Kind.LEFT_WAITING_ROOM, _STATUS),
    EventSpec("meeting.participant_admitted", Kind.ADMITTED, "participantAdmitted"),
    EventSpec(
        "meeting.participant_jbh_waiting",
        Kind.JBH_WAITING,
        _WAITING,
        aliases=("meeting.participant_waiting_for_host",),
    ),
    EventSpec("meeting.participant_jbh_waiting_left", Kind.JBH_WAITING_LEFT, _STATUS),
    EventSpec("meeting.participant_jbh_joined", Kind.JBH_JOINED, _JOINED),
    EventSpec(
        "meeting.participant_joined_breakout_room", Kind.BREAKOUT_JOINED, _STATUS
    ),
    EventSpec("meeting.participant_left_breakout_room", Kind.BREAKOUT_LEFT, _STATUS),
    EventSpec("meeting.participant_role_changed", Kind.ROLE_CHANGED, _STATUS),
    EventSpec("meeting.sharing_started", Kind.SHARING_STARTED, "sharingStarted"),
    EventSpec("meeting.sharing_ended", Kind.SHARING_ENDED, "sharingEnded"),
    # Seed-era; Zoom sends no such event, but fixtures and replays still hold it.
    EventSpec("meeting.participant_updated", Kind.UPDATED, _STATUS),
    EventSpec(
        "recording.started",
        room_event="recordingStarted",
        aliases=("meeting.recording_started",),
    ),
    EventSpec(
        "recording.stopped",
        room_event="recordingStopped",
        aliases=("meeting.recording_stopped",),
    ),
    EventSpec("recording.completed"),
    EventSpec("user.presence_status_updated"),
)

#: Webinar events with the same envelope and participant shape as these meeting
#: events (ZOOM-REST.md §5 "Webinars"); Zoom sends no waiting-room, breakout or
#: join-before-host event for webinars.
_WEBINAR_TWINS = (
    "meeting.started",
    "meeting.ended",
    "meeting.participant_joined",
    "meeting.participant_left",
)


def _webinar_twin(spec: EventSpec) -> EventSpec:
    """The ``webinar.*`` row of a meeting event: the same in all but its name."""
    return replace(
        spec,
        name="webinar." + spec.name.removeprefix("meeting."),
        aliases=(),
        handled_as=spec.name,
    )


CATALOG: tuple[EventSpec, ...] = _MEETINGS + tuple(
    _webinar_twin(spec) for spec in _MEETINGS if spec.name in _WEBINAR_TWINS
)

#: Each spec by its real name.
SPECS: dict[str, EventSpec] = {spec.name: spec for spec in CATALOG}
#: Older names mapped to the real event they stand for.
ALIASES: dict[str, str] = {
    alias: spec.name for spec in CATALOG for alias in spec.aliases
}
#: Participant events by the connection ``Kind`` they record.
KINDS: dict[str, Kind] = {
    spec.name: spec.kind for spec in CATALOG if spec.kind is not None
}
#: Zoom event -> the room event of CONTRACT §4.
ROOM_EVENTS: dict[str, str] = {
    spec.name: spec.room_event for spec in CATALOG if spec.room_event is not None
}


def canonical_name(name: str) -> str:
    """The real Zoom event name for ``name`` (aliases resolved)."""
    return ALIASES.get(name, name)


def handled_as(name: str) -> str:
    """The meeting event a (real) event name is handled as: itself, or a webinar's twin."""
    spec = SPECS.get(name)
    return spec.handled_as if spec is not None and spec.handled_as else name


def is_webinar(name: str) -> bool:
    """Whether a (real) event name is a webinar event."""
    spec = SPECS.get(name)
    return spec is not None and spec.webinar


def is_handled(name: str) -> bool:
    """Whether the app applies an event (by any of its names); others are kept as ignored."""
    return canonical_name(name) in SPECS
