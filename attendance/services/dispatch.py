"""Applying stored events: event name -> handler, a batch per transaction.

A batch runs as one unit of work: handlers share an ``ApplyContext`` (per-batch
caches, the meetings they touched), autoflush is off, and statuses are written
with one UPDATE per outcome. If any handler raises, the batch is rolled back to
its savepoint and replayed one event per savepoint, so only the faulty event is
marked failed.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from attendance.database import begin_write, is_unavailable
from attendance.extensions import db
from attendance.models import EventStatus, Meeting, WebhookEvent
from attendance.models.types import utcnow
from attendance.zoom.events import ZoomEvent, parse_event
from attendance.zoom.sightings import connection_key

log = logging.getLogger(__name__)


@dataclass
class ApplyContext:
    """State shared by the handlers of one batch."""

    #: Meeting rows by uuid, so a batch looks each meeting up once.
    meetings: dict[str, Meeting] = field(default_factory=dict)
    #: Participant rows by (meeting id, connection key).
    participants: dict[tuple[int, str], Any] = field(default_factory=dict)
    #: Connections whose events changed: their sessions are re-swept after the batch.
    sessions_dirty: set[int] = field(default_factory=set)
    #: Per meeting: (its events_version after this batch, the connections it changed).
    changed_connections: dict[int, tuple[int, set[int]]] = field(default_factory=dict)
    #: Participant sightings queued by handlers, written together by a finisher.
    sightings: list[Any] = field(default_factory=list)
    #: Run once after the batch's handlers (in its savepoint): bulk writes.
    finishers: list[Callable[[ApplyContext], None]] = field(default_factory=list)

    def finish_with(self, finisher: Callable[[ApplyContext], None]) -> None:
        """Have ``finisher`` run once after this batch's handlers."""
        if finisher not in self.finishers:
            self.finishers.append(finisher)

    def finish(self) -> None:
        """Run the finishers, then flush the session."""
        for finisher in self.finishers:
            finisher(self)
        db.session.flush()

    #: Ids of the meetings whose events this batch applied.
    touched: set[int] = field(default_factory=set)
    #: What each applied event was about, for the live dashboard after the commit.
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Notice:
    """An applied event as the dashboard hears of it: name, meeting, connection."""

    event: str
    meeting_uuid: str
    #: The participant's connection key (``participants.user_key``), if any.
    connection_key: str | None = None


#: Called with (outcomes, context, rows) after each batch commits: the live
#: dashboard's emits. Never inside the transaction (SQLite under eventlet: an
#: emit that yields mid-transaction stalls every other writer).
AfterCommit = Callable[[Sequence["Outcome"], ApplyContext, Sequence[Any]], None]
after_commit: list[AfterCommit] = []


Handler = Callable[[ZoomEvent, ApplyContext], None]

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


_ROW_COLUMNS = (
    WebhookEvent.id,
    WebhookEvent.event,
    WebhookEvent.meeting_uuid,
    WebhookEvent.body,
)


def _run(row: Any, ctx: ApplyContext) -> EventStatus:
    """Parse a stored event and run its handler; raise whatever the handler raises."""
    _load_handlers()
    event = parse_event(json.loads(row.body))
    handler = HANDLERS.get(event.name)
    if handler is None:
        return EventStatus.IGNORED
    handler(event, ctx)
    if event.meeting is not None:
        key = connection_key(event.participant) if event.participant else None
        ctx.notices.append(Notice(event.name, event.meeting.uuid, key))
    return EventStatus.PROCESSED


def _apply_rows(rows: Sequence[Any]) -> tuple[list[Outcome], ApplyContext]:
    """Apply rows in the session's transaction (the caller commits)."""
    ctx = ApplyContext()
    try:
        with db.session.begin_nested(), db.session.no_autoflush:
            outcomes = [
                Outcome(r.id, r.event, r.meeting_uuid, _run(r, ctx)) for r in rows
            ]
            ctx.finish()
    except Exception:  # noqa: BLE001 - replayed below, one savepoint per event
        log.info("a handler failed in a batch of %d; isolating events", len(rows))
        db.session.expire_all()
        outcomes, ctx = _apply_isolated(rows)
    _record(outcomes)
    return outcomes, ctx


def _apply_isolated(rows: Sequence[Any]) -> tuple[list[Outcome], ApplyContext]:
    """Run each event in its own savepoint so that a raise fails only that event."""
    outcomes: list[Outcome] = []
    touched: set[int] = set()
    dirty: set[int] = set()
    notices: list[Notice] = []
    for row in rows:
        ctx = ApplyContext()
        try:
            with db.session.begin_nested(), db.session.no_autoflush:
                status = _run(row, ctx)
                ctx.finish()
        except Exception as exc:  # noqa: BLE001 - recorded on the event, not raised
            log.exception("event %s (%s) failed", row.id, row.event)
            db.session.expire_all()
            error = f"{type(exc).__name__}: {exc}"[:4000].replace("\x00", "")
            outcomes.append(
                Outcome(row.id, row.event, row.meeting_uuid, EventStatus.FAILED, error)
            )
            continue
        touched |= ctx.touched
        dirty |= ctx.sessions_dirty
        notices += ctx.notices
        outcomes.append(Outcome(row.id, row.event, row.meeting_uuid, status))
    # Isolated events each bumped versions separately: the cache reloads fully.
    return outcomes, ApplyContext(
        touched=touched, sessions_dirty=dirty, notices=notices
    )


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


def _set_status(ids: list[int], status: EventStatus, error: str | None, now) -> None:
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


def apply_queued(limit: int = 100, ids: Sequence[int] | None = None) -> list[Outcome]:
    """Apply up to ``limit`` queued events (of ``ids`` if given), oldest first; commit once.

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
        outcomes, ctx = _apply_rows(rows)
        _after_batch(ctx)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        if is_unavailable(exc):
            raise
        log.exception("applying events %s failed", [r.id for r in rows])
        raise BatchFailed([r.id for r in rows], exc) from exc
    _announce(outcomes, ctx, rows)
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


def _announce(
    outcomes: Sequence[Outcome], ctx: ApplyContext, rows: Sequence[Any]
) -> None:
    """Run the after-commit listeners; what they break is logged, never raised."""
    for listener in after_commit:
        try:
            listener(outcomes, ctx, rows)
        except Exception:  # noqa: BLE001 - the events are committed; the emit is extra
            log.exception("after-commit listener %r failed", listener)
            db.session.rollback()


def _after_batch(ctx: ApplyContext) -> None:
    """Re-sweep touched connections; regenerate ended meetings the batch touched."""
    from attendance.services.generation import regenerate_ended
    from attendance.services.participant_sessions import refresh_sessions

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
    outcomes, ctx = _apply_rows(rows)
    _after_batch(ctx)
    db.session.commit()
    _announce(outcomes, ctx, rows)
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
