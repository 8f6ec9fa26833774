"""Typed Zoom events built from webhook dicts: the only module that knows Zoom's field names.

Shapes follow ../shared/ZOOM.md §3: the meeting ``id`` is a string or a number,
times end in ``Z``, absent identifiers arrive as empty strings, and the seed-era
event names of CONTRACT §2 are aliases of the real ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from attendance.errors import BadPayload
from attendance.text import is_digits

#: Seed-era names (never sent by Zoom) mapped to the real event they stand for.
ALIASES: dict[str, str] = {
    "meeting.participant_waiting_for_host": "meeting.participant_jbh_waiting",
    "meeting.recording_started": "recording.started",
    "meeting.recording_stopped": "recording.stopped",
}

URL_VALIDATION = "endpoint.url_validation"


def canonical_name(name: str) -> str:
    """The real Zoom event name for ``name`` (aliases resolved)."""
    return ALIASES.get(name, name)


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
        return datetime.fromtimestamp(self.event_ts / 1000, tz=UTC).replace(
            microsecond=0
        )


def _text(value: Any) -> str:
    """Zoom sends absent ids as "" and sometimes numbers for ids; normalize to text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float | str):
        return str(value).strip()
    return ""


def _meeting_id(value: Any) -> int | None:
    """The meeting number: a string in meeting events, a number in ``recording.*``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadPayload("meeting id must be a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and is_digits(value.strip()):
        return int(value.strip())
    raise BadPayload(f"meeting id {value!r} is not a meeting number")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as sent by Zoom (``2021-07-13T21:44:51Z``) as aware UTC.

    :raises BadPayload: on a value that is not a time.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadPayload(f"time {value!r} is not a string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise BadPayload(f"time {value!r} is not ISO 8601") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and is_digits(value.strip().lstrip("-")):
        return int(value)
    return None


def _flag(value: Any) -> bool | None:
    """A seed-era on/off field: booleans, or strings like "on"/"off"/"true"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        return value.strip().lower() in {"on", "true", "1", "yes", "started", "unmuted"}
    return None


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{what} must be an object")
    return value


def _parse_meeting(obj: dict[str, Any]) -> MeetingInfo:
    uuid = _text(obj.get("uuid"))
    if not uuid:
        raise BadPayload("payload.object.uuid is missing")
    return MeetingInfo(
        uuid=uuid,
        zoom_meeting_id=_meeting_id(obj.get("id")),
        host_id=_text(obj.get("host_id")),
        topic=_text(obj.get("topic")),
        type=_int_or_none(obj.get("type")),
        timezone=_text(obj.get("timezone")),
        start_time=parse_time(obj.get("start_time")),
        end_time=parse_time(obj.get("end_time")),
        breakout_room_uuid=_text(obj.get("breakout_room_uuid")),
    )


def _parse_participant(raw: dict[str, Any]) -> ParticipantInfo:
    sharing = _dict(raw.get("sharing_details"), "participant.sharing_details")
    date_time = parse_time(raw.get("date_time")) or parse_time(sharing.get("date_time"))
    return ParticipantInfo(
        user_id=_text(raw.get("user_id")),
        name=_text(raw.get("user_name")),
        zoom_user_id=_text(raw.get("participant_user_id")) or _text(raw.get("id")),
        participant_uuid=_text(raw.get("participant_uuid")),
        registrant_id=_text(raw.get("registrant_id")),
        email=_text(raw.get("email")),
        customer_key=_text(raw.get("customer_key")),
        join_time=parse_time(raw.get("join_time")),
        leave_time=parse_time(raw.get("leave_time")),
        date_time=date_time,
        leave_reason=_text(raw.get("leave_reason")),
        old_role=_text(raw.get("old_role")),
        new_role=_text(raw.get("new_role")),
        parent_user_id=_text(raw.get("parent_user_id")),
        sharing_content=_text(sharing.get("content")),
        audio=_flag(raw.get("audio")),
        video=_flag(raw.get("video")),
        sharing=_flag(raw.get("sharing")),
    )


def _parse_recording_file(raw: Any) -> RecordingFile | None:
    if not isinstance(raw, dict):
        return None
    file_id = _text(raw.get("id"))
    if not file_id:
        return None
    return RecordingFile(
        id=file_id,
        file_type=_text(raw.get("file_type")),
        recording_type=_text(raw.get("recording_type")),
        status=_text(raw.get("status")),
        download_url=_text(raw.get("download_url")),
        recording_start=parse_time(raw.get("recording_start")),
        recording_end=parse_time(raw.get("recording_end")),
        file_size=_int_or_none(raw.get("file_size")),
    )


def _occurred_at(
    name: str, meeting: MeetingInfo | None, participant: ParticipantInfo | None
) -> datetime | None:
    """The payload's own time for what happened, used for ordering and deduplication."""
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
        parts += sorted(f.id for f in event.recording_files) or [_text(event.event_ts)]
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
        parts.append(_text(event.event_ts))
    else:
        parts.append(_text(event.event_ts))
    return _digest(parts)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def parse_envelope(data: Any) -> tuple[str, int | None]:
    """The event name and ``event_ts`` of a decoded body.

    :raises BadPayload: when the body is not an object with a string ``event``.
    """
    if not isinstance(data, dict):
        raise BadPayload("body must be a JSON object")
    name = data.get("event")
    if not isinstance(name, str) or not name.strip():
        raise BadPayload("body has no 'event'")
    return name.strip(), _int_or_none(data.get("event_ts"))


def parse_event(data: Any) -> ZoomEvent:
    """Build a typed event from a decoded webhook body.

    :raises BadPayload: when the envelope or a known event's payload is malformed.
    """
    received_name, event_ts = parse_envelope(data)
    name = canonical_name(received_name)
    payload = _dict(data.get("payload"), "payload")
    obj = _dict(payload.get("object"), "payload.object")
    account_id = _text(payload.get("account_id"))

    meeting = participant = presence = None
    files: tuple[RecordingFile, ...] = ()
    rec_start = rec_end = None
    if name == "user.presence_status_updated":
        presence = PresenceInfo(
            zoom_user_id=_text(obj.get("id")),
            email=_text(obj.get("email")),
            status=_text(obj.get("presence_status")),
            date_time=parse_time(obj.get("date_time")),
        )
    elif name.startswith(("meeting.", "recording.")) and obj:
        meeting = _parse_meeting(obj)
        if "participant" in obj:
            participant = _parse_participant(_dict(obj["participant"], "participant"))
        recording_file = _dict(obj.get("recording_file"), "recording_file")
        rec_start = parse_time(recording_file.get("recording_start"))
        rec_end = parse_time(recording_file.get("recording_end"))
        raw_files = obj.get("recording_files") or []
        audio_files = obj.get("participant_audio_files") or []
        if not isinstance(raw_files, list) or not isinstance(audio_files, list):
            raise BadPayload("recording_files must be a list")
        files = tuple(
            f for f in map(_parse_recording_file, raw_files + audio_files) if f
        )
    elif name.startswith(("meeting.", "recording.")) and name != URL_VALIDATION:
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
        download_token=_text(data.get("download_token")),
        share_url=_text(obj.get("share_url")) if name == "recording.completed" else "",
        occurred_at=_occurred_at(name, meeting, participant),
    )
    object.__setattr__(event, "dedupe_key", _dedupe_key(event, payload))
    return event
