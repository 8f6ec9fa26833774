"""The migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from attendance.extensions import db
from attendance.models.types import render_migration_type
from tests.conftest import make_test_app
from tests.support import postgres_url, require


def _check_round_trip(url: str) -> None:
    app = make_test_app(url)
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {
            "webhook_events",
            "meetings",
            "participants",
            "attendance_records",
            "students",
            "alembic_version",
        } <= tables
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_item": render_migration_type}
            )
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        db.engine.dispose()


def test_migrations_round_trip_on_sqlite():
    path = Path(tempfile.mkdtemp()) / "fresh.db"
    _check_round_trip(f"sqlite:///{path}")


def test_migrations_round_trip_on_postgresql():
    require("postgres")
    admin = make_url(postgres_url()).set(drivername="postgresql+psycopg2")
    name = f"attendance_mig_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _check_round_trip(admin.set(database=name).render_as_string(False))
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.mark.parametrize("command", [["db", "current"], ["db", "heads"]])
def test_flask_db_cli_runs_without_eventlet(runner, command):
    result = runner.invoke(args=command)
    assert result.exit_code == 0, result.output
