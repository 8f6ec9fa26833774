"""Flask CLI commands (``flask --app app …``): thin, they call services."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from attendance.config import MAX_RETENTION_DAYS
from attendance.database import begin_write
from attendance.errors import NotFound, ValidationFailed
from attendance.extensions import db
from attendance.ingest import applier
from attendance.simulator.cli import simulate_command
from attendance.zoom import fake as fake_zoom

if TYPE_CHECKING:
    from attendance.services.job_results import JobResult

events_cli = AppGroup("events", help="Inspect and replay stored webhook events.")
attendance_cli = AppGroup("attendance", help="Generate meetings' attendance.")
roster_cli = AppGroup("roster", help="Manage course rosters.")
instructor_cli = AppGroup("instructor", help="Manage instructor accounts.")
zoom_cli = AppGroup(
    "zoom",
    help="Zoom's REST side: backfill, users sync, a fake Zoom to develop against.",
)
keys_cli = AppGroup("keys", help="Encryption keys of secrets stored in the database.")

#: A connection id: the database's integer column, so a longer number is refused
#: as a usage error rather than overflowing the driver.
CONNECTION_ID = click.IntRange(1, 2**31 - 1)


class _Text(click.ParamType):
    """A text argument that a database column can hold: no NUL, at most ``max_length``.

    PostgreSQL refuses a NUL in text (psycopg2 raises ValueError) and a longer
    value can match nothing: both are the user's mistake, said as one (exit 2).
    """

    name = "text"

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value)
        if "\x00" in text:
            self.fail("must not contain a NUL character", param, ctx)
        if len(text) > self.max_length:
            self.fail(f"is longer than {self.max_length} characters", param, ctx)
        return text


@keys_cli.command("generate")
def keys_generate() -> None:
    """Print a new key for ATTENDANCE_ENCRYPTION_KEY (put it first to encrypt with it)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode("ascii"))


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the first ATTENDANCE_ENCRYPTION_KEY key.

    Afterwards the other keys can be dropped from the setting.
    """
    from cryptography.fernet import InvalidToken

    from attendance.models.encrypted import app_cipher
    from attendance.services.connections import rotate_encryption

    try:
        count = rotate_encryption(app_cipher())
    except InvalidToken as exc:
        db.session.rollback()
        raise click.ClickException(
            "a stored secret opens with none of the keys in "
            "ATTENDANCE_ENCRYPTION_KEY: add the key it was encrypted with"
        ) from exc
    db.session.commit()
    click.echo(f"re-encrypted {count} rows under the first key")


@instructor_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="Shown in the dashboard.")
@click.option("--admin", is_flag=True, help="May manage instructors and every course.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for when not given.",
)
def instructor_create(email: str, name: str, admin: bool, password: str) -> None:
    """Create an instructor account."""
    from attendance.services.accounts import create_instructor

    try:
        instructor = create_instructor(email, name, password, admin=admin)
    except ValidationFailed as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    role = "admin" if instructor.is_admin else "instructor"
    click.echo(f"created {role} {instructor.email} (id {instructor.id})")


@events_cli.command("replay")
@click.option("--failed", is_flag=True, help="Replay every event marked failed.")
@click.option(
    "--id", "ids", type=int, multiple=True, help="Replay this event (repeatable)."
)
def replay(failed: bool, ids: tuple[int, ...]) -> None:
    """Apply stored events again (handlers are idempotent, so this is always safe)."""
    if not failed and not ids:
        raise click.UsageError("give --failed, or one or more --id N")
    targets = set(ids)
    if failed:
        targets |= set(applier.failed_ids())
    if not targets:
        click.echo("nothing to replay")
        return
    outcomes = applier.apply_ids(sorted(targets))
    found = {o.id for o in outcomes}
    for missing in sorted(targets - found):
        click.echo(f"event {missing}: not found", err=True)
    for o in outcomes:
        line = f"event {o.id} ({o.event}): {o.status}"
        click.echo(line + (f" - {o.error}" if o.error else ""))
    if targets - found or any(o.status == "failed" for o in outcomes):
        raise SystemExit(1)


@events_cli.command("purge")
@click.option(
    "--days",
    type=click.IntRange(1, MAX_RETENTION_DAYS),
    default=None,
    help="Purge events older than N days (default: EVENT_RETENTION_DAYS).",
)
def purge(days: int | None) -> None:
    """Delete processed and ignored events older than the retention window.

    Failed and queued events are kept whatever their age; attendance does not
    read the event log, so nothing generated changes.
    """
    from attendance.models.types import iso
    from attendance.services.retention import cutoff, purge_events

    if days is None:
        days = current_app.config["EVENT_RETENTION_DAYS"]
        if days == 0:
            click.echo("EVENT_RETENTION_DAYS is 0 (keep forever): nothing purged")
            return
    before = cutoff(days)
    deleted = purge_events(before)
    click.echo(
        f"purged {deleted} processed or ignored events received before {iso(before)}"
    )


@attendance_cli.command("recompute")
@click.argument("meeting")
def recompute(meeting: str) -> None:
    """Regenerate one meeting's attendance (MEETING: its id or uuid)."""
    from attendance.services.generation import compute, generate
    from attendance.services.meeting_inputs import find_meeting

    begin_write()
    try:
        row = find_meeting(meeting)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if row.effective_end is None:
        result = compute(row)
        click.echo(
            f"meeting {row.id} is live: nothing stored (it is generated when it ends)"
        )
    else:
        result = generate(row)
        db.session.commit()
    counts = Counter(r.status.value for r in result.records)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no roster"
    click.echo(
        f"meeting {row.id} ({row.topic or row.uuid}): {summary}; "
        f"{len(result.guests)} guests, {result.participant_count} participants"
    )


