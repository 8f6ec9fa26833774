"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """An aware datetime as exact Unix microseconds."""
    return (value - EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    """Exact Unix microseconds back to an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=value)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z`` (as the API and CSV write times), or None."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (a callable, so defaults are per row)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    SQLite has no timezone type and hands back naive values; PostgreSQL returns
    aware ones. Both come out of this type as aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def render_migration_type(type_: str, obj: Any, _context: Any) -> str | bool:
    """Alembic hook: write ``UTCDateTime`` columns as plain ``sa.DateTime`` in revisions.

    Revisions must not import application code, which changes after they are applied.
    """
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
