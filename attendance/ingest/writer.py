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
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from attendance.database import is_unavailable
from attendance.errors import StorageUnavailable, UnstorableEvent
from attendance.extensions import db, socketio
from attendance.ingest import applier
from attendance.ingest.event_log import (
    IncomingEvent,
    probe_write,
    store_each,
    store_events,
)
from attendance.zoom.events import ZoomEvent

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
#: …but this many in a flood, when per-batch costs would otherwise dominate.
APPLY_FLOOD_BATCH = 100
#: A store refused because the database is locked or busy is tried again this
#: often while its request still waits (SQLite's busy wait is kept short under
#: eventlet, so the wait happens here, cooperatively).
STORE_RETRY_SECONDS = 0.05
#: Events parsed by the requests and kept for the worker, so that it applies
#: them without parsing their bodies again. Outside a flood the worker applies
#: within tens of milliseconds, so a few hundred cover it; in a flood, when
#: applying waits, keeping thousands alive made every garbage-collector pass
#: longer (bench/ingest.py: p99 73 -> 95 ms, 7% fewer requests/s). Beyond this
#: many the oldest are dropped and parsed again from the log.
PARSED_KEPT = 500
#: After a failed write, health probes a real write at most this often.
PROBE_INTERVAL_SECONDS = 1.0
#: A write that has been running this long with requests waiting on it means
#: the intake cannot accept events now (a hung database): health says degraded.
WRITE_STALL_SECONDS = 1.0
#: Pause before restarting a task that crashed, and after an unavailable database.
RESTART_PAUSE_SECONDS = 0.5
#: …doubling, up to this, while it keeps crashing right after each restart.
RESTART_MAX_PAUSE_SECONDS = 30.0


