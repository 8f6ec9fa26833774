"""Webhook intake benchmark: the full intake against a bare verify-and-200 floor, with wrk.

Both targets are loaded by ``wrk`` (20 connections, 2 threads by default) through
``bench/wrk_signed.lua``, which cycles through a file of pre-built requests, each a
distinct Zoom event signed with a fresh timestamp (``x-zm-request-timestamp`` +
``x-zm-signature``); the very same bodies go to both targets, in one run:

1. the **floor**: ``bench/floor_wsgi.py``, a minimal WSGI app on eventlet's WSGI
   server (no Flask) that reads the body, checks the HMAC and answers 200, in its
   own process; a warm-up, then ``--duration`` seconds of load;
2. the **intake**: the real server (``python app.py`` under eventlet, a temporary
   SQLite database or ``--database-url``) and its real route
   ``POST /api/zoom/webhook``; a warm-up (its own events, applied before timing),
   then ``--duration`` seconds of load;
3. waits for the worker to apply everything, then counts this run's rows.

It prints requests/s and p50/p99 (wrk's own, from ``done()``) of both, their
ratio, whether every answer was a 200 and every answered event was stored, and
exits non-zero when a target is missed: intake >= 0.5 of the floor, intake p99
< 100 ms, nothing lost, every answer a 200, no event sent twice.

    .venv/bin/python bench/ingest.py            # needs wrk: apt-get install -y wrk

``--database-url postgresql://...`` runs against PostgreSQL (this run's rows are
told apart by a per-run meeting-uuid prefix; nothing is deleted). ``--root DIR``
serves the intake from another checkout (e.g. a ``git worktree`` of an older
commit) with this checkout's virtualenv; the floor and the load are unchanged.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    HEALTH_PATH,
    ROOT,
    WEBHOOK_PATH,
    build_bodies,
    free_port,
    meeting_uuid,
    write_signed_requests,
)

HOST = "127.0.0.1"
#: Targets from the issue.
MIN_RATIO = 0.5
MAX_P99_MS = 100.0
#: Below this share of a core the server was not the bottleneck of a phase.
SATURATED = 0.9
#: wrk's socket timeout: far above Zoom's 3 s deadline, so a stall shows up as
#: latency (wrk leaves timed-out requests out of its percentiles).
WRK_TIMEOUT = "30s"
#: Re-sign the requests when their timestamp gets this old (the server allows 300 s).
MAX_SIGNATURE_AGE = 120.0
LUA = Path(__file__).resolve().parent / "wrk_signed.lua"
FLOOR = Path(__file__).resolve().parent / "floor_wsgi.py"
_VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON) if _VENV_PYTHON.exists() else sys.executable
INSTALL_WRK = (
    "wrk, the HTTP load generator this benchmark uses, was not found.\n"
    "Install it: `apt-get install -y wrk` (Debian/Ubuntu), `brew install wrk` (macOS),\n"
    "or build it from https://github.com/wg/wrk; or pass --wrk /path/to/wrk."
)


# --------------------------------------------------------------------------
# Results


@dataclass
class PhaseResult:
    """What wrk (and the Lua script) saw during one timed phase."""

    name: str
    requests: int  # completed, as wrk counts them
    duration: float  # seconds
    p50_ms: float
    p99_ms: float
    max_ms: float
    made: int  # requests the script handed to wrk (an upper bound of those sent)
    wrapped: int  # times a thread ran out of requests and started again
    ok: int  # answers with HTTP 200
    other_statuses: Counter[str]
    socket_errors: Counter[str]
    server_cpu: float = float("nan")  # CPU seconds the server used in the phase

    @classmethod
    def from_wrk(cls, name: str, doc: dict[str, Any], server_cpu: float) -> PhaseResult:
        """Build from the ``WRK_JSON`` document of ``wrk_signed.lua``."""
        lat = doc["latency_us"]
        errors = Counter(
            {k: v for k, v in doc["errors"].items() if k != "status" and v}
        )
        return cls(
            name,
            requests=doc["requests"],
            duration=doc["duration_us"] / 1e6,
            p50_ms=lat["p50"] / 1000,
            p99_ms=lat["p99"] / 1000,
            max_ms=lat["max"] / 1000,
            made=doc["made"],
            wrapped=doc["wrapped"],
            ok=doc["ok"],
            other_statuses=Counter(doc["other_statuses"]),
            socket_errors=errors,
            server_cpu=server_cpu,
        )

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return self.requests / self.duration if self.duration > 0 else float("nan")

    @property
    def non_200(self) -> int:
        """Answers other than HTTP 200, plus socket errors and timeouts."""
        return sum(self.other_statuses.values()) + sum(self.socket_errors.values())

    @property
    def server_busy(self) -> float:
        """Share of one core the server used during the phase (1.0: saturated)."""
        return self.server_cpu / self.duration if self.duration > 0 else float("nan")

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per completed request (the worker's included)."""
        return 1000 * self.server_cpu / self.requests if self.requests else math.nan

    def line(self) -> str:
        """One summary line: throughput, p50, p99, answers, server CPU."""
        others = _fmt_counter(self.other_statuses + self.socket_errors) or "none"
        per_event = self.cpu_ms
        return (
            f"{self.name:<8}: {self.throughput:7.0f} req/s  p50 {self.p50_ms:6.1f} ms"
            f"  p99 {self.p99_ms:6.1f} ms  max {self.max_ms:6.0f} ms"
            f"   ({self.requests} in {self.duration:.2f} s; 200: {self.ok},"
            f" other: {others}; server cpu {100 * self.server_busy:.0f}%,"
            f" {per_event:.2f} ms/request)"
        )


