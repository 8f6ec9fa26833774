"""A per-process cache of meetings' connections and derivations, for generation and the live view.

Regenerating a 1,000-person meeting after one late event would otherwise reload
10,000 events and re-derive 5,000 connections to change one; a live room's view
after each batch, the same. An entry is used only when the meeting's
``events_version`` says what changed it since (``reconcile``), and an entry made
inside a write transaction reaches the cache only once that transaction commits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from attendance.core.compute import DerivationCache
from attendance.core.model import Connection
from attendance.extensions import db
from attendance.models import Meeting
from attendance.services.meeting_inputs import load_connections

#: Meetings kept per process: the live ones and the few being regenerated.
CAPACITY = 16
_STAGED = "attendance.meeting_cache.staged"

#: What one batch did to a meeting: its events_version after the batch, and the
#: connections (participant ids) it touched.
Change = tuple[int, set[int]]
#: The batches' changes a caller knows of, in any order.
Changes = list[Change]


@dataclass(frozen=True, slots=True)
class Entry:
    """One meeting's connections as of ``version``, with their derivations."""

    #: The meeting's uuid too: ids can come back after a database is reset.
    uuid: str
    version: int
    connections: dict[int, Connection]
    #: Shared by an entry and the ones made from it: a derivation checks its own
    #: connection and context, so a stale one is recomputed, never served.
    derivations: DerivationCache = field(default_factory=DerivationCache)


class MeetingCache:
    """LRU of entries by meeting id; thread-safe for the threading async mode."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, meeting_id: int, uuid: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(meeting_id)
            if entry is None or entry.uuid != uuid:
                return None
            self._entries.move_to_end(meeting_id)
            return entry

    def put(self, meeting_id: int, entry: Entry) -> None:
        with self._lock:
            self._entries[meeting_id] = entry
            self._entries.move_to_end(meeting_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The process's cache (one per process by nature: it mirrors this process's view).
cache = MeetingCache()


def reconcile(
    entry: Entry | None,
    uuid: str,
    current: int,
    changes: Sequence[Change],
    load: Callable[[set[int] | None], list[Connection]],
) -> Entry:
    """Bring ``entry`` to version ``current``: the one rule for every user of the cache.

    Kept as is when already current; when ``changes`` account for every version
    after the entry's, only the connections they touched are reloaded; any other
    gap (another process, a rolled-back batch, no entry) is a full load.
    ``load(ids)`` loads those connections, or all of them with ``None``. Never
    changes ``entry`` itself: a new entry may yet be rolled back.
    """
    if entry is not None and entry.version == current:
        return entry
    if entry is not None and _covers(entry.version, current, changes):
        dirty = set().union(*(ids for v, ids in changes if v > entry.version))
        connections = dict(entry.connections)
        for c in load(dirty):
            connections[c.pk] = c
        return Entry(uuid, current, connections, entry.derivations)
    loaded = {c.pk: c for c in load(None)}
    if entry is None:
        return Entry(uuid, current, loaded)
    return Entry(uuid, current, loaded, entry.derivations)


def _covers(have: int, current: int, changes: Sequence[Change]) -> bool:
    """Whether ``changes`` hold every version after ``have`` up to ``current``."""
    versions = {version for version, _ids in changes}
    return have < current and all(v in versions for v in range(have + 1, current + 1))


def connections(meeting: Meeting, changes: Sequence[Change], *, staged: bool) -> Entry:
    """The meeting's connections as of its current ``events_version``, cached.

    ``changes``: what batches did to the meeting, as far as the caller knows.
    ``staged``: the caller's transaction writes (generation), so the entry reaches
    the cache only if it commits; else (the live view, which reads after commits)
    the entry is installed at once.
    """
    # Read now, not from the loaded row: another process may have committed since.
    # Read before the connections, so an entry never claims more than it holds
    # (reloading a connection twice is harmless).
    current = db.session.scalars(
        select(Meeting.events_version).where(Meeting.id == meeting.id)
    ).one()
    fresh = reconcile(
        cache.get(meeting.id, meeting.uuid),
        meeting.uuid,
        current,
        changes,
        lambda only: load_connections(meeting.id, only),
    )
    if staged:
        db.session().info.setdefault(_STAGED, {})[meeting.id] = fresh
    else:
        cache.put(meeting.id, fresh)
    return fresh


@event.listens_for(Session, "after_commit")
def _install(session: Session) -> None:
    for meeting_id, entry in session.info.pop(_STAGED, {}).items():
        cache.put(meeting_id, entry)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_STAGED, None)
