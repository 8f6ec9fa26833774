"""Engine set-up that SQLAlchemy leaves to the application (SQLite pragmas, savepoints)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from attendance.extensions import db

#: Execution option naming a read-then-write unit of work (see ``begin_write``).
WRITE_OPTION = "attendance_write"


def begin_write() -> None:
    """Start the session's transaction as a writer (``BEGIN IMMEDIATE`` on SQLite).

    Call first thing in a service that reads and then writes; elsewhere a no-op.
    """
    if not db.session().in_transaction():
        db.session.connection(execution_options={WRITE_OPTION: True})


def engine_options(url: str) -> dict[str, Any]:
    """Per-backend engine options: fail fast instead of hanging when PostgreSQL is away.

    Pre-ping only where connections can go stale (a server that restarts); on
    SQLite it would add a ``SELECT 1`` to every transaction of the intake.
    """
    if url.startswith("postgresql"):
        return {
            "pool_pre_ping": True,
            "connect_args": {"connect_timeout": 3},
            # Bulk UPDATE/DELETE in pages (execute_batch), not a round trip per row:
            # a 10,000-row roster update took 2.8 s row by row.
            "executemany_mode": "values_plus_batch",
        }
    return {}


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take it over
    # (SQLAlchemy's documented recipe) and emit BEGIN ourselves in _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; NORMAL: durable across process crashes,
    # fsync at checkpoints only. busy_timeout: another process (CLI) holding the lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Checkpoints fsync and block the event loop (~20 ms each): fewer, larger ones
    # (a WAL of up to ~40 MB) halve what they cost the intake.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A transaction that reads and then writes must take the write lock up front:
    # in WAL mode a deferred one that read before another writer committed cannot
    # upgrade (SQLITE_BUSY_SNAPSHOT), and no busy timeout retries that.
    immediate = conn.get_execution_options().get(WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def configure_engine(app: Flask) -> None:
    """Install the SQLite hooks on this app's engine (no-op for other backends)."""
    with app.app_context():
        engine: Engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
