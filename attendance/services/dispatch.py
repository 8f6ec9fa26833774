"""Applying stored events: event name -> handler, one savepoint per event, one commit per batch."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select

from attendance.extensions import db
from attendance.models import EventStatus, WebhookEvent
from attendance.models.types import utcnow
from attendance.zoom.events import ZoomEvent, parse_event

log = logging.getLogger(__name__)

Handler = Callable[[ZoomEvent], None]

#: Filled by ``attendance.services.handlers``; keys are real Zoom event names.
HANDLERS: dict[str, Handler] = {}


def is_handled(name: str) -> bool:
    """Whether an event (by its canonical name) has a handler, i.e. is not ignored."""
    _load_handlers()
    return name in HANDLERS


def _load_handlers() -> None:
    if not HANDLERS:
        from attendance.services.handlers import register

        register(HANDLERS)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying one stored event did."""

    id: int
    event: str
    meeting_uuid: str | None
    status: EventStatus
    error: str | None = None


def _apply_one(row: WebhookEvent) -> Outcome:
    """Run the handler of one stored event inside a savepoint; a raise fails only that event."""
    _load_handlers()
    row.attempts = (row.attempts or 0) + 1
    try:
        with db.session.begin_nested():
            event = parse_event(row_payload(row))
            handler = HANDLERS.get(event.name)
            if handler is None:
                status = EventStatus.IGNORED
            else:
                handler(event)
                status = EventStatus.PROCESSED
        row.status, row.error = status, None
    except Exception as exc:  # noqa: BLE001 - any handler error is recorded, not raised
        log.exception("event %s (%s) failed", row.id, row.event)
        row.status = EventStatus.FAILED
        row.error = f"{type(exc).__name__}: {exc}"[:4000]
    row.processed_at = utcnow()
    return Outcome(row.id, row.event, row.meeting_uuid, row.status, row.error)


def row_payload(row: WebhookEvent) -> dict:
    """The decoded body of a stored event."""
    return json.loads(row.body)


def apply_queued(limit: int = 100) -> list[Outcome]:
    """Apply up to ``limit`` queued events, oldest first, and commit once.

    On PostgreSQL the rows are locked with SKIP LOCKED so several workers (one per
    server process) never apply the same event together.
    """
    rows = db.session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.status == EventStatus.QUEUED)
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    outcomes = [_apply_one(row) for row in rows]
    db.session.commit()
    return outcomes


def apply_ids(ids: Iterable[int]) -> list[Outcome]:
    """Apply the given events now, whatever their status (replay), and commit once."""
    rows = db.session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.id.in_(list(ids)))
        .order_by(WebhookEvent.id)
    ).all()
    outcomes = [_apply_one(row) for row in rows]
    db.session.commit()
    return outcomes


def failed_ids() -> list[int]:
    """Ids of every event marked failed, oldest first."""
    return list(
        db.session.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.status == EventStatus.FAILED)
            .order_by(WebhookEvent.id)
        )
    )
