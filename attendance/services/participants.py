"""Participant events: each connection's identity and the set of its events."""

from __future__ import annotations

from sqlalchemy import select

from attendance.core.sightings import Identity, Sighting, merge_identity
from attendance.extensions import db
from attendance.models import Participant, ParticipantEvent
from attendance.models.types import to_micros
from attendance.services.dispatch import ApplyContext
from attendance.services.meetings import upsert_meeting
from attendance.services.sql import insert_ignoring_conflicts
from attendance.zoom.events import ZoomEvent
from attendance.zoom.sightings import sighting


def _participant(meeting_id: int, key: str, ctx: ApplyContext) -> Participant:
    """The row of connection ``key``, created race-free if new; cached for the batch."""
    cache_key = (meeting_id, key)
    participant = ctx.participants.get(cache_key)
    if participant is not None:
        return participant
    query = select(Participant).where(
        Participant.meeting_id == meeting_id, Participant.user_key == key
    )
    participant = db.session.scalar(query)
    if participant is None:
        db.session.execute(
            insert_ignoring_conflicts(
                Participant.__table__, "meeting_id", "user_key"
            ).values(meeting_id=meeting_id, user_key=key)
        )
        participant = db.session.scalar(query)
    assert participant is not None  # noqa: S101 - inserted just above
    ctx.participants[cache_key] = participant
    return participant


def _merge(participant: Participant, seen: Sighting) -> None:
    """Apply the earliest-wins identity rule of ``core.sightings`` to the stored row."""
    before = Identity(
        name=participant.name or "",
        name_at=participant.name_at,
        email=participant.email or "",
        email_at=participant.email_at,
        zoom_user_id=participant.zoom_user_id or "",
        registrant_id=participant.registrant_id or "",
        parent_key=participant.parent_key or "",
    )
    after = merge_identity(before, seen)
    if after != before:
        participant.name, participant.name_at = after.name[:300], after.name_at
        participant.email, participant.email_at = after.email[:254], after.email_at
        participant.zoom_user_id = after.zoom_user_id[:100]
        participant.registrant_id = after.registrant_id[:100]
        participant.parent_key = after.parent_key[:255]
    at = seen.event.at
    if participant.first_event_at is None or at < participant.first_event_at:
        participant.first_event_at = at


def record_participant_event(event: ZoomEvent, ctx: ApplyContext) -> None:
    """Any participant event: keep the connection's identity and add the event to its set."""
    seen = sighting(event)
    assert seen is not None and event.meeting is not None  # noqa: S101 - routed by name
    meeting = upsert_meeting(event.meeting, ctx)
    participant = _participant(meeting.id, seen.key, ctx)
    _merge(participant, seen)
    p = event.participant
    if p is not None:
        if p.participant_uuid and not participant.participant_uuid:
            participant.participant_uuid = p.participant_uuid[:100]
        if p.customer_key and not participant.customer_key:
            participant.customer_key = p.customer_key[:100]
    ctx.sessions_dirty.add(participant.id)
    db.session.execute(
        insert_ignoring_conflicts(
            ParticipantEvent.__table__,
            "participant_id",
            "kind",
            "at_us",
            "room",
            "detail",
        ).values(
            meeting_id=meeting.id,
            participant_id=participant.id,
            kind=seen.event.kind.value,
            at_us=to_micros(seen.event.at),
            room=seen.event.room[:255],
            detail=seen.event.detail[:100],
        )
    )