@dataclass(slots=True)
class _Pending:
    item: IncomingEvent
    done: Any
    row_id: int | None = None
    error: Exception | None = None
    queued_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class IntakeState:
    """What the intake knows about itself, for health: answered from memory."""

    mode: str
    writer: str  # "ok" | "stalled" | "down" | "inline"
    worker: str  # "ok" | "down" | "inline"
    waiting: int
    accepting: bool
    restarts: int


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
        #: Task name -> whether its loop is running (False while it restarts).
        self._alive: dict[str, bool] = {"writer": False, "worker": False}
        self._restarts = 0
        #: monotonic start of the write in progress (None when idle).
        self._writing_since: float | None = None
        #: The last store failure for want of a database, until a write succeeds.
        self._write_error: str | None = None
        self._last_probe = 0.0
        #: Row id -> the event as its request parsed it (see PARSED_KEPT).
        self._parsed: OrderedDict[int, ZoomEvent] = OrderedDict()
        #: Counts stores that kept something: health's cached figures are stale
        #: once it moves.
        self.writes = 0

    # -- public ------------------------------------------------------------

    def submit(self, item: IncomingEvent) -> tuple[int | None, str]:
        """Store ``item``; return (row id or None, response status).

        :raises StorageUnavailable: when the event could not be committed in time.
        """
        if self.mode == "inline":
            return self._submit_inline(item)
        self.start()
        pending = _Pending(item=item, done=socketio.server.eio.create_event())
        self._queue.put(pending)
        if not pending.done.wait(timeout=self.timeout):
            # The writer may still commit it later: then Zoom's retry is a duplicate.
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

    def _submit_inline(self, item: IncomingEvent) -> tuple[int | None, str]:
        """Store, then apply, in the request: the same guarantees as the writer's."""
        (result,) = store_each([item])  # an unstorable event is kept as failed
        if isinstance(result, StorageUnavailable):
            raise result
        self.writes += 1
        if result is None:
            return None, "duplicate"
        if item.status != "queued":
            return result, _answer(item.status)
        try:
            outcomes = applier.apply_singly([result])
        except Exception as exc:  # noqa: BLE001 - stored: the worker's poll retries it
            db.session.rollback()
            log.warning("event %s stored, not applied yet: %s", result, exc)
            return result, "queued"
        return result, _answer(outcomes[0].status) if outcomes else "queued"

    def start(self) -> None:
        """Start the writer and the worker once (lazily: CLI commands never start them)."""
        if self._started or self.mode != "background":
            return
        self._started = True
        self._queue = socketio.server.eio.create_queue()
        self._wake = socketio.server.eio.create_event()
        self._wake.set()  # apply whatever a previous run left queued
        self._tasks = [
            socketio.start_background_task(self._supervise, "writer", self._write_loop),
            socketio.start_background_task(self._supervise, "worker", self._apply_loop),
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

    def state(self) -> IntakeState:
        """The intake as health reports it; probes a write when the last one failed."""
        if self.mode != "background":
            return IntakeState("inline", "inline", "inline", 0, True, 0)
        if self._started and self._write_error is not None:
            self._probe()
        waiting = self._queue.qsize() if self._queue is not None else 0
        writing = self._writing_since
        stalled = (
            writing is not None and time.monotonic() - writing > WRITE_STALL_SECONDS
        )
        if not self._started:
            writer = worker = "ok"  # started by the first webhook
        else:
            writer = (
                "down" if not self._alive["writer"] else "stalled" if stalled else "ok"
            )
            worker = "ok" if self._alive["worker"] else "down"
        accepting = writer == "ok" and self._write_error is None
        return IntakeState(
            "background",
            writer,
            worker,
            waiting,
            accepting,
            self._restarts,
        )

    def _probe(self) -> None:
        """After a failed store, try a real write (at most once a second) to clear it."""
        now = time.monotonic()
        if now - self._last_probe < PROBE_INTERVAL_SECONDS or self._writing_since:
            return
        self._last_probe = now
        with self.app.app_context():
            try:
                probe_write()
            except StorageUnavailable as exc:
                self._write_error = str(exc)
            else:
                self._write_error = None

    def _supervise(self, name: str, loop: Callable[[], None]) -> None:
        """Run ``loop`` until the intake stops; restart it after any exception.

        A task that died used to take the intake with it until a restart (every
        later webhook waited for a writer that was gone, then answered 503).
        """
        pause = RESTART_PAUSE_SECONDS / 2  # doubled before the first pause
        while not self._stopping:
            self._alive[name] = True
            began = time.monotonic()
            try:
                loop()
            except Exception:  # noqa: BLE001 - logged, and the task restarts
                log.exception("intake %s crashed; restarting it", name)
                self._restarts += 1
            else:
                return  # a clean exit: the intake is stopping
            finally:
                self._alive[name] = False
            # A task that crashes again at once (a missing table) backs off, so
            # the log gets a traceback every half minute, not twice a second.
            ran_long = time.monotonic() - began > RESTART_MAX_PAUSE_SECONDS
            pause = (
                RESTART_PAUSE_SECONDS
                if ran_long
                else min(pause * 2, RESTART_MAX_PAUSE_SECONDS)
            )
            socketio.sleep(pause)

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
        """Store the batch, then wake every waiting request, whatever happened.

        One transaction for the whole batch; if the database refuses its values,
        each event again on its own, so one unstorable event fails alone (and is
        kept as failed) instead of taking 127 good ones down with it.
        """
        self._writing_since = time.monotonic()
        try:
            if batch:
                self._store(batch)
        except Exception as exc:  # noqa: BLE001 - never leave a request hanging
            log.exception("storing %d events failed", len(batch))
            for p in batch:
                if p.row_id is None and p.error is None:
                    p.error = exc
        finally:
            self._writing_since = None
            db.session.remove()
            self._last_write = time.monotonic()
            self._arrivals.append((self._last_write, len(batch)))
            for p in batch:
                p.done.set()

    def _store(self, batch: list[_Pending]) -> None:
        items = [p.item for p in batch]
        deadline = min(p.queued_at for p in batch) + self.timeout
        while True:
            try:
                ids: list[Any] = store_events(items)
            except UnstorableEvent:
                ids = store_each(items)
            except StorageUnavailable as exc:
                # Locked or busy: try again while the requests still wait.
                if time.monotonic() + STORE_RETRY_SECONDS < deadline:
                    socketio.sleep(STORE_RETRY_SECONDS)
                    continue
                self._write_error = str(exc)
                log.warning("event log refused %d events: %s", len(batch), exc)
                ids = [exc] * len(batch)
            break
        if any(not isinstance(i, StorageUnavailable) for i in ids):
            self._write_error = None
            self.writes += 1
        for p, result in zip(batch, ids, strict=True):
            if isinstance(result, StorageUnavailable):
                p.error = result
            else:
                p.row_id = result
                if result is not None and p.item.parsed is not None:
                    self._parsed[result] = p.item.parsed
        while len(self._parsed) > PARSED_KEPT:
            self._parsed.popitem(last=False)

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
        if not self._busy():
            return APPLY_BATCH
        # In a flood the backlog grows fastest where each batch is smallest: every
        # batch pays per-meeting lookups and writes, so take bigger bites then.
        return APPLY_FLOOD_BATCH if self._flooded() else APPLY_BUSY_BATCH

    def drain(self) -> int:
        """Apply queued events until none is left; return how many were applied."""
        total = 0
        while True:
            limit = self._give_way()
            started = time.perf_counter()
            try:
                outcomes = applier.apply_queued(limit, parsed=self._parsed)
            except applier.BatchFailed as exc:
                # Not the database: something in these events. Apply them one by
                # one so only the event that fails is marked failed.
                log.warning("%s; applying its events one by one", exc)
                try:
                    outcomes = applier.apply_singly(exc.ids)
                except Exception as again:  # noqa: BLE001 - as below
                    db.session.rollback()
                    if not is_unavailable(again):
                        raise
                    log.warning("applying one by one failed (%s); later", again)
                    socketio.sleep(RESTART_PAUSE_SECONDS)
                    return total
            except Exception as exc:  # noqa: BLE001 - the worker survives any outage
                db.session.rollback()
                if not is_unavailable(exc):
                    raise  # a bug: the supervisor logs it and restarts the worker
                log.warning("applying queued events failed (%s); retrying later", exc)
                socketio.sleep(RESTART_PAUSE_SECONDS)
                return total  # the next wake-up or poll tries again
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
    intake: Intake = app.extensions["attendance.intake"]
    return intake
