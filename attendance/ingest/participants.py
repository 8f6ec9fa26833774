"""Participant events: each connection's identity and the set of its events."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, update

from attendance.core.sightings import Identity, Sighting, merge_identity
from attendance.extensions import db
from attendance.ingest.context import ApplyContext
from attendance.ingest.meetings import upsert_meeting
from attendance.models import Meeting, Participant, ParticipantEvent
from attendance.models.types import to_micros
from attendance.services.sql import insert_ignoring_conflicts
from attendance.zoom.events import ZoomEvent
from attendance.zoom.sightings import sighting


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
    """Any participant event: queue its sighting; ``write_sightings`` stores the batch's."""
    seen = sighting(event)
    assert seen is not None and event.meeting is not None  # noqa: S101 - routed by name
    meeting = upsert_meeting(event.meeting, ctx)
    p = event.participant
    extras = (p.participant_uuid, p.customer_key) if p is not None else ("", "")
    ctx.sightings.append((meeting.id, seen, *extras))
    ctx.finish_with(write_sightings)


def write_sightings(ctx: ApplyContext) -> None:
    """Store a batch's sightings in a handful of statements.

    One SELECT of the batch's connections per meeting, one executemany INSERT of
    the new ones (``ON CONFLICT DO NOTHING``: another worker may race us), the
    identity merges on the loaded rows, and one executemany INSERT of the events.
    """
    pending, ctx.sightings = ctx.sightings, []
    if not pending:
        return
    wanted: dict[int, set[str]] = defaultdict(set)
    for meeting_id, seen, *_ in pending:
        wanted[meeting_id].add(seen.key)
    rows = _load_participants(wanted, ctx)
    missing = [
        (mid, key)
        for mid, keys in wanted.items()
        for key in keys
        if (mid, key) not in rows
    ]
    if missing:
        db.session.execute(
            insert_ignoring_conflicts(Participant.__table__, "meeting_id", "user_key"),
            [{"meeting_id": mid, "user_key": key[:255]} for mid, key in missing],
        )
        again: dict[int, set[str]] = defaultdict(set)
        for mid, key in missing:
            again[mid].add(key)
        rows.update(_load_participants(again, ctx))
    events = []
    for meeting_id, seen, participant_uuid, customer_key in pending:
        participant = rows[meeting_id, seen.key]
        _merge(participant, seen)
        if participant_uuid and not participant.participant_uuid:
            participant.participant_uuid = participant_uuid[:100]
        if customer_key and not participant.customer_key:
            participant.customer_key = customer_key[:100]
        ctx.sessions_dirty.add(participant.id)
        events.append(
            {
                "meeting_id": meeting_id,
                "participant_id": participant.id,
                "kind": seen.event.kind.value,
                "at_us": to_micros(seen.event.at),
                "room": seen.event.room[:255],
                "detail": seen.event.detail[:100],
            }
        )
    db.session.execute(
        insert_ignoring_conflicts(
            ParticipantEvent.__table__,
            "participant_id",
            "kind",
            "at_us",
            "room",
            "detail",
        ),
        events,
    )
    for meeting_id, keys in wanted.items():
        # Atomic (UPDATE … RETURNING): concurrent batches of other processes get
        # distinct versions, so a cache can tell its copy is one step behind.
        version = db.session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(events_version=Meeting.events_version + 1)
            .returning(Meeting.events_version)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        dirty = {rows[meeting_id, key].id for key in keys}
        ctx.changed_connections[meeting_id] = (version, dirty)


def _load_participants(
    wanted: dict[int, set[str]], ctx: ApplyContext
) -> dict[tuple[int, str], Participant]:
    """The rows of the wanted connections that exist (cached for the batch)."""
    found: dict[tuple[int, str], Participant] = {}
    for meeting_id, keys in wanted.items():
        lookup = [k for k in keys if (meeting_id, k) not in ctx.participants]
        if lookup:
            for row in db.session.scalars(
                select(Participant).where(
                    Participant.meeting_id == meeting_id,
                    Participant.user_key.in_(lookup),
                )
            ):
                ctx.participants[meeting_id, row.user_key] = row
        for key in keys:
            known = ctx.participants.get((meeting_id, key))
            if known is not None:
                found[meeting_id, key] = known
    return found
