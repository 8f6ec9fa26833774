"""Which participant event is which core ``Kind``, and at what time (ZOOM.md §3)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from attendance.core.model import ConnectionEvent, Kind
from attendance.core.sightings import Sighting
from attendance.errors import BadPayload
from attendance.zoom.catalog import KINDS
from attendance.zoom.events import ParticipantInfo, ZoomEvent

#: Longest connection key (``participants.user_key``).
KEY_MAX = 255


def connection_key(p: ParticipantInfo) -> str:
    """The connection's key: Zoom's ``user_id``, else the steadiest id the event has.

    ``jbh_waiting`` carries only ``id``, ``user_name`` and ``customer_key``.
    The key fits ``participants.user_key`` whole: the row is looked up by it.
    """
    if p.user_id:
        return p.user_id
    if p.participant_uuid:
        return f"uuid:{p.participant_uuid}"
    if p.zoom_user_id:
        return f"id:{p.zoom_user_id}"
    if p.customer_key:
        return f"ck:{p.customer_key}"
    key = f"name:{p.name}"
    if len(key) <= KEY_MAX:
        return key
    # A display name can be longer than the column: keep its start readable and
    # the rest distinct.
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{key[: KEY_MAX - len(digest) - 1]}#{digest}"


def _event_time(event: ZoomEvent) -> datetime:
    # Only when the payload has no time of its own (jbh_waiting): the envelope's.
    at = event.occurred_at or event.envelope_time
    if at is None:
        raise BadPayload(f"{event.name} has no time")
    return at


def _detail(kind: Kind, p: ParticipantInfo) -> str:
    if kind is Kind.ROLE_CHANGED:
        return p.new_role
    if kind is Kind.UPDATED:
        flags = {"audio": p.audio, "video": p.video, "sharing": p.sharing}
        return ",".join(
            f"{k}={'on' if v else 'off'}" for k, v in flags.items() if v is not None
        )
    if kind is Kind.SHARING_STARTED:
        return p.sharing_content
    return ""


def sighting(event: ZoomEvent) -> Sighting | None:
    """The observation a participant event makes, or None for other events.

    :raises BadPayload: when a participant event has no participant or no time.
    """
    kind = KINDS.get(event.name)
    if kind is None:
        return None
    p = event.participant
    if p is None or event.meeting is None:
        raise BadPayload(f"{event.name} has no participant")
    room = (
        event.meeting.breakout_room_uuid
        if kind in (Kind.BREAKOUT_JOINED, Kind.BREAKOUT_LEFT)
        else ""
    )
    return Sighting(
        key=connection_key(p),
        event=ConnectionEvent(
            kind=kind, at=_event_time(event), room=room, detail=_detail(kind, p)
        ),
        name=p.name,
        email=p.email,
        zoom_user_id=p.zoom_user_id,
        registrant_id=p.registrant_id,
        parent_key=p.parent_user_id,
    )
