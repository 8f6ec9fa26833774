"""Typed Zoom events built from webhook dicts: the only module that knows Zoom's field names.

Shapes follow ../shared/ZOOM.md §3: the meeting ``id`` is a string or a number,
times end in ``Z``, absent identifiers arrive as empty strings, and the seed-era
event names of CONTRACT §2 are aliases of the real ones. The webinar events of
the catalog have the meeting events' shape (ZOOM-REST.md §5); their instance is
marked ``MeetingInfo.webinar``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from attendance.errors import BadPayload
from attendance.zoom.catalog import canonical_name, handled_as, is_webinar
from attendance.zoom.fields import (
    EARLIEST,
    INT32_MAX,
    INT64_MAX,
    UNSTORABLE,
    as_dict,
    as_ident,
    as_label,
    as_text,
    event_ts_ms,
    flag,
    meeting_number,
    parse_time,
    small_int,
)

URL_VALIDATION = "endpoint.url_validation"

#: Longest event name the log keeps (``webhook_events.event``).
NAME_MAX = 100
#: Longest text kept of each field: the width of the column that holds it
#: (attendance/models). A longer identifier is refused, longer text is clipped.
_UUID_MAX = 255  # meetings.uuid, participants.user_key and parent_key, a room
_ID_MAX = 100  # participants' Zoom ids, meetings.host_id, recording file ids
_NAME_MAX = 300  # participants.name, meetings.topic
_EMAIL_MAX = 254
_TIMEZONE_MAX = 64
_DETAIL_MAX = 100  # participant_events.detail: a role, what is shared
_SHORT_MAX = 32  # a recording's file_type and status, a presence status
_RECORDING_TYPE_MAX = 64
#: Prefixes of the events about one meeting instance: ``payload.object`` is the
#: instance. So is it in the webinar events of the catalog (other ``webinar.*``
#: events, registrations and the like, are kept unparsed, as ignored).
_MEETING_SCOPED = ("meeting.", "recording.")
#: Text kept in unbounded columns (URLs) or not kept at all: still bounded.
_TEXT_MAX = 4096


@dataclass(frozen=True, slots=True)
class MeetingInfo:
    """``payload.object`` of a meeting-scoped event."""

    uuid: str
    zoom_meeting_id: int | None
    host_id: str = ""
    topic: str = ""
    type: int | None = None
    timezone: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    #: Breakout-room events name the room; empty elsewhere.
    breakout_room_uuid: str = ""
    #: From a ``webinar.*`` event: the instance is a webinar (same shape otherwise).
    webinar: bool = False


@dataclass(frozen=True, slots=True)
class ParticipantInfo:
    """``payload.object.participant``: one connection of one person."""

    #: The in-meeting connection id: new on every rejoin (ZOOM.md §3).
    user_id: str = ""
    name: str = ""
    #: The Zoom account user id (``participant_user_id`` or ``id``); "" for guests.
    zoom_user_id: str = ""
    participant_uuid: str = ""
    registrant_id: str = ""
    email: str = ""
    customer_key: str = ""
    join_time: datetime | None = None
    leave_time: datetime | None = None
    date_time: datetime | None = None
    leave_reason: str = ""
    old_role: str = ""
    new_role: str = ""
    parent_user_id: str = ""
    sharing_content: str = ""
    #: Only the seed-era ``meeting.participant_updated`` carries these.
    audio: bool | None = None
    video: bool | None = None
    sharing: bool | None = None


@dataclass(frozen=True, slots=True)
class RecordingFile:
    """One entry of ``recording_files`` in ``recording.completed``."""

    id: str
    file_type: str = ""
    recording_type: str = ""
    status: str = ""
    download_url: str = ""
    recording_start: datetime | None = None
    recording_end: datetime | None = None
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class PresenceInfo:
    """``user.presence_status_updated``: a Zoom user's presence (no meeting)."""

    zoom_user_id: str
    email: str
    status: str
    date_time: datetime | None


