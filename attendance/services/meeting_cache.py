"""A per-process cache of meetings' connections and derivations, installed only on commit.

Regenerating a 1,000-person meeting after one late event would otherwise reload
10,000 events and re-derive 5,000 connections to change one. An entry is used
only when the meeting's ``events_version`` says nothing else changed it (another
process, or a batch of ours that rolled back), and a batch's new entry reaches
the cache only once its transaction commits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session

from attendance.core.compute import DerivationCache
from attendance.core.model import Connection

#: Meetings kept per process: the live ones and the few being regenerated.
CAPACITY = 8
_STAGED = "attendance.meeting_cache.staged"


@dataclass
class Entry:
    """One meeting's connections as of ``version``, with their derivations."""

    #: The meeting's uuid too: ids can come back after a database is reset.
    uuid: str
    version: int
    connections: dict[int, Connection]
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


def stage(session: Session, meeting_id: int, entry: Entry) -> None:
    """Offer ``entry`` to the cache once ``session``'s transaction commits."""
    session.info.setdefault(_STAGED, {})[meeting_id] = entry


@event.listens_for(Session, "after_commit")
def _install(session: Session) -> None:
    for meeting_id, entry in session.info.pop(_STAGED, {}).items():
        cache.put(meeting_id, entry)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_STAGED, None)
