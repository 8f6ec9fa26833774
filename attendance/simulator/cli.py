"""``flask --app app simulate``: play a simulated Zoom class against a running server.

Thin on purpose: the class comes from ``scenario``; the course and roster go
through the services; the webhooks go over real HTTP (``transport``), signed, so
the server under test cannot tell them from Zoom's. A course with a roster is
never given invented students: its own enrolled students play the class.
"""

from __future__ import annotations

import http.client
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import requests
from click.core import ParameterSource
from flask import current_app
from flask.cli import with_appcontext

from attendance.errors import NotFound, ValidationFailed
from attendance.extensions import db
from attendance.models import Course
from attendance.services.courses import find_course, set_meeting_numbers
from attendance.services.roster import enrolled_rows, import_rows
from attendance.simulator.delivery import DeliveryReport, deliver, deliver_parallel
from attendance.simulator.payloads import Connection
from attendance.simulator.record import (
    fake_data,
    lost_leaves,
    merged,
    without_leaves,
)
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


#: Seconds a running fake Zoom has to take the recorded class.
_FAKE_TIMEOUT = 10.0


def _record_file(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to the fake Zoom data file ``path``, added to what it holds.

    :raises click.ClickException: when ``path`` holds something else, or cannot be
        read or written.
    """
    existing: Any = {}
    try:
        if path.exists():
            existing = json.loads(path.read_text(encoding="utf-8") or "{}")
        if not isinstance(existing, dict):
            raise ValueError("not a JSON object")
        text = json.dumps(merged(existing, data), indent=1, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"cannot record the class to {path}: {exc} (it must be a fake Zoom "
            "data file, a JSON object, or not exist yet)"
        ) from exc


def _post_to_fake(base_url: str, data: dict[str, Any]) -> None:
    """Give a running fake Zoom the class's report rows and past instance.

    :raises click.ClickException: when the fake is not reachable or refuses them.
    """
    try:
        with requests.Session() as session:
            for uuid, rows in data["meetings"].items():
                answer = session.post(
                    f"{base_url}/_fake/participants",
                    json={"uuid": uuid, "participants": rows},
                    timeout=_FAKE_TIMEOUT,
                )
                answer.raise_for_status()
            for number, listed in data["instances"].items():
                answer = session.post(
                    f"{base_url}/_fake/instances",
                    json={"meeting_id": number, "meetings": listed, "append": True},
                    timeout=_FAKE_TIMEOUT,
                )
                answer.raise_for_status()
    except requests.RequestException as exc:
        raise click.ClickException(
            f"the fake Zoom at {base_url} did not take the class "
            f"({type(exc).__name__}); start it with `flask --app app zoom fake`"
        ) from exc


def _check_fake_url(fake_url: str | None) -> str | None:
    """``--fake-url`` without its trailing slash.

    :raises click.BadParameter: when it is not an http(s) URL.
    """
    if fake_url is None:
        return None
    parts = urlsplit(fake_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            "must be an http(s) URL, e.g. http://127.0.0.1:9100",
            param_hint="--fake-url",
        )
    return fake_url.rstrip("/")


def _keep_record(
    sim: SimulatedClass, record: Path | None, fake_url: str | None
) -> None:
    """Write the class as Zoom's report to ``record`` and/or a running fake Zoom."""
    if record is None and fake_url is None:
        return
    data = fake_data(sim)
    rows = len(data["meetings"][sim.meeting_uuid])
    if fake_url is not None:
        _post_to_fake(fake_url, data)
        click.echo(
            f"Zoom's report ({rows} rows) is served by the fake Zoom at {fake_url}"
        )
    if record is not None:
        _record_file(record, data)
        click.echo(f"Zoom's report ({rows} rows) recorded to {record}")


def _lost_line(lost: dict[str, Connection]) -> str:
    """Who lost their final leave, and when they really left."""
    named = ", ".join(
        f"{student_id} {conn.name}"
        + (
            f" (left {conn.leave:%H:%M:%S} UTC)"
            if conn.leave
            else " (stayed to the end)"
        )
        for student_id, conn in lost.items()
    )
    return f"lost by Zoom, never sent: the final leave of {len(lost)} students: {named}"


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
    "--started-ago",
    default=0,
    show_default=True,
    type=click.IntRange(0, 7 * 24 * 60),
    metavar="MINUTES",
    help="The class started this long ago (0: it starts now). With --started-ago "
    "equal to --duration it has just ended, so its report is due at once.",
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
@click.option(
    "--record",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Also write the class as Zoom's participant report and past instance, a "
    "data file for `flask --app app zoom fake --data FILE` (added to what it holds).",
)
@click.option(
    "--fake-url",
    default=None,
    metavar="URL",
    help="Also give the class's report and instance to the fake Zoom running there.",
)
@click.option(
    "--lose-leaves",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Students whose final participant_left Zoom never delivers: the webhooks "
    "keep them in until the end; Zoom's report has their real leave.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Send nothing (a class held while the server was stopped): only prepare "
    "the course and keep the record (--record and/or --fake-url).",
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
    record: Path | None,
    fake_url: str | None,
    lose_leaves: int,
    offline: bool,
    started_ago: int,
) -> None:
    """Simulate a Zoom class and deliver its webhooks to a running server.

    With --record FILE and/or --fake-url URL, Zoom's own report of the class is kept
    too (every join and leave, lost deliveries or not), for a reconciliation.
    """
    fake_url = _check_fake_url(fake_url)
    if offline and record is None and fake_url is None:
        raise click.UsageError(
            "--offline sends nothing: keep the class with --record FILE "
            "and/or --fake-url URL"
        )
    secrets = current_app.config.get("ZOOM_WEBHOOK_SECRETS") or ()
    secret = secret or (secrets[0] if secrets else None)
    if not secret and not offline:
        raise click.ClickException(
            "no webhook secret: set ZOOM_WEBHOOK_SECRET_TOKEN or pass --secret"
        )
    base_url = (url or _default_url()).rstrip("/")
    starts_at = datetime.now(UTC).replace(microsecond=0) - timedelta(
        minutes=started_ago
    )
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

    if offline:
        _play_offline(sim, course_code, played, seed, record, fake_url)
        return
    assert secret is not None  # noqa: S101 - checked above when not offline
    lost = lost_leaves(sim, lose_leaves)
    if len(lost) < lose_leaves:
        click.echo(
            f"only {len(lost)} students join this class: --lose-leaves "
            f"{lose_leaves} loses {len(lost)} leaves",
            err=True,
        )
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
        # Zoom's report first: a reconciliation right after meeting.ended finds it.
        _keep_record(sim, record, fake_url)
        created, updated = _prepare_course(
            sim, course_code, import_roster=played is None
        )
        payloads = sim.deliveries()
        if lost:
            payloads = without_leaves(payloads, {c.user_id for c in lost.values()})
        click.echo(
            _class_line(sim, course_code, played, created, updated, seed, len(payloads))
        )
        if lost:
            click.echo(_lost_line(lost))
        began = time.monotonic()
        report = _deliver(
            sim, payloads, transport, base_url, secret, speed, concurrency, processes
        )
    finally:
        transport.close()
    click.echo(f"{_summary(report)} in {time.monotonic() - began:.1f}s")
    # The meeting ends with the simulation; its attendance is generated already.
    click.echo(f"attendance: flask --app app attendance recompute '{sim.meeting_uuid}'")
    if record is not None or fake_url is not None:
        click.echo(f"reconcile:  flask --app app zoom reconcile '{sim.meeting_uuid}'")
    if report.failed:
        raise click.ClickException(f"{report.failed} webhooks were never accepted")


def _class_line(
    sim: SimulatedClass,
    course_code: str,
    played: tuple[list[dict[str, str]], int] | None,
    created: int,
    updated: int,
    seed: int,
    deliveries: int | None = None,
) -> str:
    """What is played: the course, its students, the meeting instance, the events."""
    if played is None:
        students_line = f"{created} new, {updated} updated"
    else:
        students_line = "its own roster, none added"
        if played[1]:
            students_line += f"; {played[1]} withdrawn left out"
    sent = ", none sent" if deliveries is None else f" as {deliveries} deliveries"
    return (
        f"{course_code}: {len(sim.roster)} students ({students_line}); "
        f"meeting {sim.meeting_number} instance {sim.meeting_uuid}; "
        f"{len(sim.events)} events{sent}; seed {seed}"
    )


def _play_offline(
    sim: SimulatedClass,
    course_code: str,
    played: tuple[list[dict[str, str]], int] | None,
    seed: int,
    record: Path | None,
    fake_url: str | None,
) -> None:
    """A class held while the server was stopped: only Zoom's report knows it.

    The course and its meeting number are prepared (the backfill looks for the
    course's numbers); nothing is sent.
    """
    _keep_record(sim, record, fake_url)
    created, updated = _prepare_course(sim, course_code, import_roster=played is None)
    click.echo(_class_line(sim, course_code, played, created, updated, seed))
    click.echo(
        f"offline: no webhook sent; backfill: flask --app app zoom backfill "
        f"--course {course_code}"
    )


def _deliver(
    sim: SimulatedClass,
    payloads: list[dict[str, Any]],
    transport: HttpTransport,
    base_url: str,
    secret: str,
    speed: float,
    concurrency: int,
    processes: int,
) -> DeliveryReport:
    """Deliver ``payloads`` with a progress bar, paced or from several processes.

    :raises click.ClickException: when the server goes away mid-class.
    """
    try:
        with click.progressbar(length=len(payloads), label="delivering") as bar:
            if processes > 1 and speed == 0:
                return deliver_parallel(
                    payloads,
                    lambda: _open_transport(base_url),
                    secret=secret,
                    concurrency=concurrency,
                    processes=processes,
                    on_progress=bar.update,
                )
            return deliver(
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