@dataclass(frozen=True, slots=True)
class ZoomEvent:
    """A verified Zoom webhook, parsed."""

    name: str
    received_name: str
    event_ts: int | None
    account_id: str = ""
    meeting: MeetingInfo | None = None
    participant: ParticipantInfo | None = None
    presence: PresenceInfo | None = None
    recording_files: tuple[RecordingFile, ...] = ()
    recording_start: datetime | None = None
    recording_end: datetime | None = None
    download_token: str = field(default="", repr=False)
    #: ``recording.completed``: the meeting's recording share link.
    share_url: str = ""
    #: The payload's own time of what happened (never the arrival time).
    occurred_at: datetime | None = None
    dedupe_key: str = ""

    @property
    def envelope_time(self) -> datetime | None:
        """``event_ts`` (milliseconds, ZOOM.md §3) as a time, to the second.

        Only for payloads without a time of their own (``jbh_waiting``, a
        ``meeting.ended`` lacking ``end_time``): it is when Zoom sent, not when
        it happened.
        """
        if self.event_ts is None:
            return None
        # Integer arithmetic: exact, and on every platform (fromtimestamp is not).
        return EARLIEST + timedelta(seconds=self.event_ts // 1000)


def _parse_meeting(obj: dict[str, Any], *, webinar: bool = False) -> MeetingInfo:
    uuid = as_ident(obj.get("uuid"), "payload.object.uuid", _UUID_MAX)
    if not uuid:
        raise BadPayload("payload.object.uuid is missing")
    return MeetingInfo(
        uuid=uuid,
        zoom_meeting_id=meeting_number(obj.get("id")),
        host_id=as_label(obj.get("host_id"), _ID_MAX),
        topic=as_label(obj.get("topic"), _NAME_MAX),
        type=small_int(obj.get("type"), INT32_MAX),
        timezone=as_label(obj.get("timezone"), _TIMEZONE_MAX),
        start_time=parse_time(obj.get("start_time")),
        end_time=parse_time(obj.get("end_time")),
        breakout_room_uuid=as_ident(
            obj.get("breakout_room_uuid"), "breakout_room_uuid", _UUID_MAX
        ),
        webinar=webinar,
    )


def _parse_participant(raw: dict[str, Any]) -> ParticipantInfo:
    sharing = as_dict(raw.get("sharing_details"), "participant.sharing_details")
    date_time = parse_time(raw.get("date_time")) or parse_time(sharing.get("date_time"))
    # Both are checked, though the first wins: neither may carry what cannot be kept.
    participant_user_id = as_ident(
        raw.get("participant_user_id"), "participant_user_id", _ID_MAX
    )
    user_account_id = as_ident(raw.get("id"), "participant.id", _ID_MAX)
    return ParticipantInfo(
        user_id=as_ident(raw.get("user_id"), "participant.user_id", _UUID_MAX),
        name=as_label(raw.get("user_name"), _NAME_MAX),
        zoom_user_id=participant_user_id or user_account_id,
        participant_uuid=as_ident(
            raw.get("participant_uuid"), "participant_uuid", _ID_MAX
        ),
        registrant_id=as_ident(raw.get("registrant_id"), "registrant_id", _ID_MAX),
        email=as_label(raw.get("email"), _EMAIL_MAX),
        customer_key=as_ident(raw.get("customer_key"), "customer_key", _ID_MAX),
        join_time=parse_time(raw.get("join_time")),
        leave_time=parse_time(raw.get("leave_time")),
        date_time=date_time,
        leave_reason=as_label(raw.get("leave_reason"), _TEXT_MAX),
        old_role=as_label(raw.get("old_role"), _DETAIL_MAX),
        new_role=as_label(raw.get("new_role"), _DETAIL_MAX),
        parent_user_id=as_ident(raw.get("parent_user_id"), "parent_user_id", _UUID_MAX),
        sharing_content=as_label(sharing.get("content"), _DETAIL_MAX),
        audio=flag(raw.get("audio")),
        video=flag(raw.get("video")),
        sharing=flag(raw.get("sharing")),
    )


def _parse_recording_file(raw: Any) -> RecordingFile | None:
    if not isinstance(raw, dict):
        return None
    file_id = as_ident(raw.get("id"), "recording file id", _ID_MAX)
    if not file_id:
        return None
    return RecordingFile(
        id=file_id,
        file_type=as_label(raw.get("file_type"), _SHORT_MAX),
        recording_type=as_label(raw.get("recording_type"), _RECORDING_TYPE_MAX),
        status=as_label(raw.get("status"), _SHORT_MAX),
        download_url=as_label(raw.get("download_url"), _TEXT_MAX),
        recording_start=parse_time(raw.get("recording_start")),
        recording_end=parse_time(raw.get("recording_end")),
        file_size=small_int(raw.get("file_size"), INT64_MAX),
    )


def _occurred_at(
    name: str, meeting: MeetingInfo | None, participant: ParticipantInfo | None
) -> datetime | None:
    """The payload's own time for what happened, used for ordering and deduplication."""
    name = handled_as(name)  # a webinar's start and end are a meeting's
    if participant is not None:
        own = participant.join_time or participant.leave_time or participant.date_time
        if own is not None:
            return own
    if meeting is not None:
        if name == "meeting.ended":
            return meeting.end_time or meeting.start_time
        if name == "meeting.started":
            return meeting.start_time
    return None


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def fallback_dedupe_key(name: str, body: bytes) -> str:
    """Key for an event whose payload could not be parsed: the body itself."""
    return _digest(["raw", name, hashlib.sha256(body).hexdigest()])


def _dedupe_key(event: ZoomEvent, payload: dict[str, Any]) -> str:
    """Identity of the occurrence, so Zoom's retries and re-deliveries collapse (ZOOM.md §2).

    Zoom sends no event id; the key is the event, the meeting instance, who it is
    about and the payload's own time. ``recording.completed`` uses its file ids,
    because duplicates carry different download tokens.
    """
    parts = [event.name]
    if event.meeting is not None:
        parts += [event.meeting.uuid, event.meeting.breakout_room_uuid]
    if event.name == "recording.completed":
        parts += sorted(f.id for f in event.recording_files) or [
            as_text(event.event_ts)
        ]
        return _digest(parts)
    if event.presence is not None:
        p = event.presence
        parts += [p.zoom_user_id, p.email.lower(), p.status, _iso(p.date_time)]
        return _digest(parts)
    if event.participant is not None:
        p = event.participant
        identity = p.user_id or p.participant_uuid or p.zoom_user_id or p.name
        parts += [identity, p.customer_key, p.new_role]
    own_time = event.occurred_at or event.recording_start or event.recording_end
    if own_time is not None:
        parts.append(_iso(own_time))
    elif event.meeting is None and event.participant is None:
        # Nothing Zoom-shaped to identify it (an event this app does not know):
        # the payload itself is the identity.
        parts.append(json.dumps(payload, sort_keys=True, default=str))
        parts.append(as_text(event.event_ts))
    else:
        parts.append(as_text(event.event_ts))
    return _digest(parts)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def parse_envelope(data: Any) -> tuple[str, int | None]:
    """The event name and ``event_ts`` of a decoded body: what the log keeps of any event.

    ``event_ts`` is None when absent and also when out of range, so that such an
    event can still be kept (``parse_event`` refuses it, and it is kept as failed).

    :raises BadPayload: when the body is not an object with an ``event`` name the
        log can keep (a string of at most NAME_MAX characters, no NUL or lone
        surrogate).
    """
    if not isinstance(data, dict):
        raise BadPayload("body must be a JSON object")
    name = data.get("event")
    if not isinstance(name, str) or not name.strip():
        raise BadPayload("body has no 'event'")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise BadPayload(f"'event' is longer than {NAME_MAX} characters")
    if UNSTORABLE.search(name):
        raise BadPayload("'event' holds a NUL or an unpaired surrogate")
    try:
        event_ts = event_ts_ms(data.get("event_ts"))
    except BadPayload:
        event_ts = None
    return name, event_ts


def raw_meeting_uuid(data: Any) -> str | None:
    """The meeting uuid of a body that did not parse, if the log can keep it (else None)."""
    try:
        value = data["payload"]["object"]["uuid"]
    except (KeyError, TypeError, IndexError):
        return None
    try:
        return as_ident(value, "uuid", _UUID_MAX) or None
    except BadPayload:
        return None


def parse_event(data: Any) -> ZoomEvent:
    """Build a typed event from a decoded webhook body.

    :raises BadPayload: when the envelope or a known event's payload is malformed.
    """
    received_name, _ = parse_envelope(data)
    event_ts = event_ts_ms(data.get("event_ts"))
    name = canonical_name(received_name)
    payload = as_dict(data.get("payload"), "payload")
    obj = as_dict(payload.get("object"), "payload.object")
    account_id = as_label(payload.get("account_id"), _ID_MAX)

    meeting = participant = presence = None
    files: tuple[RecordingFile, ...] = ()
    rec_start = rec_end = None
    webinar = is_webinar(name)
    scoped = webinar or name.startswith(_MEETING_SCOPED)
    if name == "user.presence_status_updated":
        presence = PresenceInfo(
            zoom_user_id=as_label(obj.get("id"), _ID_MAX),
            email=as_label(obj.get("email"), _EMAIL_MAX),
            status=as_label(obj.get("presence_status"), _SHORT_MAX),
            date_time=parse_time(obj.get("date_time")),
        )
    elif scoped and obj:
        meeting = _parse_meeting(obj, webinar=webinar)
        if "participant" in obj:
            participant = _parse_participant(as_dict(obj["participant"], "participant"))
        recording_file = as_dict(obj.get("recording_file"), "recording_file")
        rec_start = parse_time(recording_file.get("recording_start"))
        rec_end = parse_time(recording_file.get("recording_end"))
        raw_files = obj.get("recording_files") or []
        audio_files = obj.get("participant_audio_files") or []
        if not isinstance(raw_files, list) or not isinstance(audio_files, list):
            raise BadPayload("recording_files must be a list")
        files = tuple(
            f for f in map(_parse_recording_file, raw_files + audio_files) if f
        )
    elif scoped and name != URL_VALIDATION:
        raise BadPayload("payload.object is missing")

    event = ZoomEvent(
        name=name,
        received_name=received_name,
        event_ts=event_ts,
        account_id=account_id,
        meeting=meeting,
        participant=participant,
        presence=presence,
        recording_files=files,
        recording_start=rec_start,
        recording_end=rec_end,
        download_token=as_label(data.get("download_token"), _TEXT_MAX),
        share_url=(
            as_label(obj.get("share_url"), _TEXT_MAX)
            if name == "recording.completed"
            else ""
        ),
        occurred_at=_occurred_at(name, meeting, participant),
    )
    object.__setattr__(event, "dedupe_key", _dedupe_key(event, payload))
    return event