def _fmt_counter(counter: Counter[str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(counter.items()))


# --------------------------------------------------------------------------
# Load: wrk


def find_wrk(name: str) -> str | None:
    """The path of the wrk executable, or None."""
    return shutil.which(name)


def run_wrk(
    wrk: str,
    url: str,
    requests_file: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
) -> dict[str, Any]:
    """Run wrk against ``url`` for ``seconds``; return the script's ``WRK_JSON``.

    :raises RuntimeError: when wrk fails or prints no result.
    """
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={WRK_TIMEOUT}",
        "-s",
        str(LUA),
        url,
        "--",
        str(requests_file),
        str(threads),
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, check=False, timeout=seconds + 120
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON ") :])
    msg = (
        f"wrk exited with {done.returncode} and no result:\n"
        f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
    )
    raise RuntimeError(msg)


# --------------------------------------------------------------------------
# Servers and database


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by ``pid``; NaN where unknown."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # After the command: state is field 3, utime 14 and stime 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One server subprocess; always stopped by ``stop()``."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        port: int,
        ready_path: str,
        log_path: Path,
    ) -> None:
        self.name = name
        self.cmd = cmd
        self.cwd = cwd
        self.env = env
        self.port = port
        self.ready_path = ready_path
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id once started."""
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until ``GET ready_path`` answers 200."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C reaches us; we stop it in order
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                msg = f"{self.name} exited with {self.proc.returncode}:\n"
                raise RuntimeError(msg + self.log_tail())
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", self.ready_path)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        msg = f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; safe to call twice."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_problems(self) -> tuple[int, list[str]]:
        """(line count, lines that look like warnings, errors or tracebacks)."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return 0, []
        marks = (" ERROR ", " CRITICAL ", " WARNING ", "Traceback")
        return len(text), [ln for ln in text if any(m in ln for m in marks)]


