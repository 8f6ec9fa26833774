"""Reconciliation benchmark: a 1,000-participant meeting against Zoom's 1,300-row report.

In one run, on a fresh SQLite database in a temp dir (or ``--database-url``):

1. starts the fake Zoom (``flask --app app zoom fake``, its own process: Zoom is
   another machine) on a free port;
2. plays a simulated class of 1,000 people (970 roster students, 30 guests; drops
   and rejoins, second devices, late joiners, early leavers) through the real
   intake's applier, with ``--lost`` of the students' final leaves never delivered,
   so the meeting ends with them still "in"; its report, one row per join session
   (1,300 rows, Zoom pages them by 300), goes to the fake Zoom;
3. times one reconciliation of the meeting end to end, as ``flask --app app zoom
   reconcile`` runs it (``services.reconciliation.reconcile_now``): the S2S token,
   five report pages over HTTP, the rows stored, attendance regenerated, the
   changes recorded; then once more (the same report again);
4. serves the same database with the real server (``python app.py`` under eventlet,
   its scheduler on, the fake's settings) and loads its webhook intake with wrk
   as ``bench/ingest.py`` does, three times: alone; while the server reconciles
   another instance of the class once, a third into the window; and while it
   reconciles ``--back-to-back`` more instances one after the other through the
   window (``POST /api/v1/meetings/<id>/reconcile`` as an admin, each awaited
   through ``GET .../reconciliation``; the API refuses to reconcile one meeting
   twice within a minute). ``--jobs-process`` runs the jobs in a separate ``flask
   --app app scheduler`` process instead, for comparison.

    .venv/bin/python bench/reconcile.py            # part 4 needs wrk: apt-get install -y wrk

Targets (issue 13): reconciliation < 2 s; the intake's figures unchanged while a
reconciliation runs (here: with the one reconciliation, >= 0.9 of its throughput
alone, and a p99 under 100 ms as in ``bench/ingest.py`` or at most 1.2 times the
p99 alone; back to back is printed too).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import (  # noqa: E402
    HEALTH_PATH,
    WEBHOOK_PATH,
    build_bodies,
    free_port,
    write_signed_requests,
)
from ingest import (  # noqa: E402
    INSTALL_WRK,
    MAX_P99_MS,
    PYTHON,
    EventCounter,
    PhaseResult,
    Server,
    find_wrk,
    process_cpu,
    run_wrk,
)

HOST = "127.0.0.1"
#: Targets from the issue.
MAX_RECONCILE_SECONDS = 2.0
MIN_THROUGHPUT_SHARE = 0.9
#: "Unchanged" p99: under bench/ingest.py's target, or within this of the p99 alone
#: (a busy machine can put the p99 alone over the target already).
MAX_P99_GROWTH = 1.2
#: The class: 970 students + 30 guests = 1,000 people; with the host, 150 rejoins
#: and 149 second devices, 1,300 connections: 1,300 report rows (no waiting room).
CLASS = {
    "students": 970,
    "guests": 30,
    "late": 50,
    "drop_rejoin": 150,
    "two_device": 149,
    "left_early": 100,
    "absent": 0,
    "breakout": 0,
    "waiting_room": False,
    "seed": 13,
    "duration_minutes": 60,
    "meeting_number": 84712639219,
    "course_code": "BENCH-R",
}
#: The first instance; the others follow a day apart. A month ago: the server's
#: own sweep (meetings ended in the last 7 days) leaves them to the bench's requests.
START = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - (
    timedelta(days=30)
)
ACCOUNT = {"account_id": "bench-account", "client_id": "bench-client"}
ADMIN = {"email": "bench-admin@example.edu", "password": secrets.token_urlsafe(16)}


# --------------------------------------------------------------------------
# Part 1-3: the meeting, the report, one reconciliation in this process


def _zoom_settings(fake_port: int, client_secret: str) -> dict[str, str]:
    return {
        "ZOOM_ACCOUNT_ID": ACCOUNT["account_id"],
        "ZOOM_CLIENT_ID": ACCOUNT["client_id"],
        "ZOOM_CLIENT_SECRET": client_secret,
        "ZOOM_API_BASE_URL": f"http://{HOST}:{fake_port}/v2",
        "ZOOM_OAUTH_BASE_URL": f"http://{HOST}:{fake_port}",
    }


def _prepare_course(app: Any) -> None:
    """The course of the class, its meeting number and its 970-student roster."""
    from attendance.extensions import db
    from attendance.models import Course
    from attendance.services.courses import set_meeting_numbers
    from attendance.services.roster import import_rows
    from attendance.simulator.scenario import SimulationOptions, build_class

    sim = build_class(SimulationOptions(start=START, **CLASS))
    with app.app_context():
        course = Course(code=sim.options.course_code, title="Bench", timezone="UTC")
        db.session.add(course)
        db.session.flush()
        set_meeting_numbers(course, [sim.meeting_number])
        import_rows(course, list(enumerate(sim.roster, start=2)))
        db.session.commit()
        db.session.remove()


def _play_class(
    app: Any, fake_port: int, lost: int, day: int = 0
) -> tuple[int, Any, dict[str, Any], float]:
    """One instance of the class (``day`` days after the first): its webhooks less
    ``lost`` final leaves applied, its report at the fake Zoom.

    Returns (meeting id, the simulated class, the lost connections by student,
    seconds the webhooks took to apply).
    """
    from sqlalchemy import select

    from attendance.extensions import db
    from attendance.ingest import applier
    from attendance.ingest.event_log import IncomingEvent, store_events
    from attendance.models import Meeting
    from attendance.simulator.payloads import encode
    from attendance.simulator.record import lost_leaves, report_rows, without_leaves
    from attendance.simulator.scenario import SimulationOptions, build_class

    start = START + timedelta(days=day)
    sim = build_class(SimulationOptions(start=start, **CLASS))
    gone = lost_leaves(sim, lost)
    events = without_leaves(sim.events, {c.user_id for c in gone.values()})
    with app.app_context():
        began = time.perf_counter()
        for first in range(0, len(events), 500):
            chunk = events[first : first + 500]
            items = [IncomingEvent.from_body(encode(e), e) for e in chunk]
            ids = [i for i in store_events(items) if i is not None]
            applier.apply_ids(ids)
            db.session.remove()
        played = time.perf_counter() - began
        meeting = db.session.scalar(
            select(Meeting).where(Meeting.uuid == sim.meeting_uuid)
        )
        assert meeting is not None and meeting.status == "ended", (
            "the class did not end"
        )
        meeting_id = meeting.id
        db.session.remove()
    status, _ = _post_json(
        fake_port,
        "/_fake/participants",
        {"uuid": sim.meeting_uuid, "participants": report_rows(sim)},
    )
    assert status == 200, status
    return meeting_id, sim, gone, played


def _post_json(port: int, path: str, body: Any, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def _get_json(port: int, path: str, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def _report_calls(fake_port: int) -> int:
    _, body = _get_json(fake_port, "/_fake/calls")
    return sum(1 for c in body["calls"] if c["path"].startswith("/v2/report/"))


def _reconciler() -> Any:
    """The service that reconciles one meeting now, by its id.

    ``reconcile_meeting(meeting_id)`` where the service has it; else
    ``reconcile_now(meeting)``, the one ``flask --app app zoom reconcile`` calls.
    """
    from attendance.extensions import db
    from attendance.models import Meeting
    from attendance.services import reconciliation

    by_id = getattr(reconciliation, "reconcile_meeting", None)
    if by_id is not None:
        return by_id

    def reconcile(meeting_id: int) -> Any:
        meeting = db.session.get(Meeting, meeting_id)
        assert meeting is not None, meeting_id
        return reconciliation.reconcile_now(meeting)

    return reconcile


def _reconcile_here(app: Any, meeting_id: int) -> tuple[float, Any]:
    """One reconciliation of the meeting, end to end, timed; (seconds, its JobResult)."""
    from attendance.extensions import db

    reconcile = _reconciler()
    with app.app_context():
        began = time.perf_counter()
        try:
            result = reconcile(meeting_id)
        finally:
            seconds = time.perf_counter() - began
            db.session.remove()
    return seconds, result


def _moved_students(app: Any, meeting_id: int, gone: dict[str, Any]) -> str:
    """The statuses of the students whose leave was lost, counted."""
    from sqlalchemy import select

    from attendance.extensions import db
    from attendance.models import AttendanceRecord
    from attendance.models import Student as StudentRow

    with app.app_context():
        rows = db.session.execute(
            select(StudentRow.student_id, AttendanceRecord.status)
            .join(AttendanceRecord, AttendanceRecord.student_id == StudentRow.id)
            .where(AttendanceRecord.meeting_id == meeting_id)
            .where(StudentRow.student_id.in_(list(gone)))
        ).all()
        db.session.remove()
    counts: dict[str, int] = {}
    for _sid, status in rows:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"


# --------------------------------------------------------------------------
# Part 4: the intake alone, and while the server reconciles


class Reconciler(threading.Thread):
    """Asks the server to reconcile each meeting in turn, awaiting each, until
    stopped or done; the first after ``delay`` seconds.

    A meeting at a time, each once: the API refuses a meeting reconciled less than
    a minute ago (409), but the scheduler reconciles many meetings in a row (say,
    after an outage).
    """

    def __init__(
        self, port: int, meeting_ids: Sequence[int], token: str, delay: float = 0.0
    ) -> None:
        super().__init__(name="reconciler", daemon=True)
        self.port, self.meeting_ids = port, list(meeting_ids)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.delay = delay
        self.stop = threading.Event()
        self.seconds: list[float] = []
        self.errors: list[str] = []

    def _state(self, meeting_id: int) -> dict[str, Any]:
        path = f"/api/v1/meetings/{meeting_id}/reconciliation"
        status, body = _get_json(self.port, path, self.headers)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body}")
        return body

    def run(self) -> None:
        try:
            self.stop.wait(self.delay)
            for meeting_id in self.meeting_ids:
                if self.stop.is_set():
                    return
                self._one(meeting_id)
        except Exception as exc:  # noqa: BLE001 - reported in the summary
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def _one(self, meeting_id: int) -> None:
        before = self._state(meeting_id).get("at")
        began = time.monotonic()
        path = f"/api/v1/meetings/{meeting_id}/reconcile"
        status, body = _post_json(self.port, path, {}, self.headers)
        if status != 202:
            raise RuntimeError(f"POST {path}: {status} {body}")
        while True:
            state = self._state(meeting_id)
            if state.get("status") != "pending" and state.get("at") != before:
                break
            if time.monotonic() - began > 60:
                status, error = state.get("status"), state.get("error")
                raise RuntimeError(
                    f"not reconciled after 60 s (status {status}, error {error})"
                )
            time.sleep(0.05)
        if state.get("status") != "done":
            self.errors.append(f"{state.get('status')}: {state.get('error')}")
        self.seconds.append(time.monotonic() - began)


def _phase(
    wrk: str,
    server: Server,
    requests_file: Path,
    args: argparse.Namespace,
    name: str,
) -> PhaseResult:
    cpu0 = process_cpu(server.pid)
    doc = run_wrk(
        wrk,
        f"http://{HOST}:{server.port}{WEBHOOK_PATH}",
        requests_file,
        seconds=args.duration,
        connections=args.connections,
        threads=args.threads,
    )
    return PhaseResult.from_wrk(name, doc, process_cpu(server.pid) - cpu0)


def _intake(
    args: argparse.Namespace,
    wrk: str,
    tmp: Path,
    database_url: str,
    zoom: dict[str, str],
    meeting_ids: Sequence[int],
) -> bool:
    """Part 4: the intake's figures alone and while reconciling; True when unchanged."""
    port = free_port(HOST)
    secret = secrets.token_hex(16)
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        ZOOM_WEBHOOK_SECRET_TOKEN=secret,
        HOST=HOST,
        PORT=str(port),
        # The jobs run in the server's own process, as with `make run`, unless
        # --jobs-process gives them the scheduler process of a larger deployment.
        SCHEDULER_ENABLED="false" if args.jobs_process else "true",
        JOBS_POLL_SECONDS="1",
        LOG_LEVEL=args.log_level,
        ASYNC_MODE="eventlet",
        WEBHOOK_PROCESSING="background",
        ATTENDANCE_ENV="development",
        SECRET_KEY=secrets.token_hex(32),
        ATTENDANCE_ADMIN_EMAIL=ADMIN["email"],
        ATTENDANCE_ADMIN_PASSWORD=ADMIN["password"],
        PYTHONUNBUFFERED="1",
        **zoom,
    )
    server = Server(
        "server",
        [PYTHON, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        port=port,
        ready_path=HEALTH_PATH,
        log_path=tmp / "server.log",
    )
    run_id = secrets.token_hex(3)
    phases: tuple[tuple[str, str, dict[str, Any] | None], ...] = (
        ("w", "warm", None),
        ("a", "alone", None),
        # One reconciliation, a third into the window: "while a reconciliation runs".
        ("o", "one", {"meeting_ids": meeting_ids[:1], "delay": args.duration / 3}),
        # Other meetings reconciled back to back through the window: the worst case.
        ("b", "b2b", {"meeting_ids": meeting_ids[1:]}),
    )
    sets = {
        key: build_bodies(args.events, run_id=f"{run_id}{key}", label=key)
        for key, _, _ in phases
    }
    results: dict[str, tuple[PhaseResult, Reconciler | None]] = {}
    jobs: subprocess.Popen[bytes] | None = None
    try:
        server.start()
        if args.jobs_process:
            with open(tmp / "scheduler.log", "wb") as log:
                jobs = subprocess.Popen(
                    [PYTHON, "-m", "flask", "--app", "app", "scheduler"],
                    cwd=ROOT,
                    env={**env, "SCHEDULER_ENABLED": "true"},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        status, body = _post_json(port, "/api/v1/tokens", ADMIN)
        if status not in (200, 201):
            raise RuntimeError(f"POST /api/v1/tokens: {status} {body}")
        token = body["token"]
        for key, name, reconciling in phases:
            requests_file = tmp / f"{key}.requests"
            write_signed_requests(requests_file, secret, sets[key], int(time.time()))
            reconciler = None
            if reconciling is not None:
                reconciler = Reconciler(port, token=token, **reconciling)
                reconciler.start()
            result = _phase(wrk, server, requests_file, args, name)
            if reconciler is not None:
                reconciler.stop.set()
                reconciler.join(90)
            counter = EventCounter(database_url, f"{run_id}{key}")
            try:
                counter.wait_applied(args.drain_timeout)
            finally:
                counter.close()
            if key != "w":
                results[key] = (result, reconciler)
                print(result.line(), flush=True)
    finally:
        server.stop()
        if jobs is not None:
            jobs.terminate()
            try:
                jobs.wait(timeout=10)
            except subprocess.TimeoutExpired:
                jobs.kill()
                jobs.wait(timeout=5)
    alone = results["a"][0]
    where = "the scheduler process" if args.jobs_process else "the server's process"
    verdicts = {}
    for key, label in (("o", "one"), ("b", "b2b")):
        during, reconciler = results[key]
        assert reconciler is not None
        verdicts[key] = _compare(alone, during, reconciler, label, where)
    lines, problems = server.log_problems()
    print(f"log     : {lines} server log lines, {len(problems)} warnings/errors")
    for line in problems[:10]:
        print(f"          {line}")
    if not verdicts["b"]:
        print(
            "note    : back to back, reconciliations take most of the server's one"
            " core (Python runs one thread at a time); the target is judged on one"
        )
    return verdicts["o"]


def _compare(
    alone: PhaseResult,
    during: PhaseResult,
    reconciler: Reconciler,
    label: str,
    where: str,
) -> bool:
    """Print the intake's figures while reconciling against alone; True when unchanged."""
    share = during.throughput / alone.throughput
    done, errors = reconciler.seconds, reconciler.errors
    p99_limit = max(MAX_P99_MS, alone.p99_ms * MAX_P99_GROWTH)
    unchanged = (
        share >= MIN_THROUGHPUT_SHARE
        and during.p99_ms < p99_limit
        and during.non_200 == 0
        and len(done) > 0
        and not errors
    )
    print(
        f"{label:<8}: {len(done)} reconciliations in {where} during the load"
        f" ({_seconds_line(done)} from POST to done)"
        + (f"; errors: {'; '.join(errors[:3])}" if errors else "")
    )
    print(
        f"{'':<8}  intake {share:.2f} of its throughput alone (target >="
        f" {MIN_THROUGHPUT_SHARE}), p99 {alone.p99_ms:.1f} -> {during.p99_ms:.1f} ms"
        f" (target < {p99_limit:.0f} ms), not 200: {during.non_200}:"
        f" {'ok' if unchanged else 'MISSED'}"
    )
    return unchanged


def _seconds_line(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"


# --------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lost", type=int, default=100, help="students whose final leave is lost"
    )
    parser.add_argument("--database-url", help="instead of a temp SQLite database")
    parser.add_argument(
        "--no-intake", action="store_true", help="skip part 4 (the intake under wrk)"
    )
    parser.add_argument(
        "--jobs-process",
        action="store_true",
        help="part 4: run the jobs in a `flask --app app scheduler` process, not the"
        " server's (for comparison)",
    )
    parser.add_argument(
        "--back-to-back",
        type=int,
        default=16,
        help="meetings the server reconciles back to back in part 4's last phase",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="s per phase")
    parser.add_argument("--connections", type=int, default=20, help="wrk -c")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t")
    parser.add_argument(
        "--events", type=int, default=60000, help="distinct events per phase"
    )
    parser.add_argument("--log-level", default="WARNING", help="server LOG_LEVEL")
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    return parser.parse_args(argv)


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise SystemExit(143)


def main(argv: Sequence[str] | None = None) -> int:
    """Parts 1-4; 0 when every target is met."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    wrk = None if args.no_intake else find_wrk(args.wrk)
    if not args.no_intake and wrk is None:
        print(INSTALL_WRK + "\n(or pass --no-intake)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    fake_port = free_port(HOST)
    zoom = _zoom_settings(fake_port, secrets.token_urlsafe(24))
    fake = Server(
        "fake Zoom",
        [
            PYTHON,
            "-m",
            "flask",
            "--app",
            "app",
            "zoom",
            "fake",
            "--port",
            str(fake_port),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            **zoom,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench",
            "PYTHONUNBUFFERED": "1",
        },
        port=fake_port,
        ready_path="/_fake/calls",
        log_path=tmp / "fake.log",
    )
    print(f"bench/reconcile.py: temp {tmp}", flush=True)
    crashed = True
    try:
        fake.start()
        os.environ.setdefault("SECRET_KEY", "bench")
        from flask_migrate import upgrade

        from attendance import create_app
        from attendance.simulator.record import report_rows

        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "LOG_LEVEL": "WARNING",
                "WEBHOOK_PROCESSING": "inline",
                "SCHEDULER_ENABLED": False,
                **zoom,
            }
        )
        with app.app_context():
            upgrade()
        _prepare_course(app)
        meeting_id, sim, gone, played = _play_class(app, fake_port, args.lost)
        people = len(sim.roster) + len(sim.cast["guests"])
        print(
            f"class   : {people} people ({len(sim.roster)} students,"
            f" {len(sim.cast['guests'])} guests), {len(sim.plan)} connections;"
            f" webhooks applied in {played:.1f} s, the final leave of"
            f" {len(gone)} students lost",
            flush=True,
        )
        rows = len(report_rows(sim))
        print(f"report  : {rows} rows at the fake Zoom, paged by 300", flush=True)

        before = _moved_students(app, meeting_id, gone)
        first, result = _reconcile_here(app, meeting_id)
        pages = _report_calls(fake_port)
        fast = first < MAX_RECONCILE_SECONDS
        print(
            f"reconcile: {first:6.2f} s end to end ({pages} report pages fetched;"
            f" {result.fetched} rows, {result.changed} changed: {result.summary})"
            f"   target < {MAX_RECONCILE_SECONDS:.0f} s: {'ok' if fast else 'MISSED'}",
            flush=True,
        )
        print(
            f"lost    : the {len(gone)} students whose leave was lost: {before}"
            f" by the webhooks alone; {_moved_students(app, meeting_id, gone)} now"
        )
        again, result = _reconcile_here(app, meeting_id)
        print(
            f"again   : {again:6.2f} s ({result.changed} changed: {result.summary})",
            flush=True,
        )
        with app.app_context():
            from attendance.extensions import db

            db.engine.dispose()  # the server takes the database from here

        unchanged = True
        if wrk is not None:
            # Meetings the server has not reconciled yet (see Reconciler).
            began = time.perf_counter()
            others = [
                _play_class(app, fake_port, args.lost, day)[0]
                for day in range(1, 2 + args.back_to_back)
            ]
            print(
                f"more    : {len(others)} more instances of the class, with their"
                f" reports, for the server to reconcile ({time.perf_counter() - began:.0f} s)",
                flush=True,
            )
            with app.app_context():
                from attendance.extensions import db

                db.engine.dispose()
            unchanged = _intake(args, wrk, tmp, database_url, zoom, others)
        failed = not (fast and unchanged)
        print(f"result  : {'FAIL' if failed else 'PASS'}")
        crashed = False
        return 1 if failed else 0
    finally:
        fake.stop()
        if args.keep or crashed:
            print(f"kept    : {tmp} (bench.db, server.log, fake.log)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
