"""Flask CLI commands (``flask --app app …``): thin, they call services."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from attendance.services import dispatch

events_cli = AppGroup("events", help="Inspect and replay stored webhook events.")


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
        targets |= set(dispatch.failed_ids())
    if not targets:
        click.echo("nothing to replay")
        return
    outcomes = dispatch.apply_ids(sorted(targets))
    found = {o.id for o in outcomes}
    for missing in sorted(targets - found):
        click.echo(f"event {missing}: not found", err=True)
    for o in outcomes:
        line = f"event {o.id} ({o.event}): {o.status}"
        click.echo(line + (f" - {o.error}" if o.error else ""))
    if targets - found or any(o.status == "failed" for o in outcomes):
        raise SystemExit(1)


@click.command("scheduler")
def scheduler() -> None:
    """Run the scheduled jobs in this process (one per deployment)."""
    from attendance.jobs import run_blocking_scheduler

    click.echo("scheduler running; Ctrl+C to stop")
    run_blocking_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]


def register_cli(app: Flask) -> None:
    """Attach the command groups to ``app``."""
    app.cli.add_command(events_cli)
    app.cli.add_command(scheduler)
