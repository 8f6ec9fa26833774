"""Applying stored events: each event's handler, a batch per transaction.

A batch runs as one unit of work: handlers share an ``ApplyContext`` (per-batch
caches, the meetings they touched), autoflush is off, and statuses are written
with one UPDATE per status (and one per failure, with its error). If any handler
raises, the batch is rolled back to its savepoint and replayed one event per
savepoint, so only the faulty event is marked failed. After the commit,
``context.batch_applied`` tells listeners (the live dashboard) what changed.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, MutableMapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from attendance.database import begin_write, is_unavailable
from attendance.extensions import db
from attendance.ingest.context import (
    AppliedBatch,
    ApplyContext,
    Outcome,
    batch_applied,
)
from attendance.ingest.handlers import HANDLERS
from attendance.models import EventStatus, WebhookEvent
from attendance.models.types import utcnow
from attendance.services.generation import regenerate_ended
from attendance.services.participant_sessions import refresh_sessions
from attendance.zoom.events import ZoomEvent, parse_event
from attendance.zoom.sightings import connection_key

log = logging.getLogger(__name__)


_ROW_COLUMNS = (
    WebhookEvent.id,
    WebhookEvent.event,
    WebhookEvent.meeting_uuid,
    WebhookEvent.body,
    WebhookEvent.connection_id,
)


#: Row id -> the event its request already parsed (``Intake``); rows not in it
#: are parsed from their stored body.
Parsed = MutableMapping[int, ZoomEvent]


def _run(row: Any, ctx: ApplyContext, parsed: Parsed) -> EventStatus:
    """Run a stored event's handler; raise whatever the handler raises."""
    event = parsed.pop(row.id, None) or parse_event(json.loads(row.body))
    handler = HANDLERS.get(event.name)
    if handler is None:
        return EventStatus.IGNORED
    # The meeting it touches records the connection whose URL received it.
    ctx.connection_id = row.connection_id
    handler(event, ctx)
    if event.meeting is not None:
        key = connection_key(event.participant) if event.participant else None
        ctx.heard.append((event.name, event.meeting.uuid, key))
    return EventStatus.PROCESSED


def _outcome(row: Any, status: EventStatus, error: str | None = None) -> Outcome:
    return Outcome(row.id, row.event, row.meeting_uuid, status, error, body=row.body)


def _apply_rows(
    rows: Sequence[Any], parsed: Parsed
) -> tuple[list[Outcome], ApplyContext]:
    """Apply rows in the session's transaction (the caller commits)."""
    ctx = ApplyContext()
    try:
        with db.session.begin_nested(), db.session.no_autoflush:
            outcomes = [_outcome(r, _run(r, ctx, parsed)) for r in rows]
            ctx.finish()
            db.session.flush()
    except Exception:  # noqa: BLE001 - replayed below, one savepoint per event
        log.info("a handler failed in a batch of %d; isolating events", len(rows))
        db.session.expire_all()
        outcomes, ctx = _apply_isolated(rows, parsed)
    _record(outcomes)
    return outcomes, ctx


def _apply_isolated(
    rows: Sequence[Any], parsed: Parsed
) -> tuple[list[Outcome], ApplyContext]:
    """Run each event in its own savepoint so that a raise fails only that event."""
    outcomes: list[Outcome] = []
    # Isolated events each bumped versions separately: no changed_connections,
    # so a connections cache reloads fully.
    merged = ApplyContext()
    for row in rows:
        ctx = ApplyContext()
        try:
            with db.session.begin_nested(), db.session.no_autoflush:
                status = _run(row, ctx, parsed)
                ctx.finish()
                db.session.flush()
        except Exception as exc:  # noqa: BLE001 - recorded on the event, not raised
            log.exception("event %s (%s) failed", row.id, row.event)
            db.session.expire_all()
            error = f"{type(exc).__name__}: {exc}"[:4000].replace("\x00", "")
            outcomes.append(_outcome(row, EventStatus.FAILED, error))
            continue
        merged.merge(ctx)
        outcomes.append(_outcome(row, status))
    return outcomes, merged


def _record(outcomes: Sequence[Outcome]) -> None:
    """Write statuses back: one UPDATE per status, one per failure (its own error)."""
    now = utcnow()
    by_status: dict[EventStatus, list[int]] = defaultdict(list)
    for o in outcomes:
        if o.status is EventStatus.FAILED:
            _set_status([o.id], o.status, o.error, now)
        else:
            by_status[o.status].append(o.id)
    for status, ids in by_status.items():
        _set_status(ids, status, None, now)