class EventCounter:
    """Counts this run's rows in ``webhook_events`` by status (read-only)."""

    def __init__(self, database_url: str, run_id: str) -> None:
        self.url = database_url
        self.like = meeting_uuid(run_id, 0).rsplit("-", 1)[0] + "-%"
        self._engine: Any = None

    def statuses(self) -> Counter[str]:
        """Rows of this run, by status."""
        sql = (
            "SELECT status, COUNT(*) FROM webhook_events"
            " WHERE meeting_uuid LIKE :prefix GROUP BY status"
        )
        if self.url.startswith("sqlite:///"):
            path = self.url[len("sqlite:///") :]
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            try:
                rows = conn.execute(
                    sql.replace(":prefix", "?"), (self.like,)
                ).fetchall()
            finally:
                conn.close()
        else:
            from sqlalchemy import create_engine, text

            if self._engine is None:
                url = self.url
                for prefix in ("postgres://", "postgresql://"):
                    if url.startswith(prefix):
                        url = "postgresql+psycopg2://" + url[len(prefix) :]
                self._engine = create_engine(url)
            with self._engine.connect() as conn:
                rows = conn.execute(text(sql), {"prefix": self.like}).all()
        return Counter({str(status): int(n) for status, n in rows})

    def wait_applied(self, timeout: float) -> tuple[Counter[str], float]:
        """Poll until no row of this run is ``queued``; return (statuses, seconds)."""
        started = time.monotonic()
        while True:
            counts = self.statuses()
            waited = time.monotonic() - started
            if counts.get("queued", 0) == 0 or waited > timeout:
                return counts, waited
            time.sleep(0.05)

    def close(self) -> None:
        """Dispose of the engine, if one was made."""
        if self._engine is not None:
            self._engine.dispose()


