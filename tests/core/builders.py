"""Small builders for core tests: times as minutes after a fixed start, events, connections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attendance.core.model import Connection, ConnectionEvent, Kind, Student

T0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def t(minutes: float, seconds: float = 0) -> datetime:
    """Return the time ``minutes:seconds`` after T0."""
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def ev(
    kind: Kind, minutes: float, seconds: float = 0, **fields: str
) -> ConnectionEvent:
    """Return one event at ``t(minutes, seconds)``."""
    return ConnectionEvent(kind, t(minutes, seconds), **fields)


def stay(start: float, end: float | None = None) -> tuple[ConnectionEvent, ...]:
    """Return a main-room join at ``start`` and, if given, a leave at ``end`` (minutes)."""
    joined = (ev(Kind.JOINED, start),)
    return joined if end is None else (*joined, ev(Kind.LEFT, end))


def conn(
    key: str,
    *events: ConnectionEvent,
    pk: int | None = None,
    name: str = "",
    email: str = "",
    zoom_user_id: str = "",
    registrant_id: str = "",
    parent_key: str = "",
) -> Connection:
    """Return a connection; its pk defaults to the digits of its key."""
    digits = "".join(ch for ch in key if ch.isdigit())
    return Connection(
        key=key,
        pk=pk if pk is not None else int(digits or 0),
        name=name,
        email=email,
        zoom_user_id=zoom_user_id,
        registrant_id=registrant_id,
        parent_key=parent_key,
        events=events,
    )


def student(
    pk: int,
    first: str,
    last: str,
    email: str = "",
    alias_emails: tuple[str, ...] = (),
    alias_names: tuple[str, ...] = (),
) -> Student:
    """Return a roster student with a student id derived from its pk."""
    return Student(pk, f"S{pk:03}", first, last, email, alias_emails, alias_names)
