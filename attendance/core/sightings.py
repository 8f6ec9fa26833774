"""Folding observations of connections into ``Connection``s, order-independently.

A ``Sighting`` is what one participant event says about one connection. The
database layer applies the same rule incrementally (``merge_identity``); the
simulator and the tests fold a whole event list at once (``fold``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from attendance.core.model import Connection, ConnectionEvent


@dataclass(frozen=True, slots=True)
class Sighting:
    """One participant event, as the core sees it."""

    key: str
    event: ConnectionEvent
    name: str = ""
    email: str = ""
    zoom_user_id: str = ""
    registrant_id: str = ""
    parent_key: str = ""


@dataclass(frozen=True, slots=True)
class Identity:
    """A connection's identity so far, with the times its name and email were said."""

    name: str = ""
    name_at: datetime | None = None
    email: str = ""
    email_at: datetime | None = None
    zoom_user_id: str = ""
    registrant_id: str = ""
    parent_key: str = ""


def _earlier(
    value: str, at: datetime, current: str, current_at: datetime | None
) -> bool:
    """Whether ``value`` said at ``at`` replaces ``current`` (earliest non-empty wins).

    Equal times keep the smaller value, so the result never depends on order.
    """
    if not value:
        return False
    if current_at is None or not current:
        return True
    return at < current_at or (at == current_at and value < current)


def merge_identity(identity: Identity, sighting: Sighting) -> Identity:
    """The identity after also seeing ``sighting``: earliest name and e-mail win."""
    at = sighting.event.at
    changes: dict[str, Any] = {}
    if _earlier(sighting.name, at, identity.name, identity.name_at):
        changes.update(name=sighting.name, name_at=at)
    if _earlier(sighting.email, at, identity.email, identity.email_at):
        changes.update(email=sighting.email, email_at=at)
    # Ids do not change within a connection; the smallest keeps it order-free.
    for attr in ("zoom_user_id", "registrant_id", "parent_key"):
        value, current = getattr(sighting, attr), getattr(identity, attr)
        if value and (not current or value < current):
            changes[attr] = value
    return replace(identity, **changes) if changes else identity


def fold(sightings: Iterable[Sighting], first_pk: int = 1) -> list[Connection]:
    """Connections from sightings in any order, with duplicates (pks by key order)."""
    identities: dict[str, Identity] = {}
    events: dict[str, set[ConnectionEvent]] = {}
    for s in sightings:
        identities[s.key] = merge_identity(identities.get(s.key, Identity()), s)
        events.setdefault(s.key, set()).add(s.event)
    connections = []
    for offset, key in enumerate(sorted(identities)):
        ident = identities[key]
        connections.append(
            Connection(
                key=key,
                pk=first_pk + offset,
                name=ident.name,
                email=ident.email,
                zoom_user_id=ident.zoom_user_id,
                registrant_id=ident.registrant_id,
                parent_key=ident.parent_key,
                events=tuple(
                    sorted(events[key], key=lambda e: (e.at, e.kind, e.room, e.detail))
                ),
            )
        )
    return connections
