"""Event-log retention: delete applied webhook bodies (e-mails, names) once they are old.

Only ``processed`` and ``ignored`` events go. Their effects live on in the
participant rows they wrote: attendance is regenerated from ``participant_events``,
never from ``webhook_events`` (see ``services.generation``), so deleting the raw
body loses nothing a later recomputation reads. ``queued`` events are not applied
yet and ``failed`` ones wait for an admin to replay them: both are kept whatever
their age. A Zoom retry of a deleted event (they stop within hours) would be
stored and applied again, which the handlers take as a no-op.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, or_, select

from attendance.database import begin_write
from attendance.extensions import db
from attendance.models import EventStatus, WebhookEvent
from attendance.models.types import utcnow

log = logging.getLogger(__name__)

#: Rows read (and at most deleted) per transaction. SQLite holds the event loop
#: while it works: 200 rows took 4-9 ms on a busy 2-core machine, 500 took 16 ms.
BATCH_SIZE = 200

#: Statuses whose bodies nothing reads again.
PURGEABLE = (EventStatus.PROCESSED, EventStatus.IGNORED)


def cutoff(days: int, now: datetime | None = None) -> datetime:
    """The instant before which events are old enough to purge."""
    return (now or utcnow()) - timedelta(days=days)


def purge_events(before: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Delete processed and ignored events received before ``before``; return how many.

    Each batch is its own short transaction (commits inside, as a job's unit of
    work), and the loop yields between batches, so neither the write lock nor the
    event loop is held for long. Batches walk the ``received_at`` index with a
    keyset and read the status from the rows: a status filter in the query made
    SQLite pick the status index and sort every old row, batch after batch.
    """
    deleted = 0
    last: tuple[datetime, int] | None = None
    while True:
        query = (
            select(WebhookEvent.received_at, WebhookEvent.id, WebhookEvent.status)
            .where(WebhookEvent.received_at < before)
            .order_by(WebhookEvent.received_at, WebhookEvent.id)
            .limit(batch_size)
        )
        if last is not None:
            # After the last row seen; the plain >= lets the index range start there.
            last_at, last_id = last
            query = query.where(
                WebhookEvent.received_at >= last_at,
                or_(WebhookEvent.received_at > last_at, WebhookEvent.id > last_id),
            )
        begin_write()
        try:
            rows = db.session.execute(query).all()
            doomed = [row.id for row in rows if row.status in PURGEABLE]
            if doomed:
                result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
                    delete(WebhookEvent)
                    .where(
                        WebhookEvent.id.in_(doomed),
                        # A replay may have failed the event meanwhile: keep it then.
                        WebhookEvent.status.in_(PURGEABLE),
                    )
                    .execution_options(synchronize_session=False)
                )
                deleted += result.rowcount
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        if len(rows) < batch_size:
            break
        last = (rows[-1].received_at, rows[-1].id)
        # Let the intake (and, under eventlet, everything else) in between batches.
        time.sleep(0)
    if deleted:
        log.info("purged %d webhook events received before %s", deleted, before)
    return deleted