@roster_cli.command("import")
@click.argument("course")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def roster_import(course: str, file: Path) -> None:
    """Upsert a roster CSV into COURSE (its id or code).

    Columns: student_id,first_name,last_name,email[,department][,aliases]
    (aliases separated by ';'). Bad rows are listed by line and skipped.
    """
    from attendance.services.courses import find_course
    from attendance.services.generation import regenerate_course
    from attendance.services.roster import RosterFormatError, import_rows, read_csv

    begin_write()
    try:
        target = find_course(course)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        rows = read_csv(file.read_bytes())
    except RosterFormatError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    report = import_rows(target, rows)
    regenerated = regenerate_course(target.id)
    db.session.commit()
    click.echo(
        f"{target.code}: {report.created} created, {report.updated} updated, "
        f"{len(report.errors)} rejected; {regenerated} ended meetings regenerated"
    )
    for error in report.errors:
        click.echo(f"  line {error['line']}: {error['message']}", err=True)
    if report.errors:
        raise SystemExit(1)


@click.command("scheduler")
def scheduler() -> None:
    """Run the scheduled jobs in this process (one per deployment)."""
    from attendance.jobs import run_blocking_scheduler

    click.echo("scheduler running; Ctrl+C to stop")
    run_blocking_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]


@zoom_cli.command("fake")
@click.option("--port", type=click.IntRange(1, 65535), default=9100, show_default=True)
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A JSON file of accounts, meetings, webinars, instances and users.",
)
def zoom_fake(port: int, data: Path | None) -> None:
    """Serve a fake Zoom (token, reports, instances, users) on 127.0.0.1 only.

    It accepts this app's ZOOM_ACCOUNT_ID / ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET (or
    fake-account / fake-client / fake-secret); point ZOOM_API_BASE_URL at
    http://127.0.0.1:PORT/v2 and ZOOM_OAUTH_BASE_URL at http://127.0.0.1:PORT.
    """
    config = current_app.config
    click.echo(f"fake Zoom on http://{fake_zoom.HOST}:{port} (Ctrl+C to stop)")
    fake_zoom.serve(
        port,
        data,
        account_id=config.get("ZOOM_ACCOUNT_ID") or "fake-account",
        client_id=config.get("ZOOM_CLIENT_ID") or "fake-client",
        client_secret=config.get("ZOOM_CLIENT_SECRET") or "fake-secret",
    )


