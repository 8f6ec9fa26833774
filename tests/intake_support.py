"""Real server processes for intake tests: a fresh database each, signed posts, the log read.

The server is ``python app.py`` (eventlet, background intake) started by
``tests.browser.ServerFactory``; the tests read the event log straight from the
database, as an operator's SQL would, to see what was kept.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.browser import migrate, sqlite_url
from tests.support import fixture, require, signed_headers

#: What every intake test's server runs with: eventlet and the background intake,
#: as in production.
SERVER_ENV = {"ASYNC_MODE": "eventlet", "WEBHOOK_PROCESSING": "background"}


@dataclass
class Backend:
    """One migrated database for one test's servers, and a way to read it."""

    kind: str  # "sqlite" | "postgres"
    url: str
    cleanup: Callable[[], None]
    _engine: Engine | None = None

    def engine(self) -> Engine:
        if self._engine is None:
            url = make_url(self.url)
            if self.kind == "postgres":
                url = url.set(drivername="postgresql+psycopg2")
            self._engine = create_engine(url)
        return self._engine

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine().connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine().connect() as conn:
            return list(conn.execute(text(sql), params))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self.cleanup()


def make_backend(kind: str, directory: Path) -> Backend:
    """A new, migrated SQLite file or PostgreSQL database (skips without PostgreSQL)."""
    if kind == "sqlite":
        url = sqlite_url(directory, f"intake-{uuid.uuid4().hex[:8]}.db")
        migrate(url)
        return Backend(kind, url, lambda: None)
    require("postgres")
    from tests.conftest import _create_postgres_database, _drop_postgres_database

    url, admin_url = _create_postgres_database()
    migrate(url)
    return Backend(kind, url, lambda: _drop_postgres_database(url, admin_url))


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer at all (refused, reset, timed out)
    body: Any
    seconds: float


def post_signed(
    base_url: str,
    body: bytes,
    *,
    session: requests.Session | None = None,
    timeout: float = 10.0,
) -> Answer:
    """POST ``body`` signed as Zoom does; the answer, or status None if none came."""
    http = session or requests
    began = time.monotonic()
    try:
        response = http.post(
            f"{base_url}/api/zoom/webhook",
            data=body,
            headers=signed_headers(body),
            timeout=timeout,
        )
    except requests.RequestException as exc:
        return Answer(None, repr(exc), time.monotonic() - began)
    try:
        parsed = response.json()
    except ValueError:
        parsed = response.text[:500]
    return Answer(response.status_code, parsed, time.monotonic() - began)


def get(base_url: str, path: str, *, timeout: float = 10.0) -> Answer:
    """GET ``path``; the answer, or status None if none came within ``timeout``."""
    began = time.monotonic()
    try:
        response = requests.get(f"{base_url}{path}", timeout=timeout)
    except requests.RequestException as exc:
        return Answer(None, repr(exc), time.monotonic() - began)
    try:
        parsed = response.json()
    except ValueError:
        parsed = response.text[:500]
    return Answer(response.status_code, parsed, time.monotonic() - began)


def health(base_url: str, *, timeout: float = 10.0) -> Answer:
    return get(base_url, "/api/zoom/health", timeout=timeout)


def wait_for(check: Callable[[], Any], timeout: float, message: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(0.1)


def joined(
    meeting_uuid: str, user_id: str, at: datetime, name: str | None = None
) -> dict[str, Any]:
    """A ``meeting.participant_joined`` of one connection at ``at``."""
    event = copy.deepcopy(fixture("meeting.participant_joined"))
    event["event_ts"] = int(at.timestamp() * 1000)
    obj = event["payload"]["object"]
    obj["uuid"] = meeting_uuid
    obj["participant"].update(
        user_id=user_id,
        user_name=name or f"Student {user_id}",
        id="",
        participant_user_id="",
        participant_uuid="",
        email=f"s{user_id}@uni.example",
        join_time=_iso(at),
    )
    return event


def left(
    meeting_uuid: str, user_id: str, at: datetime, name: str | None = None
) -> dict[str, Any]:
    """The ``meeting.participant_left`` that closes ``joined``'s connection at ``at``."""
    event = joined(meeting_uuid, user_id, at, name)
    event["event"] = "meeting.participant_left"
    participant = event["payload"]["object"]["participant"]
    del participant["join_time"]
    participant["leave_time"] = _iso(at)
    participant["leave_reason"] = "left the meeting.<br>Reason: left the meeting."
    return event


def meeting_event(name: str, meeting_uuid: str, at: datetime) -> dict[str, Any]:
    """``meeting.started`` (at ``at``) or ``meeting.ended`` (ending at ``at``)."""
    event = copy.deepcopy(fixture(name))
    event["event_ts"] = int(at.timestamp() * 1000)
    obj = event["payload"]["object"]
    obj["uuid"] = meeting_uuid
    if name == "meeting.started":
        obj["start_time"] = _iso(at)
    else:
        obj["end_time"] = _iso(at)
    return event


def recent(minutes_ago: float) -> datetime:
    """A whole second, ``minutes_ago`` before now (UTC)."""
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
