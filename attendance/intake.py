"""How a webhook process stores and applies events: inline, or group commit plus a worker.

``background`` (the server): request greenlets hand their event to one writer task
that commits everything waiting in a single transaction and wakes each request
once its row is durable; a second task applies queued events in batches. Under
SQLite that single writer is also what keeps write transactions from interleaving.
``inline`` (tests, simple tools): the request stores, then applies, itself.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from attendance.errors import StorageUnavailable
from attendance.extensions import db, socketio
from attendance.services import dispatch
from attendance.services.event_log import IncomingEvent, store_events

log = logging.getLogger(__name__)

#: Most rows one commit takes; more would only lengthen the wait of the first request.
WRITE_BATCH = 256
#: Most events applied per transaction by the worker when the intake is idle
#: (~0.5 ms each, during which the event loop serves nothing else).
APPLY_BATCH = 50
#: The worker also wakes this often, for events stored by another process.
APPLY_POLL_SECONDS = 5.0
#: After a wake-up the worker waits this long so that one transaction applies
#: the events of many requests (a burst), not one each; well inside the live
#: dashboard's budget.
APPLY_COALESCE_SECONDS = 0.02
#: Acknowledging Zoom comes first (its 3 s deadline, then retries): while
#: requests keep arriving (a commit within this long), the worker waits…
APPLY_BUSY_SECONDS = 0.01
#: …but never more than this before each batch, and not at all while a live room
#: is open (``Intake.watched``: its viewers wait for every applied event)…
APPLY_MAX_DEFER_SECONDS = 0.03
#: …except in a flood (more than APPLY_FLOOD_RATE events/s over the last
#: APPLY_RATE_WINDOW), when accepting comes first and applying waits up to this…
APPLY_FLOOD_DEFER_SECONDS = 2.0
APPLY_FLOOD_RATE = 400.0
APPLY_RATE_WINDOW = 0.5
#: …in bites while requests are still arriving: a batch blocks the event loop for
#: its duration (~0.3 ms per participant event).
APPLY_BUSY_BATCH = 25


@dataclass(slots=True)
class _Pending:
    item: IncomingEvent
    done: Any
    row_id: int | None = None
    error: Exception | None = None


class Intake:
    """Per-app intake: ``submit`` stores one event durably and says what became of it."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.mode: str = app.config["WEBHOOK_PROCESSING"]
        self.timeout: float = app.config["WEBHOOK_STORE_TIMEOUT_SECONDS"]
        self._queue: Any = None
        self._wake: Any = None
        self._started = False
        self._stopping = False
        self._tasks: list[Any] = []
        self._last_write = 0.0
        #: (monotonic time, events) of recent commits: the arrival rate.
        self._arrivals: deque[tuple[float, int]] = deque()
        #: Whether someone is watching applied events live (set by the realtime
        #: layer): then applying does not wait for the intake to be idle.
        self.watched: Callable[[], bool] = lambda: False

    # -- public ------------------------------------------------------------

    def submit(self, item: IncomingEvent) -> tuple[int | None, str]:
        """Store ``item``; return (row id or None, response status).

        :raises StorageUnavailable: when the event could not be committed in time.
        """
        if self.mode == "inline":
            (row_id,) = store_events([item])
            if row_id is None:
                return None, "duplicate"
            if item.status != "queued":
                return row_id, _answer(item.status)
            (outcome,) = dispatch.apply_ids([row_id])
            return row_id, _answer(outcome.status)
        self.start()
        pending = _Pending(item=item, done=socketio.server.eio.create_event())
        self._queue.put(pending)
        if not pending.done.wait(timeout=self.timeout):
            raise StorageUnavailable("event log did not commit in time")
        if pending.error is not None:
            raise StorageUnavailable(str(pending.error)) from pending.error
        if pending.row_id is None:
            return None, "duplicate"
        if item.status == "queued":
            if not self._wake.is_set():
                self._wake.set()
            return pending.row_id, "queued"
        return pending.row_id, _answer(item.status)

    def start(self) -> None:
        """Start the writer and the worker once (lazily: CLI commands never start them)."""
        if self._started or self.mode != "background":
            return
        self._started = True
        self._queue = socketio.server.eio.create_queue()
        self._wake = socketio.server.eio.create_event()
        self._wake.set()  # apply whatever a previous run left queued
        self._tasks = [
            socketio.start_background_task(self._write_loop),
            socketio.start_background_task(self._apply_loop),
        ]

    def stop(self) -> None:
        """Finish both tasks and wait for them (what is already queued is still written)."""
        if not self._started:
            return
        self._stopping = True
        self._queue.put(None)
        self._wake.set()
        for task in self._tasks:
            # threading.Thread has join(); an eventlet GreenThread has wait().
            (task.join if hasattr(task, "join") else task.wait)()
        self._tasks = []

    # -- tasks -------------------------------------------------------------

    def _write_loop(self) -> None:
        """Commit whatever requests are waiting in one transaction, then wake them."""
        with self.app.app_context():
            while True:
                batch = [self._queue.get()]
                while len(batch) < WRITE_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except Exception:  # noqa: BLE001 - queue.Empty of any async mode
                        break
                stop = any(p is None for p in batch)
                batch = [p for p in batch if p is not None]
                self._write(batch)
                if stop:
                    return

    def _write(self, batch: list[_Pending]) -> None:
        """One transaction for the batch; every waiting request is woken either way."""
        if batch:
            try:
                ids = store_events([p.item for p in batch])
            except StorageUnavailable as exc:
                log.error("event log write failed for %d events: %s", len(batch), exc)
                for p in batch:
                    p.error = exc
            else:
                for p, row_id in zip(batch, ids, strict=True):
                    p.row_id = row_id
            finally:
                db.session.remove()
                self._last_write = time.monotonic()
                self._arrivals.append((self._last_write, len(batch)))
        for p in batch:
            p.done.set()

    def _apply_loop(self) -> None:
        """Apply queued events in batches whenever woken (or every few seconds)."""
        with self.app.app_context():
            while not self._stopping:
                self._wake.wait(timeout=APPLY_POLL_SECONDS)
                socketio.sleep(APPLY_COALESCE_SECONDS)
                self._wake.clear()
                self.drain()

    def _busy(self) -> bool:
        return time.monotonic() - self._last_write < APPLY_BUSY_SECONDS

    def _flooded(self) -> bool:
        """Whether events arrived faster than APPLY_FLOOD_RATE over the last window."""
        horizon = time.monotonic() - APPLY_RATE_WINDOW
        while self._arrivals and self._arrivals[0][0] < horizon:
            self._arrivals.popleft()
        count = sum(n for _at, n in self._arrivals)
        return count > APPLY_FLOOD_RATE * APPLY_RATE_WINDOW

    def _give_way(self) -> int:
        """Wait while the intake is busy (briefly; longer in a flood); return a batch size."""
        if self._flooded():
            defer = APPLY_FLOOD_DEFER_SECONDS
        elif self.watched():
            defer = 0.0
        else:
            defer = APPLY_MAX_DEFER_SECONDS
        deadline = time.monotonic() + defer
        while self._busy() and time.monotonic() < deadline:
            socketio.sleep(APPLY_BUSY_SECONDS)
        return APPLY_BUSY_BATCH if self._busy() else APPLY_BATCH

    def drain(self) -> int:
        """Apply queued events until none is left; return how many were applied."""
        total = 0
        while True:
            limit = self._give_way()
            started = time.perf_counter()
            try:
                outcomes = dispatch.apply_queued(limit)
            except Exception:  # noqa: BLE001 - the worker must survive a database outage
                log.exception("applying queued events failed; retrying later")
                db.session.rollback()
                return total
            finally:
                db.session.remove()
            total += len(outcomes)
            log.debug(
                "applied %d events in %.1f ms",
                len(outcomes),
                (time.perf_counter() - started) * 1000,
            )
            if len(outcomes) < limit:
                return total  # drained; events stored meanwhile set the wake event
            # Under eventlet nothing else runs while a batch applies, so no request
            # is written meanwhile and the intake always *looks* idle right after
            # one: pause long enough for waiting requests to get through before
            # _give_way judges whether the intake is busy.
            socketio.sleep(APPLY_BUSY_SECONDS)


def _answer(status: str) -> str:
    """The response word for a stored event's status (CONTRACT §2 has four)."""
    if status in {"processed", "ignored"}:
        return status
    # A failed event is kept and replayable; for Zoom it was received ("queued").
    return "queued"


def init_app(app: Flask) -> Intake:
    """Attach one ``Intake`` to ``app``."""
    intake = Intake(app)
    app.extensions["attendance.intake"] = intake
    return intake


def get_intake(app: Flask) -> Intake:
    """The app's intake."""
    return app.extensions["attendance.intake"]
