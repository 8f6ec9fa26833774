"""``flask --app app simulate``: play a simulated Zoom class against a running server.

Thin on purpose: the class comes from ``scenario``; the course and roster go
through the services; the webhooks go over real HTTP (``transport``), signed, so
the server under test cannot tell them from Zoom's. A course with a roster is
never given invented students: its own enrolled students play the class.
"""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime

import click
from click.core import ParameterSource
from flask import current_app
from flask.cli import with_appcontext

from attendance.errors import NotFound, ValidationFailed
from attendance.extensions import db
from attendance.models import Course
from attendance.services.courses import find_course, set_meeting_numbers
from attendance.services.roster import enrolled_rows, import_rows
from attendance.simulator.delivery import DeliveryReport, deliver, deliver_parallel
from attendance.simulator.scenario import SimulatedClass, SimulationOptions, build_class
from attendance.simulator.transport import HttpTransport


def _open_transport(base_url: str) -> HttpTransport:
    """The HTTP transport (a seam: tests swap in one that calls the test client).

    :raises click.BadParameter: when ``--url`` is not an http(s) URL.
    """
    try:
        return HttpTransport(base_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--url") from exc


def _default_url() -> str:
    """``http://HOST:PORT`` from the config, with a wildcard bind turned into loopback."""
    host = str(current_app.config.get("HOST") or "127.0.0.1")
    port = current_app.config.get("PORT") or 5000
    if host in ("0.0.0.0", ""):  # noqa: S104 - a bind address, not one we bind
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _course_roster(code: str, at: datetime) -> tuple[list[dict[str, str]], int] | None:
    """The enrolled students of course ``code`` at ``at``, and how many withdrew;
    None when there is no such course or it has no students yet. Reads only.

    :raises click.ClickException: when every one of its students has withdrawn.
    """
    try:
        course = find_course(code)
    except NotFound:
        return None
    rows, withdrawn = enrolled_rows(course, at)
    db.session.rollback()  # a read: hold no transaction while the server is checked
    if not rows and withdrawn:
        raise click.ClickException(
            f"every student of {code} has withdrawn: there is no one to play the class"
        )
    return (rows, withdrawn) if rows else None


def _prepare_course(
    sim: SimulatedClass, code: str, *, import_roster: bool = True
) -> tuple[int, int]:
    """Create or reuse the course, add the meeting number, upsert the roster; commit.

    Returns the roster's (created, updated) counts; ``import_roster`` False (the
    class plays the course's own roster): the roster is left as it is, (0, 0).
    The session is closed after the commit: the delivery that follows must not
    hold a database connection.

    :raises click.ClickException: when the number belongs to another course.
    """
    try:
        course = find_course(code)
    except NotFound:
        course = Course(code=code, title="Demo course", timezone="UTC")
        db.session.add(course)
        db.session.flush()
    existing = [n.zoom_meeting_id for n in course.meeting_numbers]
    try:
        if sim.meeting_number not in existing:
            set_meeting_numbers(course, existing + [sim.meeting_number])
        if not import_roster:
            db.session.commit()
            db.session.close()
            return 0, 0
        report = import_rows(
            course, [(line, row) for line, row in enumerate(sim.roster, start=2)]
        )
    except ValidationFailed as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    db.session.close()
    for error in report.errors:
        click.echo(f"roster line {error['line']}: {error['message']}", err=True)
    return report.created, report.updated


def _summary(report: DeliveryReport) -> str:
    http = ", ".join(f"{code}: {n}" for code, n in sorted(report.by_http.items()))
    words = ", ".join(f"{word}: {n}" for word, n in sorted(report.by_status.items()))
    line = f"sent {report.sent} webhooks ({report.attempts} requests); HTTP {http}"
    if words:
        line += f"; status {words}"
    if report.retried:
        line += f"; {report.retried} retried"
    return line


@click.command("simulate")
@click.option(
    "--students",
    default=30,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Invented students, for a course without a roster; a course with one "
    "plays its own enrolled students and gets no one new.",
)
@click.option("--guests", default=3, show_default=True, type=click.IntRange(0))
@click.option("--late", default=3, show_default=True, type=click.IntRange(0))
@click.option("--drop-rejoin", default=3, show_default=True, type=click.IntRange(0))
@click.option("--two-device", default=2, show_default=True, type=click.IntRange(0))
@click.option(
    "--breakout",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Students sent to breakout rooms for a stretch.",
)
@click.option("--left-early", default=2, show_default=True, type=click.IntRange(0))
@click.option(
    "--absent",
    default=2,
    show_default=True,
    type=click.IntRange(0),
    help="Roster students who never join.",
)
@click.option(
    "--waiting-room/--no-waiting-room",
    default=True,
    show_default=True,
    help="Everyone passes the waiting room first.",
)
@click.option(
    "--disorder",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Fraction of events delivered out of order.",
)
@click.option(
    "--duplicates",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Fraction of events delivered twice.",
)
@click.option(
    "--seed",
    default=1,
    show_default=True,
    type=int,
    help="Same seed, same roster; each run is a new meeting instance.",
)
@click.option(
    "--duration",
    default=60,
    show_default=True,
    type=click.IntRange(30, 24 * 60),
    help="Meeting length in minutes.",
)
@click.option(
    "--speed",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Timeline compression: 1 real time, 60 a minute per second, 0 no pacing.",
)
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Delivery processes, each with --concurrency threads (with --speed 0 only).",
)
@click.option(
    "--url", default=None, help="Server base URL [default: http://HOST:PORT]."
)
@click.option(
    "--secret",
    default=None,
    help="Webhook secret token [default: the first of ZOOM_WEBHOOK_SECRET_TOKEN].",
)
@click.option(
    "--course",
    "course_code",
    default="DEMO-101",
    show_default=True,
    metavar="CODE",
    help="The course (created if missing); its roster, if it has one, plays the class.",
)
@click.option(
    "--meeting-number",
    default=84712639219,
    show_default=True,
    type=click.IntRange(10**8, 10**11 - 1),
)
@with_appcontext
def simulate_command(
    students: int,
    guests: int,
    late: int,
    drop_rejoin: int,
    two_device: int,
    breakout: int,
    left_early: int,
    absent: int,
    waiting_room: bool,
    disorder: float,
    duplicates: float,
    seed: int,
    duration: int,
    speed: float,
    concurrency: int,
    processes: int,
    url: str | None,
    secret: str | None,
    course_code: str,
    meeting_number: int,
) -> None:
    """Simulate a Zoom class and deliver its webhooks to a running server."""
    secrets = current_app.config.get("ZOOM_WEBHOOK_SECRETS") or ()
    secret = secret or (secrets[0] if secrets else None)
    if not secret:
        raise click.ClickException(
            "no webhook secret: set ZOOM_WEBHOOK_SECRET_TOKEN or pass --secret"
        )
    base_url = (url or _default_url()).rstrip("/")
    starts_at = datetime.now(UTC).replace(microsecond=0)
    played = _course_roster(course_code, starts_at)
    if played is not None and click.get_current_context().get_parameter_source(
        "students"
    ) not in (None, ParameterSource.DEFAULT):
        click.echo(
            f"{course_code} has a roster: its {len(played[0])} enrolled students "
            "play the class (--students is ignored)",
            err=True,
        )
    try:
        sim = build_class(
            SimulationOptions(
                students=students,
                guests=guests,
                late=late,
                drop_rejoin=drop_rejoin,
                two_device=two_device,
                breakout=breakout,
                left_early=left_early,
                absent=absent,
                waiting_room=waiting_room,
                disorder=disorder,
                duplicates=duplicates,
                seed=seed,
                duration_minutes=duration,
                meeting_number=meeting_number,
                course_code=course_code,
                start=starts_at,
            ),
            roster=played[0] if played is not None else None,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc

    transport = _open_transport(base_url)
    try:
        # Before touching the database: a stopped server changes nothing.
        try:
            transport.check()
        except (OSError, http.client.HTTPException) as exc:
            raise click.ClickException(
                f"the server at {base_url} is not reachable ({type(exc).__name__}); "
                "start it with `make run` or pass --url"
            ) from exc
        created, updated = _prepare_course(
            sim, course_code, import_roster=played is None
        )
        payloads = sim.deliveries()
        if played is None:
            students_line = f"{created} new, {updated} updated"
        else:
            students_line = "its own roster, none added"
            if played[1]:
                students_line += f"; {played[1]} withdrawn left out"
        click.echo(
            f"{course_code}: {len(sim.roster)} students ({students_line}); "
            f"meeting {sim.meeting_number} instance {sim.meeting_uuid}; "
            f"{len(sim.events)} events as {len(payloads)} deliveries; seed {seed}"
        )
        began = time.monotonic()
        try:
            with click.progressbar(length=len(payloads), label="delivering") as bar:
                if processes > 1 and speed == 0:
                    report = deliver_parallel(
                        payloads,
                        lambda: _open_transport(base_url),
                        secret=secret,
                        concurrency=concurrency,
                        processes=processes,
                        on_progress=bar.update,
                    )
                else:
                    report = deliver(
                        payloads,
                        transport.send,
                        secret=secret,
                        speed=speed,
                        start=sim.start,
                        concurrency=concurrency,
                        on_progress=bar.update,
                    )
        except (OSError, http.client.HTTPException) as exc:
            raise click.ClickException(
                f"lost the server at {base_url} ({type(exc).__name__}); "
                "the events sent so far are kept"
            ) from exc
    finally:
        transport.close()
    click.echo(f"{_summary(report)} in {time.monotonic() - began:.1f}s")
    # The meeting ends with the simulation; its attendance is generated already.
    click.echo(f"attendance: flask --app app attendance recompute '{sim.meeting_uuid}'")
    if report.failed:
        raise click.ClickException(f"{report.failed} webhooks were never accepted")