def _set_status(
    ids: list[int], status: EventStatus, error: str | None, now: datetime
) -> None:
    db.session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(ids))
        .values(
            status=status,
            error=error,
            attempts=WebhookEvent.attempts + 1,
            processed_at=now,
        )
        .execution_options(synchronize_session=False)
    )


class BatchFailed(Exception):
    """Applying a batch failed for a reason other than the database's availability.

    Handlers' errors are already confined to their event; this is what is left
    (regenerating a meeting, writing statuses, a value the database refuses).
    The batch was rolled back; ``ids`` are its events, still queued.
    """

    def __init__(self, ids: list[int], cause: BaseException) -> None:
        super().__init__(f"a batch of {len(ids)} events failed: {type(cause).__name__}")
        self.ids = ids


def apply_queued(
    limit: int = 100,
    ids: Sequence[int] | None = None,
    parsed: Parsed | None = None,
) -> list[Outcome]:
    """Apply up to ``limit`` queued events (of ``ids`` if given), oldest first; commit once.

    ``parsed`` holds events already parsed by their requests (used and removed).

    On PostgreSQL the rows are locked with SKIP LOCKED so several workers (one per
    server process) never apply the same event together.

    :raises BatchFailed: when the batch fails for its content (rolled back).
    """
    begin_write()
    query = select(*_ROW_COLUMNS).where(WebhookEvent.status == EventStatus.QUEUED)
    if ids is not None:
        query = query.where(WebhookEvent.id.in_(list(ids)))
    rows = db.session.execute(
        query.order_by(WebhookEvent.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    if not rows:
        db.session.rollback()
        return []
    try:
        outcomes, ctx = _apply_rows(rows, {} if parsed is None else parsed)
        _after_batch(ctx)
        applied = _applied(outcomes, ctx)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        if is_unavailable(exc):
            raise
        log.exception("applying events %s failed", [r.id for r in rows])
        raise BatchFailed([r.id for r in rows], exc) from exc
    _announce(applied)
    return outcomes


def apply_singly(ids: Sequence[int]) -> list[Outcome]:
    """Apply each of ``ids`` (still queued) in its own transaction; mark any that fails.

    The fallback after :class:`BatchFailed`: one poison event no longer keeps the
    others of its batch queued forever, and is itself kept as failed, with its
    error, for an admin to see and replay.
    """
    outcomes: list[Outcome] = []
    for event_id in ids:
        try:
            outcomes += apply_queued(1, ids=[event_id])
        except BatchFailed as exc:
            error = f"{type(exc.__cause__).__name__}: {exc.__cause__}"[:4000]
            _mark_failed(event_id, error.replace("\x00", ""))
            outcomes.append(Outcome(event_id, "", None, EventStatus.FAILED, error))
    return outcomes


def _mark_failed(event_id: int, error: str) -> None:
    """Mark one queued event failed, in a transaction of its own."""
    try:
        begin_write()
        _set_status([event_id], EventStatus.FAILED, error, utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _applied(outcomes: Sequence[Outcome], ctx: ApplyContext) -> AppliedBatch:
    """What the batch did, read before the commit.

    After it the batch's rows are expired: reading a participant's id then would
    load the row again, a query per participant, on the event loop.
    """
    return AppliedBatch(
        outcomes=tuple(outcomes),
        notices=tuple(ctx.notices()),
        changed_connections=dict(ctx.changed_connections),
        presence=tuple(ctx.presence.values()),
    )


def _announce(batch: AppliedBatch) -> None:
    """Tell listeners what the committed batch did; what they break is logged, never raised."""
    for receiver in batch_applied.receivers_for(None):
        try:
            receiver(None, batch=batch)
        except Exception:  # noqa: BLE001 - the events are committed; the emit is extra
            log.exception("batch_applied receiver %r failed", receiver)
            db.session.rollback()


def _after_batch(ctx: ApplyContext) -> None:
    """Re-sweep touched connections; regenerate ended meetings the batch touched."""
    refresh_sessions(ctx.sessions_dirty)
    if ctx.touched:
        regenerate_ended(ctx.touched, ctx.changed_connections)


def apply_ids(ids: Iterable[int]) -> list[Outcome]:
    """Apply the given events now, whatever their status (replay), and commit once."""
    begin_write()
    rows = db.session.execute(
        select(*_ROW_COLUMNS)
        .where(WebhookEvent.id.in_(list(ids)))
        .order_by(WebhookEvent.id)
    ).all()
    if not rows:
        return []
    outcomes, ctx = _apply_rows(rows, {})
    _after_batch(ctx)
    applied = _applied(outcomes, ctx)
    db.session.commit()
    _announce(applied)
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
