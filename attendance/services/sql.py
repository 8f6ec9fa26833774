"""Small dialect helpers for statements the ORM does not express portably."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from attendance.extensions import db


def insert_ignoring_conflicts(table: Table, *keys: str) -> Any:
    """``INSERT … ON CONFLICT (keys) DO NOTHING`` for the bound database's dialect."""
    return _insert_ignoring_conflicts(db.engine.dialect.name, table, keys)


@functools.cache
def _insert_ignoring_conflicts(
    dialect: str, table: Table, keys: tuple[str, ...]
) -> Any:
    # Built once: an immutable construct, and its cache key is then computed once too.
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(
            index_elements=list(keys)
        )
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")
