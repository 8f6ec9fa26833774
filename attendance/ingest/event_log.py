"""Storing verified webhooks in the event log, exactly once each."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_

from attendance.database import bound_statement_time, is_unavailable
from attendance.errors import BadPayload, StorageUnavailable, UnstorableEvent
from attendance.extensions import db
from attendance.models import EventStatus, WebhookEvent, ZoomConnection
from attendance.models.types import utcnow
from attendance.services.sql import insert_ignoring_conflicts
from attendance.zoom.catalog import is_handled
from attendance.zoom.events import (
    ZoomEvent,
    fallback_dedupe_key,
    parse_envelope,
    parse_event,
    raw_meeting_uuid,
)
from attendance.zoom.redact import redact_body

log = logging.getLogger(__name__)

#: Longest a store transaction may wait on a lock or run (PostgreSQL), so a
#: locked table turns into a fast 503 instead of a request that hangs.
STORE_STATEMENT_MS = 1000


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
    #: The event as parsed from ``body`` (None when the stored body differs from
    #: what was parsed, i.e. redacted): the worker applies it without parsing again.
    parsed: ZoomEvent | None = field(default=None, compare=False, repr=False)
    #: The Zoom connection whose URL received it (None: the environment's URL).
    connection_id: int | None = None

    @classmethod
    def from_body(
        cls, body: bytes, data: dict[str, Any], connection_id: int | None = None
    ) -> IncomingEvent:
        """Classify a verified body: queued for a handler, ignored, or failed to parse.

        :raises BadPayload: when the body is not UTF-8 or has no event name (400).
        """
        name, event_ts = parse_envelope(data)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadPayload("body is not UTF-8") from exc
        handled = is_handled(name)
        # Download tokens are credentials to the recordings: never kept (the
        # dedupe key is computed from the event, so retries still collapse).
        stored = redact_body(text)
        try:
            event = parse_event(data)
        except Exception as exc:  # noqa: BLE001 - BadPayload, or a parser bug: kept
            # Signed by Zoom but not shaped as documented. An event we handle is
            # kept as failed, for an admin to see and replay once the parser knows
            # the shape; any other event is kept as ignored, as always.
            return cls(
                event=name,
                event_ts=event_ts,
                dedupe_key=fallback_dedupe_key(name, body),
                meeting_uuid=raw_meeting_uuid(data),
                zoom_meeting_id=None,
                body=stored,
                status=EventStatus.FAILED if handled else EventStatus.IGNORED,
                error=f"{type(exc).__name__}: {exc}"[:4000] if handled else None,
                received_at=utcnow(),
                connection_id=connection_id,
            )
        meeting = event.meeting
        queued = handled and stored is text
        return cls(
            event=name,
            event_ts=event_ts,
            dedupe_key=event.dedupe_key,
            meeting_uuid=meeting.uuid if meeting else None,
            zoom_meeting_id=meeting.zoom_meeting_id if meeting else None,
            body=stored,
            status=EventStatus.QUEUED if handled else EventStatus.IGNORED,
            error=None,
            received_at=utcnow(),
            parsed=event if queued else None,
            connection_id=connection_id,
        )

    def unstorable(self, reason: str) -> IncomingEvent:
        """This event as a failed row that any database can hold.

        The name is escaped to printable ASCII and cut to its column, the parsed
        columns (which held the offending value) are dropped, and the key is the
        body's digest; the verified body is kept as received (any character UTF-8
        cannot hold escaped).
        """
        name = self.event.encode("ascii", "backslashreplace").decode("ascii")
        name = name.replace("\x00", "\\x00")[:100] or "?"
        body = self.body.encode("utf-8", "backslashreplace").decode("utf-8")
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        return replace(
            self,
            event=name,
            event_ts=None,
            dedupe_key=digest,
            meeting_uuid=None,
            zoom_meeting_id=None,
            body=body,
            status=EventStatus.FAILED,
            error=f"not storable as parsed: {reason}"[:4000].replace("\x00", ""),
            parsed=None,
        )


def store_events(items: list[IncomingEvent]) -> list[int | None]:
    """Insert a batch in one transaction; return each item's row id, None for a duplicate.

    One ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key``
    executed for all rows (SQLAlchemy's "insertmanyvalues" batches it); only rows
    actually inserted come back. A key already in the log, or earlier in the
    batch, inserts nothing: a duplicate.

    :raises StorageUnavailable: when the database cannot take the batch now.
    :raises UnstorableEvent: when the rows themselves are refused (a value a
        column cannot hold): retrying the same batch would fail again.
    """
    if not items:
        return []
    table = WebhookEvent.__table__
    stmt = insert_ignoring_conflicts(table, "dedupe_key").returning(
        table.c.id, table.c.dedupe_key
    )
    try:
        with db.engine.begin() as conn:
            bound_statement_time(conn, STORE_STATEMENT_MS)
            result = conn.execute(stmt, [_row(i) for i in items])
            inserted: dict[str, int] = {row.dedupe_key: row.id for row in result}
            _touch_connections(conn, items)
    except Exception as exc:  # noqa: BLE001 - classified: retry later, or the data
        message = _first_line(exc)
        if is_unavailable(exc):
            raise StorageUnavailable(message) from exc
        raise UnstorableEvent(message) from exc
    # The first occurrence of a key takes the row; any repeat is a duplicate.
    return [inserted.pop(item.dedupe_key, None) for item in items]


#: How stale a connection's ``last_event_at`` may get before a batch rewrites it.
TOUCH_EVERY = timedelta(seconds=1)


def _touch_connections(conn: Any, items: list[IncomingEvent]) -> None:
    """Set ``last_event_at`` of the connections in the batch: one statement a batch.

    The writer commits many requests at once, so this runs once per batch, not
    per request, and never for the environment's URL (no connection).
    """
    ids = {i.connection_id for i in items if i.connection_id is not None}
    if not ids:
        return
    table = ZoomConnection.__table__
    at = max(i.received_at for i in items if i.connection_id is not None)
    # At most once a second per connection: in a flood every batch rewrote the
    # same row (a hot row on PostgreSQL, contending with an admin's edit).
    conn.execute(
        table.update()
        .where(
            table.c.id.in_(sorted(ids)),
            or_(
                table.c.last_event_at.is_(None),
                table.c.last_event_at < at - TOUCH_EVERY,
            ),
        )
        .values(last_event_at=at)
    )


def store_each(items: list[IncomingEvent]) -> list[int | None | StorageUnavailable]:
    """Store ``items`` one transaction each, keeping what the database refuses as failed.

    The fallback for a batch that :func:`store_events` refused for its data: the
    good events are stored as they are, and an event that cannot be stored as
    parsed is stored as :meth:`IncomingEvent.unstorable` (the verified body, kept
    for an admin to see and replay). An item whose storage failed for want of a
    database gets its ``StorageUnavailable`` in its place.
    """
    results: list[int | None | StorageUnavailable] = []
    for item in items:
        try:
            results.extend(_store_one(item))
        except StorageUnavailable as exc:
            results.append(exc)
    return results


def _store_one(item: IncomingEvent) -> list[int | None]:
    try:
        return store_events([item])
    except UnstorableEvent as exc:
        log.warning("event %r kept as failed: %s", item.event[:100], exc)
        try:
            return store_events([item.unstorable(str(exc))])
        except UnstorableEvent as again:
            raise StorageUnavailable(f"event cannot be stored: {again}") from again


def probe_write() -> None:
    """Write and delete one row in a committed transaction: can the event log take writes?

    ``SELECT 1`` succeeds on a full disk or beside a locked table while every
    webhook is refused; health asks this instead once writes have failed.

    :raises StorageUnavailable: when it cannot.
    """
    table = WebhookEvent.__table__
    key = "probe:" + uuid.uuid4().hex
    try:
        with db.engine.begin() as conn:
            bound_statement_time(conn, STORE_STATEMENT_MS)
            conn.execute(
                table.insert().values(
                    event="health.probe",
                    received_at=utcnow(),
                    dedupe_key=key[:64],
                    body="{}",
                    status=EventStatus.IGNORED.value,
                    attempts=0,
                )
            )
            conn.execute(table.delete().where(table.c.dedupe_key == key[:64]))
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot write
        raise StorageUnavailable(_first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:500]


def _row(item: IncomingEvent) -> dict[str, Any]:
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
        "connection_id": item.connection_id,
    }
