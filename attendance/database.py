"""Engine set-up that SQLAlchemy leaves to the application (SQLite pragmas, savepoints)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from attendance.extensions import db

#: Execution option naming a read-then-write unit of work (see ``begin_write``).
WRITE_OPTION = "attendance_write"


def begin_write() -> None:
    """Start the session's transaction as a writer (``BEGIN IMMEDIATE`` on SQLite).

    Call first thing in a service that reads and then writes; elsewhere a no-op.
    """
    if not db.session().in_transaction():
        db.session.connection(execution_options={WRITE_OPTION: True})


def begin_write_afresh() -> None:
    """``begin_write``, ending first a transaction that began as a reader.

    A reader's transaction cannot become SQLite's writer once another connection
    has committed since it began (``database is locked`` at once, whatever the
    busy timeout): a service that may be called after reads starts over as a
    writer. Objects read before are expired and load again on use.
    """
    session = db.session()
    if session.in_transaction():
        options = session.connection().get_execution_options()
        if options.get(WRITE_OPTION):
            return
        session.rollback()
    begin_write()


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached or written *now*.

    Down, refusing connections, out of connections, locked (SQLite's short busy
    timeout, PostgreSQL's lock or statement timeout), disk full: retrying later
    may work. Anything else (a value the column cannot hold, a NUL in text, a
    Python error while binding) is a property of the data and will fail again.
    """
    if isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    # psycopg2 reports lock_timeout / statement_timeout as QueryCanceled, a
    # subclass of OperationalError (55P03 / 57014): covered above.
    return isinstance(error, exc.DisconnectionError)


def bound_statement_time(conn: Connection, milliseconds: int) -> None:
    """Bound lock waits and statement time for the rest of this transaction (PostgreSQL).

    Without it a locked table holds the caller until the lock goes away (health
    hung for more than 5 s behind ``LOCK TABLE``). SQLite is bounded by its busy
    timeout instead.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(milliseconds)}")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(milliseconds)}")


def engine_options(url: str) -> dict[str, Any]:
    """Per-backend engine options: fail fast instead of hanging when PostgreSQL is away.

    Pre-ping only where connections can go stale (a server that restarts); on
    SQLite it would add a ``SELECT 1`` to every transaction of the intake.
    """
    if url.startswith("postgresql"):
        return {
            "pool_pre_ping": True,
            "connect_args": {"connect_timeout": 2},
            # Bulk UPDATE/DELETE in pages (execute_batch), not a round trip per row:
            # a 10,000-row roster update took 2.8 s row by row.
            "executemany_mode": "values_plus_batch",
        }
    return {}


def _sqlite_pragmas(synchronous: str, busy_timeout_ms: int):
    def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
        _sqlite_setup(dbapi_connection, synchronous, busy_timeout_ms)

    return _sqlite_connect


def _sqlite_setup(
    dbapi_connection: Any, synchronous: str, busy_timeout_ms: int
) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take it over
    # (SQLAlchemy's documented recipe) and emit BEGIN ourselves in _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer. NORMAL: durable across process crashes,
    # fsync at checkpoints only (a power loss can lose the last commits: see the
    # README; SQLITE_SYNCHRONOUS=FULL fsyncs every commit).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    # busy_timeout: how long a write waits for another process's lock (a CLI
    # import, a backup). SQLite waits *inside* C code: under eventlet that wait
    # freezes the whole server, so the server keeps it short and its callers
    # retry cooperatively (SQLITE_BUSY_TIMEOUT_MS, see config).
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
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
        connect = _sqlite_pragmas(
            app.config["SQLITE_SYNCHRONOUS"], app.config["SQLITE_BUSY_TIMEOUT_MS"]
        )
        event.listen(engine, "connect", connect)
        event.listen(engine, "begin", _sqlite_begin)
