"""Paced emits: a live room's changes gathered and sent together under load."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from flask import Flask

from attendance.extensions import db, socketio
from attendance.ingest.context import AppliedBatch, Notice
from attendance.services.meeting_cache import Changes

log = logging.getLogger(__name__)

#: A large meeting's view costs milliseconds per hundred people, so under load
#: changes are gathered and emitted together: after a flush that took t seconds
#: the next one waits t * (1 / FLUSH_DUTY - 1), so the live room takes at most
#: this share of the server; never longer than FLUSH_MAX_SECONDS. A change after
#: a quiet spell goes out at once. Inline processing (tests) emits at once.
FLUSH_DUTY = 0.5
FLUSH_MAX_SECONDS = 0.1

#: What a flush hands its gathered work to: notices and changes per meeting id.
Emitter = Callable[[dict[int, list[Notice]], dict[int, Changes]], None]


class Flusher:
    """Gathers notices per meeting; emits them at once, or after a pause under load."""

    def __init__(self, app: Flask, emit: Emitter) -> None:
        self.app = app
        self.emit = emit
        self.pending: dict[int, list[Notice]] = defaultdict(list)
        self.changes: dict[int, Changes] = defaultdict(list)
        self.task: Any = None
        self.wake: Any = None
        self.ready_at = 0.0

    def add(self, batch: AppliedBatch) -> None:
        """Take in a committed batch and wake the loop (started on first use)."""
        for meeting_id, change in batch.changed_connections.items():
            self.changes[meeting_id].append(change)
        for notice in batch.notices:
            self.pending[notice.meeting_id].append(notice)
        if self.task is None:
            self.wake = socketio.server.eio.create_event()
            self.task = socketio.start_background_task(self._loop)
        if self.pending:
            self.wake.set()

    def _loop(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            delay = self.ready_at - time.monotonic()
            if delay > 0:
                socketio.sleep(delay)
            started = time.monotonic()
            batch, self.pending = self.pending, defaultdict(list)
            changes, self.changes = self.changes, defaultdict(list)
            with self.app.app_context():
                try:
                    self.emit(batch, changes)
                except Exception:  # noqa: BLE001 - the next flush must still run
                    log.exception("emitting live changes failed")
                finally:
                    db.session.remove()
                    took = time.monotonic() - started
                    pause = min(FLUSH_MAX_SECONDS, took * (1 / FLUSH_DUTY - 1))
                    self.ready_at = time.monotonic() + pause
