"""Fixtures: an app on a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Never write the developer's instance/secret_key from tests, and never inherit their
# database or secret: each test app gets everything it needs through overrides.
os.environ["SECRET_KEY"] = "test-only-secret-key"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("ZOOM_WEBHOOK_SECRET_TOKEN", None)
os.environ["SCHEDULER_ENABLED"] = "false"
os.environ["ASYNC_MODE"] = "threading"

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from attendance import create_app  # noqa: E402
from attendance.extensions import db  # noqa: E402
from tests.support import SECRET, encode, postgres_url, require, signed_headers  # noqa: E402


def _create_postgres_database() -> tuple[str, str]:
    """A fresh database for this test session; returns (its URL, the admin URL)."""
    require("postgres")
    admin_url = postgres_url()
    name = f"attendance_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg2"),
        isolation_level="AUTOCOMMIT",
    )
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return str(
        make_url(admin_url).set(database=name).render_as_string(False)
    ), admin_url


def _drop_postgres_database(url: str, admin_url: str) -> None:
    name = make_url(url).database
    engine = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg2"),
        isolation_level="AUTOCOMMIT",
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The session's database, migrated with ``flask db upgrade`` (the real migrations)."""
    target = os.environ.get("TEST_DATABASE_URL", "")
    if target.startswith(("postgresql", "postgres:")):
        url, admin_url = _create_postgres_database()
        cleanup = lambda: _drop_postgres_database(url, admin_url)  # noqa: E731
    else:
        tmp = tempfile.mkdtemp(prefix="attendance-test-")
        url = f"sqlite:///{Path(tmp) / 'test.db'}"
        cleanup = lambda: None  # noqa: E731
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    yield url
    cleanup()


def make_test_app(database_url: str, **overrides: Any):
    """An app configured for tests: inline processing, known secrets, no scheduler."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ZOOM_WEBHOOK_SECRETS": (SECRET,),
        "WEBHOOK_PROCESSING": "inline",
        "SCHEDULER_ENABLED": False,
        "ASYNC_MODE": "threading",
        "REDIS_URL": None,
        "LOG_LEVEL": "INFO",
        # Off for most tests; tests of CSRF itself turn it on (csrf_app).
        "WTF_CSRF_ENABLED": False,
        # A scrypt hash or check costs 0.1 s and the suite makes thousands: a
        # cheap method here (servers started by tests keep the real default).
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(overrides)
    return create_app(config)


def _truncate(app) -> None:
    from attendance.services.meeting_cache import cache
    from attendance.services.meeting_inputs import forget_rosters

    cache.clear()
    forget_rosters()
    with app.app_context():
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                # DELETE and setval: a TRUNCATE of two dozen tables cost 45 ms
                # per test (file work per table), this 10 ms on the tests' tiny tables.
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
                sequences = (
                    conn.execute(
                        text(
                            "SELECT schemaname || '.' || sequencename FROM pg_sequences"
                            " WHERE schemaname = current_schema()"
                        )
                    )
                    .scalars()
                    .all()
                )
                if sequences:
                    calls = ", ".join(
                        f"setval('{name}', 1, false)" for name in sequences
                    )
                    conn.execute(text(f"SELECT {calls}"))
            else:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url: str):
    """A fresh app on the session database, emptied after the test."""
    application = make_test_app(database_url)
    yield application
    _truncate(application)


@pytest.fixture
def background_app(database_url: str):
    """An app whose intake runs as the server's does: a writer and a worker task."""
    from attendance.ingest.writer import get_intake

    application = make_test_app(database_url, WEBHOOK_PROCESSING="background")
    yield application
    get_intake(application).stop()
    _truncate(application)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class ZoomSender:
    """Posts signed webhooks to the app the way Zoom does."""

    def __init__(self, client) -> None:
        self.client = client

    def post(
        self, event, *, secret: str = SECRET, timestamp: str | None = None, headers=None
    ):
        body = encode(event)
        sent = signed_headers(body, secret=secret, timestamp=timestamp)
        sent.update(headers or {})
        return self.client.post("/api/zoom/webhook", data=body, headers=sent)


@pytest.fixture
def zoom(client) -> ZoomSender:
    return ZoomSender(client)


#: The password of every instructor ``bearers`` makes.
INSTRUCTOR_PASSWORD = "correct horse battery"


@pytest.fixture
def bearers(app):
    """Make instructors by name (``ada=False, root=True``: is admin); their Bearer headers."""
    from attendance.services.accounts import create_instructor, issue_token

    def make(**people: bool) -> dict[str, dict[str, str]]:
        headers = {}
        with app.app_context():
            for who, admin in people.items():
                person = create_instructor(
                    f"{who}@uni.edu", who, INSTRUCTOR_PASSWORD, admin=admin
                )
                token = issue_token(person, "cli")
                headers[who] = {"Authorization": f"Bearer {token}"}
            db.session.commit()
        return headers

    return make


# -- browser tests: real server processes and headless Chromium (tests/browser.py) --------


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory):
    """Starts ``python app.py`` processes for this module; stops them all after it."""
    from tests.browser import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp("servers"))
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def live_server(server_factory):
    """One server on a fresh SQLite database, shared by the module's tests."""
    return server_factory.start()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium for the session (skips without it; fails under CI)."""
    from tests.browser import chromium

    with chromium() as instance:
        yield instance


@pytest.fixture
def console():
    """Console errors, uncaught exceptions and dialogs of ``page``."""
    from tests.browser import Console

    return Console()


@pytest.fixture
def page(browser, console):
    """A fresh browser context and page (1280 wide, downloads allowed), watched by console."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    console.watch(tab)
    yield tab
    context.close()