@zoom_cli.command("backfill")
@click.option(
    "--course",
    "course_code",
    type=_Text(64),
    default=None,
    help="Only this course's code.",
)
@click.option(
    "--connection",
    "connection_id",
    type=CONNECTION_ID,
    default=None,
    help="Only this connection's account (default: every one with credentials).",
)
def zoom_backfill(course_code: str | None, connection_id: int | None) -> None:
    """Create the classes Zoom lists as ended that sent no events here, from their reports."""
    from attendance.services.backfill import backfill

    for connection, label in _api_connections(connection_id):
        result = _run_zoom(partial(backfill, connection, course_code))
        click.echo(f"{label}: {result.summary}")


@zoom_cli.command("sync-users")
@click.option(
    "--connection",
    "connection_id",
    type=CONNECTION_ID,
    default=None,
    help="Only this connection's account (default: every one with credentials).",
)
def zoom_sync_users(connection_id: int | None) -> None:
    """Teach the matcher students' Zoom user ids from their accounts' users."""
    from attendance.services.account_users import sync_users

    for connection, label in _api_connections(connection_id):
        result = _run_zoom(partial(sync_users, connection))
        click.echo(f"{label}: {result.summary}")


@zoom_cli.command("reconcile")
@click.argument("meeting_ref", type=_Text(255))
def zoom_reconcile(meeting_ref: str) -> None:
    """Reconcile an ended meeting (id or uuid) with Zoom's participant report, now."""
    from attendance.errors import Conflict
    from attendance.services.meeting_inputs import find_meeting
    from attendance.services.reconciliation import reconcile_now, state_json

    try:
        meeting = find_meeting(meeting_ref)
        result = _run_zoom(partial(reconcile_now, meeting))
    except (Conflict, NotFound) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"meeting {meeting.id}: {result.summary}")
    for change in state_json(meeting.id)["changes"]:
        who = (
            f"student {change['student_pk']}"
            if "student_pk" in change
            else f"participant {change['participant_pk']}"
        )
        status = ""
        if change["status_before"] != change["status_after"]:
            status = f", {change['status_before']} -> {change['status_after']}"
        click.echo(
            f"  {who}: {change['seconds_before']} s -> {change['seconds_after']} s{status}"
        )


def _api_connections(connection_id: int | None) -> list[tuple[int | None, str]]:
    """The connections to call Zoom through, labelled; a clear error when there is none.

    :raises click.ClickException: (exit 1) for an unknown connection, or one
        without Server-to-Server OAuth credentials.
    """
    from attendance.models import ZoomConnection
    from attendance.services.zoom_clients import (
        connection_ids_with_credentials,
        credentials_of,
    )

    if connection_id is None:
        ids = connection_ids_with_credentials()
        if not ids:
            raise click.ClickException(
                "no Zoom connection has API credentials: set ZOOM_ACCOUNT_ID, "
                "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET, or add a connection's "
                "client id and secret on the Zoom connections page"
            )
    else:
        connection = db.session.get(ZoomConnection, connection_id)
        if connection is None:
            raise click.ClickException(f"no Zoom connection {connection_id}")
        if credentials_of(connection_id) is None:
            raise click.ClickException(
                f"Zoom connection {connection_id} ({connection.name}) has no API "
                "credentials: add its Server-to-Server OAuth client id and secret"
            )
        ids = [connection_id]
    # Each connection was loaded just above (credentials_of): from the session.
    return [
        (
            i,
            "environment"
            if i is None
            else f"connection {i} ({db.session.get(ZoomConnection, i).name})",
        )
        for i in ids
    ]


def _run_zoom(run: Callable[[], JobResult]) -> JobResult:
    """Run a Zoom job body now; what Zoom or the input refuses ends the command (exit 1)."""
    from attendance.errors import ZoomError, ZoomRateLimited

    try:
        return run()
    except ZoomRateLimited as exc:
        raise click.ClickException(
            f"Zoom's {exc.kind} rate limit is reached until "
            f"{exc.reset_at.isoformat()}: run it again after that"
        ) from exc
    except (ZoomError, NotFound) as exc:
        raise click.ClickException(str(exc)) from exc


def register_cli(app: Flask) -> None:
    """Attach the command groups to ``app``."""
    app.cli.add_command(events_cli)
    app.cli.add_command(attendance_cli)
    app.cli.add_command(roster_cli)
    app.cli.add_command(instructor_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(scheduler)
    app.cli.add_command(zoom_cli)
    app.cli.add_command(simulate_command)
