"""Storing verified webhooks in the event log, exactly once each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from attendance.errors import BadPayload, StorageUnavailable
from attendance.extensions import db
from attendance.models import EventStatus, WebhookEvent
from attendance.models.types import utcnow
from attendance.services import dispatch
from attendance.services.sql import insert_ignoring_conflicts
from attendance.zoom.events import (
    canonical_name,
    fallback_dedupe_key,
    parse_envelope,
    parse_event,
)


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """A verified webhook ready to be stored: what the log row will hold."""

    event: str
    event_ts: int | None
    dedupe_key: str
    meeting_uuid: str | None
    zoom_meeting_id: int | None
    body: str
    status: EventStatus
    error: str | None
    received_at: datetime

    @classmethod
    def from_body(cls, body: bytes, data: dict) -> IncomingEvent:
        """Classify a verified body: queued for a handler, ignored, or failed to parse.

        :raises BadPayload: when the body is not UTF-8 or has no event name (400).
        """
        name, event_ts = parse_envelope(data)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadPayload("body is not UTF-8") from exc
        handled = dispatch.is_handled(canonical_name(name))
        try:
            event = parse_event(data)
        except BadPayload as exc:
            # Signed by Zoom but not shaped as documented. An event we handle is
            # kept as failed, for an admin to see and replay once the parser knows
            # the shape; any other event is kept as ignored, as always.
            return cls(
                event=name,
                event_ts=event_ts,
                dedupe_key=fallback_dedupe_key(name, body),
                meeting_uuid=_raw_uuid(data),
                zoom_meeting_id=None,
                body=text,
                status=EventStatus.FAILED if handled else EventStatus.IGNORED,
                error=f"BadPayload: {exc}" if handled else None,
                received_at=utcnow(),
            )
        meeting = event.meeting
        return cls(
            event=name,
            event_ts=event_ts,
            dedupe_key=event.dedupe_key,
            meeting_uuid=meeting.uuid if meeting else None,
            zoom_meeting_id=meeting.zoom_meeting_id if meeting else None,
            body=text,
            status=EventStatus.QUEUED if handled else EventStatus.IGNORED,
            error=None,
            received_at=utcnow(),
        )


def _raw_uuid(data: dict) -> str | None:
    """Best-effort meeting uuid of an unparseable body, for filtering the log."""
    try:
        value = data["payload"]["object"]["uuid"]
    except (KeyError, TypeError):
        return None
    return str(value)[:255] if isinstance(value, str | int) else None


def store_events(items: list[IncomingEvent]) -> list[int | None]:
    """Insert a batch in one transaction; return each item's row id, None for a duplicate.

    One ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key``
    executed for all rows (SQLAlchemy's "insertmanyvalues" batches it); only rows
    actually inserted come back. A key already in the log, or earlier in the
    batch, inserts nothing: a duplicate.

    :raises StorageUnavailable: when the database cannot take the batch.
    """
    if not items:
        return []
    table = WebhookEvent.__table__
    stmt = insert_ignoring_conflicts(table, "dedupe_key").returning(
        table.c.id, table.c.dedupe_key
    )
    try:
        with db.engine.begin() as conn:
            inserted = dict(
                (key, row_id)
                for row_id, key in conn.execute(stmt, [_row(i) for i in items])
            )
    except SQLAlchemyError as exc:
        raise StorageUnavailable(str(exc).splitlines()[0]) from exc
    # The first occurrence of a key takes the row; any repeat is a duplicate.
    return [inserted.pop(item.dedupe_key, None) for item in items]


def _row(item: IncomingEvent) -> dict:
    return {
        "event": item.event,
        "event_ts": item.event_ts,
        "received_at": item.received_at,
        "dedupe_key": item.dedupe_key,
        "meeting_uuid": item.meeting_uuid,
        "zoom_meeting_id": item.zoom_meeting_id,
        "body": item.body,
        "status": item.status.value,
        "error": item.error,
        "attempts": 0,
    }