def migrate(root: Path, env: dict[str, str], log_path: Path) -> None:
    """``flask --app app db upgrade`` in ``root`` against the bench database."""
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [PYTHON, "-m", "flask", "--app", "app", "db", "upgrade"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        output = log_path.read_text(errors="replace")
        raise RuntimeError(f"db upgrade failed ({done.returncode}):\n{output}")


def server_env(
    args: argparse.Namespace, root: Path, database_url: str, port: int, secret: str
) -> dict[str, str]:
    """The environment of the migration and the intake server."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(
        # The checkout's own package first, ahead of this venv's editable install.
        PYTHONPATH=str(root),
        DATABASE_URL=database_url,
        ZOOM_WEBHOOK_SECRET_TOKEN=secret,
        HOST=HOST,
        PORT=str(port),
        SCHEDULER_ENABLED="false",
        LOG_LEVEL=args.log_level,
        ASYNC_MODE="eventlet",
        WEBHOOK_PROCESSING="background",
        ATTENDANCE_ENV="development",
        # Keeps create_app from writing instance/secret_key.
        SECRET_KEY=secrets.token_hex(32),
        PYTHONUNBUFFERED="1",
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    return env


def _git_head(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()[:72] or "(not a git checkout)"


# --------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per target"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of warm-up per target"
    )
    parser.add_argument("--connections", type=int, default=20, help="wrk -c")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t")
    parser.add_argument(
        "--events",
        type=int,
        default=80000,
        help="distinct signed events prepared per target: more than the floor"
        " answers in --duration (the run fails if one is sent twice)",
    )
    parser.add_argument(
        "--meetings", type=int, default=5, help="meeting uuids to spread events over"
    )
    parser.add_argument(
        "--started-every",
        type=int,
        default=10,
        help="every Nth event is meeting.started, others participant_joined (0: none)",
    )
    parser.add_argument(
        "--database-url", help="run against this database instead of SQLite"
    )
    parser.add_argument("--redis-url", help="serve with this Socket.IO message queue")
    parser.add_argument("--log-level", default="WARNING", help="server LOG_LEVEL")
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="checkout whose app.py serves the intake (default: this one)",
    )
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument(
        "--drain-timeout", type=float, default=120.0, help="seconds to await the worker"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir (DB, logs, requests)"
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.threads, args.events) <= 0:
        parser.error("--duration, --connections, --threads, --events must be positive")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    args.root = args.root.resolve()
    if not (args.root / "app.py").is_file():
        parser.error(f"--root {args.root} has no app.py")
    return args


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise SystemExit(143)


def _load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


class Bench:
    """One run: the prepared events, the temp dir, and how to load a target."""

    def __init__(self, args: argparse.Namespace, wrk: str) -> None:
        self.args = args
        self.wrk = wrk
        self.run_id = secrets.token_hex(4)
        self.secret = secrets.token_hex(16)
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
        # Built before anything is timed; signed just before each use (300 s window).
        warm = max(1000, int(args.events * args.warmup / max(args.duration, 1)))
        self.floor_warm = build_bodies(warm, run_id=f"{self.run_id}f", label="floor")
        self.intake_warm = build_bodies(warm, run_id=f"{self.run_id}w", label="warm")
        self.bodies = build_bodies(
            args.events,
            run_id=self.run_id,
            meetings=args.meetings,
            started_every=args.started_every,
        )

    def signed(self, name: str, bodies: list[bytes]) -> Path:
        """Write ``bodies`` signed now to a requests file for wrk."""
        path = self.tmp / f"{name}.requests"
        write_signed_requests(path, self.secret, bodies, int(time.time()))
        return path

    def load(
        self, name: str, server: Server, path: str, requests: Path, seconds: float
    ) -> PhaseResult:
        """wrk on ``server``'s ``path`` for ``seconds``, with the server's CPU use."""
        cpu0 = process_cpu(server.pid)
        doc = run_wrk(
            self.wrk,
            f"http://{HOST}:{server.port}{path}",
            requests,
            seconds=seconds,
            connections=self.args.connections,
            threads=self.args.threads,
        )
        return PhaseResult.from_wrk(name, doc, process_cpu(server.pid) - cpu0)


def main(argv: Sequence[str] | None = None) -> int:
    """Load the floor, then the intake, and print the summary; 0 when every target is met."""
    args = parse_args(argv)
    wrk = find_wrk(args.wrk)
    if wrk is None:
        print(INSTALL_WRK, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    bench = Bench(args, wrk)
    tmp = bench.tmp
    database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    backend = "PostgreSQL" if args.database_url else "SQLite"
    floor_port, intake_port = free_port(HOST), free_port(HOST)
    env = server_env(args, args.root, database_url, intake_port, bench.secret)
    floor_env = dict(os.environ, PYTHONUNBUFFERED="1")
    floor = Server(
        "floor",
        [PYTHON, str(FLOOR), "--host", HOST, "--port", str(floor_port)]
        + ["--secret", bench.secret],
        cwd=ROOT,
        env=floor_env,
        port=floor_port,
        ready_path="/",
        log_path=tmp / "floor.log",
    )
    intake = Server(
        "intake",
        [PYTHON, str(args.root / "app.py")],
        cwd=args.root,
        env=env,
        port=intake_port,
        ready_path=HEALTH_PATH,
        log_path=tmp / "server.log",
    )
    counter = EventCounter(database_url, bench.run_id)
    print(
        f"bench/ingest.py: wrk -t{args.threads} -c{args.connections}, {args.duration:g} s"
        f" per target after {args.warmup:g} s warm-up, {args.events} distinct signed"
        f" events prepared; intake {backend}, LOG_LEVEL {args.log_level}, run"
        f" {bench.run_id}, temp {tmp}",
        flush=True,
    )
    print(f"intake  : {args.root}/app.py at {_git_head(args.root)}", flush=True)
    print(f"load    : {_load()} before the run", flush=True)
    crashed = True  # until the summary is printed: keep the temp dir to look at
    try:
        # 1. The floor, in its own process; stopped before the intake starts.
        try:
            floor.start()
            if args.warmup > 0:
                warm = bench.signed("floor-warmup", bench.floor_warm)
                bench.load("warm", floor, "/bench/floor", warm, args.warmup)
            requests = bench.signed("events", bench.bodies)
            signed_at = time.monotonic()
            floor_res = bench.load(
                "floor", floor, "/bench/floor", requests, args.duration
            )
        finally:
            floor.stop()
        print(floor_res.line(), flush=True)

        # 2. The intake: the real server and route.
        migrate(args.root, env, tmp / "migrate.log")
        intake.start()
        if args.warmup > 0:
            warm = bench.signed("intake-warmup", bench.intake_warm)
            bench.load("warm", intake, WEBHOOK_PATH, warm, args.warmup)
            warm_counter = EventCounter(database_url, f"{bench.run_id}w")
            try:
                warm_counter.wait_applied(args.drain_timeout)
            finally:
                warm_counter.close()
        if time.monotonic() - signed_at > MAX_SIGNATURE_AGE:
            requests = bench.signed("events", bench.bodies)  # same bodies, fresh time
        intake_res = bench.load("intake", intake, WEBHOOK_PATH, requests, args.duration)
        print(intake_res.line(), flush=True)

        # 3. Every answered event stored, and applied.
        statuses, drained = counter.wait_applied(args.drain_timeout)
        intake.stop()
        stored = sum(statuses.values())
        # Requests still in flight when wrk stopped may be stored without an answer.
        lost = max(0, intake_res.ok - stored)
        unanswered = max(0, stored - intake_res.ok)

        ratio = intake_res.throughput / floor_res.throughput
        ratio_ok = ratio >= MIN_RATIO
        p99_ok = intake_res.p99_ms < MAX_P99_MS
        answers_ok = floor_res.non_200 == 0 and intake_res.non_200 == 0
        unique_ok = floor_res.wrapped == 0 and intake_res.wrapped == 0
        applied_ok = statuses.get("queued", 0) == 0
        log_lines, problems = intake.log_problems()
        failed = not (
            ratio_ok
            and p99_ok
            and lost == 0
            and answers_ok
            and unique_ok
            and applied_ok
        )

        print()
        print(floor_res.line())
        print(intake_res.line())
        print(
            f"ratio   : {ratio:.2f} (target >= {MIN_RATIO}):"
            f" {'ok' if ratio_ok else 'MISSED'}"
            f"   intake p99 {intake_res.p99_ms:.1f} ms (target < {MAX_P99_MS:.0f} ms):"
            f" {'ok' if p99_ok else 'MISSED'}"
        )
        print(
            f"stored  : {stored} rows for {intake_res.ok} answered 200 (lost {lost},"
            f" stored unanswered {unanswered}: in flight when wrk stopped), statuses:"
            f" {_fmt_counter(statuses) or '-'}; worker done {drained:.2f} s after the"
            f" load{'' if applied_ok else ' (TIMED OUT, rows still queued)'}"
        )
        print(
            f"answers : not 200: floor {floor_res.non_200}, intake {intake_res.non_200}:"
            f" {'ok' if answers_ok else 'MISSED'}   events sent twice: "
            + ("none" if unique_ok else "YES, raise --events")
        )
        print(
            f"cpu     : server CPU per request: floor {floor_res.cpu_ms:.2f} ms, intake"
            f" {intake_res.cpu_ms:.2f} ms (floor/intake"
            f" {floor_res.cpu_ms / intake_res.cpu_ms:.2f}; for information, not a"
            " target: at a lower rate the intake commits and applies smaller batches,"
            " so a busy machine inflates its figure)"
        )
        print(
            f"log     : {log_lines} intake log lines, {len(problems)} warnings/errors"
        )
        for ln in problems[:10]:
            print(f"          {ln}")
        for res in (floor_res, intake_res):
            if res.server_busy < SATURATED:
                print(
                    f"note    : the {res.name} server was only"
                    f" {100 * res.server_busy:.0f}% busy, so something else limited it"
                    " (wrk, CPU contention, scheduling): its figures, and the ratio,"
                    " are not the server's capacity in this run"
                )
        print(f"load    : {_load()} after the run")
        print(f"result  : {'FAIL' if failed else 'PASS'}")
        crashed = False
        return 1 if failed else 0
    finally:
        floor.stop()
        intake.stop()
        counter.close()
        if args.keep or crashed:
            print(f"kept    : {tmp} (server.log, floor.log, migrate.log, bench.db)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
