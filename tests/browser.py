"""Browser tests' machinery: real server processes, headless Chromium, and seeding.

The server runs as ``python app.py`` in a subprocess (eventlet, as in production) on
127.0.0.1 and a free port; Playwright drives Chromium from the plain pytest process
(Playwright hangs on close in a process eventlet has patched: ../shared/STACK.md).
Data goes in the way users put it in: the REST API with a token, and Zoom webhooks
signed like Zoom's (the project's simulator delivers a whole class).
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import SECRET, chromium_path, require

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
ADMIN_EMAIL = "admin@example.edu"
ADMIN_PASSWORD = "browser-tests-admin"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Variables the test process sets for itself (conftest) that a server must not inherit.
_TEST_ONLY_ENV = ("ASYNC_MODE", "WEBHOOK_PROCESSING", "TEST_DATABASE_URL")


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sqlite_url(directory: Path, name: str = "a.db") -> str:
    return f"sqlite:///{directory / name}"


def server_env(
    database_url: str, port: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a server process (CONTRACT §1), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _TEST_ONLY_ENV}
    env.update(
        DATABASE_URL=database_url,
        PORT=str(port),
        HOST="127.0.0.1",
        SECRET_KEY="browser-tests-secret-key",
        ZOOM_WEBHOOK_SECRET_TOKEN=SECRET,
        ATTENDANCE_ADMIN_EMAIL=ADMIN_EMAIL,
        ATTENDANCE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        SCHEDULER_ENABLED="false",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.pop("REDIS_URL", None)
    env.update(extra or {})
    return env


def migrate(database_url: str, extra_env: Mapping[str, str] | None = None) -> None:
    """``flask --app app db upgrade`` on ``database_url`` (before any server starts)."""
    env = server_env(database_url, 0, extra_env)
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"flask db upgrade failed:\n{result.stderr[-4000:]}")


@dataclass
class ServerProcess:
    """One running ``python app.py``; ``stop()`` ends it (and only it)."""

    url: str
    port: int
    database_url: str
    env: dict[str, str]
    process: subprocess.Popen
    log_dir: Path

    def output(self) -> str:
        """What the server wrote to stderr and stdout so far (the end of it)."""
        parts = []
        for name in ("stderr", "stdout"):
            path = self.log_dir / f"{name}.log"
            if path.exists():
                text = path.read_text(errors="replace")
                if text.strip():
                    parts.append(f"--- {name} ---\n{text[-6000:]}")
        return "\n".join(parts) or "(no output)"

    def alive(self) -> bool:
        return self.process.poll() is None

    def health(self) -> int | None:
        """The status of GET /api/zoom/health, None when nothing answers."""
        try:
            with urllib.request.urlopen(  # noqa: S310 - http://127.0.0.1 only
                f"{self.url}/api/zoom/health", timeout=2
            ) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def wait_ready(self, timeout: float = 40.0) -> None:
        """Until health answers 200; fails with the server's output if it dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(
                    f"the server exited with {self.process.returncode} before it "
                    f"was ready:\n{self.output()}"
                )
            if self.health() == 200:
                return
            time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"the server was not ready within {timeout:.0f} s:\n{self.output()}"
        )

    def check_alive(self) -> None:
        """Fail (with its output) if the server died under a test."""
        if not self.alive():
            pytest.fail(
                f"the server died with {self.process.returncode}:\n{self.output()}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in ``timeout`` seconds."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)


@dataclass
class ServerFactory:
    """Starts server processes for a test module and stops every one of them after.

    ``start()`` gives a server on a fresh, migrated SQLite database. For several
    processes on one database (the Redis message-queue test) make the database
    first, then start each on it::

        db = servers.database()
        a = servers.start(database_url=db, env={"REDIS_URL": url})
        b = servers.start(database_url=db, env={"REDIS_URL": url})
    """

    directory: Path
    servers: list[ServerProcess] = field(default_factory=list)
    _count: int = 0

    def database(self, env: Mapping[str, str] | None = None) -> str:
        """A new SQLite database with the schema applied; its URL."""
        self._count += 1
        url = sqlite_url(self.directory, f"db{self._count}.db")
        migrate(url, env)
        return url

    def start(
        self,
        *,
        database_url: str | None = None,
        env: Mapping[str, str] | None = None,
        migrate_first: bool | None = None,
        ready_timeout: float = 40.0,
    ) -> ServerProcess:
        """Start ``python app.py`` and wait for its health check.

        Without ``database_url`` a fresh SQLite database is made and migrated; with
        one, it is migrated only if ``migrate_first`` (a server never creates its
        schema: two racing processes would crash).
        """
        if database_url is None:
            database_url = self.database(env)
        elif migrate_first:
            migrate(database_url, env)
        port = free_port()
        self._count += 1
        log_dir = self.directory / f"server{self._count}-{port}"
        log_dir.mkdir(parents=True)
        server_environment = server_env(database_url, port, env)
        with (
            open(log_dir / "stdout.log", "wb") as stdout,
            open(log_dir / "stderr.log", "wb") as stderr,
        ):
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
                [sys.executable, "app.py"],
                cwd=ROOT,
                env=server_environment,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        server = ServerProcess(
            url=f"http://127.0.0.1:{port}",
            port=port,
            database_url=database_url,
            env=server_environment,
            process=process,
            log_dir=log_dir,
        )
        self.servers.append(server)
        server.wait_ready(ready_timeout)
        return server

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()


# -- the browser --------------------------------------------------------------------


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (the system's), closed afterwards; skips without one."""
    require("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Console:
    """What a page reported: console errors, uncaught exceptions, dialogs opened."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console.{msg.type}: {msg.text}")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        # Chromium's "Failed to load resource" says which status, not which URL.
        page.on(
            "response",
            lambda r: (
                self.errors.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400
                else None
            ),
        )

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            # confirm() of the dashboard's own forms is accepted; alert() never expected.
            dialog.accept()

        page.on("dialog", on_dialog)

    def assert_clean(self) -> None:
        assert self.errors == [], "\n".join(self.errors)


def login(
    page: Any,
    server: ServerProcess,
    email: str = ADMIN_EMAIL,
    password: str = ADMIN_PASSWORD,
) -> None:
    """Sign in through the form, as a person does."""
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def screenshot(page: Any, name: str) -> Path:
    """A full-page PNG in test-artifacts/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # From the top: a sticky header would otherwise be drawn mid-page.
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    return path


# -- seeding ------------------------------------------------------------------------


class ApiError(AssertionError):
    """A REST call answered with an error."""


class Api:
    """The REST API (``/api/v1``) with a bearer token, as a script would use it."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def sign_in(
        cls,
        server: ServerProcess,
        email: str = ADMIN_EMAIL,
        password: str = ADMIN_PASSWORD,
    ) -> Api:
        """A token for these credentials (POST /api/v1/tokens)."""
        response = requests.post(
            f"{server.url}/api/v1/tokens",
            json={"email": email, "password": password, "name": "browser tests"},
            timeout=10,
        )
        if response.status_code != 201:
            raise ApiError(f"token: {response.status_code} {response.text}")
        return cls(server, response.json()["token"])

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(
            method, f"{self.server.url}/api/v1{path}", timeout=30, **kwargs
        )
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, json=body)

    def close(self) -> None:
        self.session.close()


def send_webhook(server: ServerProcess, payload: Mapping[str, Any]) -> int:
    """Sign and POST one Zoom webhook; return the HTTP status."""
    from attendance.simulator.payloads import encode, signed_headers

    body = encode(payload)
    response = requests.post(
        f"{server.url}/api/zoom/webhook",
        data=body,
        headers=signed_headers(body, SECRET),
        timeout=10,
    )
    return response.status_code


def deliver(server: ServerProcess, payloads: list[dict[str, Any]]) -> None:
    """Deliver webhooks with the project's simulator (signed, retried like Zoom)."""
    from attendance.simulator.delivery import deliver as simulate

    with requests.Session() as http:

        def send(body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
            response = http.post(
                f"{server.url}/api/zoom/webhook", data=body, headers=headers, timeout=10
            )
            return response.status_code, response.json() if response.content else None

        report = simulate(payloads, send, secret=SECRET)
    assert report.failed == 0, report


def wait_until(
    check: Callable[[], Any], timeout: float = 20.0, message: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}")
        time.sleep(0.1)


def extra_guest(sim: Any, name: str, minutes: tuple[int, int]) -> list[dict[str, Any]]:
    """A join and a leave of one more, roster-less participant of ``sim``'s meeting."""
    template = next(e for e in sim.events if e["event"] == "meeting.participant_joined")
    user_id = str(zlib.crc32(name.encode()) + 10**10)
    events = []
    for kind, at in (("joined", minutes[0]), ("left", minutes[1])):
        event = copy.deepcopy(template)
        event["event"] = f"meeting.participant_{kind}"
        event["event_ts"] = int((sim.start + timedelta(minutes=at)).timestamp() * 1000)
        participant = event["payload"]["object"]["participant"]
        for key in ("join_time", "leave_time"):
            participant.pop(key, None)
        time_key = "join_time" if kind == "joined" else "leave_time"
        participant.update(
            user_id=user_id,
            user_name=name,
            id="",
            participant_user_id="",
            participant_uuid="",
            email="",
            **{time_key: _iso(sim.start + timedelta(minutes=at))},
        )
        participant.pop("parent_user_id", None)
        event["payload"]["object"].pop("breakout_room_uuid", None)
        events.append(event)
    return events


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_class(
    server: ServerProcess,
    api: Api,
    *,
    code: str = "BIO-101",
    title: str = "Cell Biology",
    extra_guests: Callable[[Any], Mapping[str, tuple[int, int]]] | None = None,
    history: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """A course with the simulator's roster and one ended, simulated meeting.

    ``extra_guests(sim)`` may name more roster-less participants, each with the
    minutes they join and leave. ``history`` earlier classes (a week apart, same
    roster) are delivered first, so the course has a term. Returns ``{"course",
    "meeting", "sim"}`` once the server has applied every event and generated the
    attendance (in the background).
    """
    from attendance.simulator.scenario import SimulationOptions, build_class

    defaults: dict[str, Any] = {
        "students": 12,
        "guests": 2,
        "late": 2,
        "drop_rejoin": 1,
        "two_device": 1,
        "breakout": 3,
        "left_early": 2,
        "absent": 2,
        "seed": 7,
        "duration_minutes": 60,
        "meeting_number": 84712639219,
        "topic": f"{title} — Lecture {history + 1}",
        "start": (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0),
        "course_code": code,
    }
    defaults.update(options)
    sim = build_class(SimulationOptions(**defaults))
    course = api.post(
        "/courses",
        {
            "code": code,
            "title": title,
            "timezone": "Europe/Madrid",
            "zoom_meeting_ids": [str(sim.meeting_number)],
        },
    )
    report = api.post(f"/courses/{course['id']}/students", sim.roster)
    assert report["errors"] == [], report
    for weeks in range(history, 0, -1):
        earlier = SimulationOptions(
            **{
                **defaults,
                "start": defaults["start"] - timedelta(weeks=weeks),
                "topic": f"{title} — Lecture {history + 1 - weeks}",
            }
        )
        deliver(server, build_class(earlier).events)
    events = list(sim.events)
    ended = [e for e in events if e["event"] == "meeting.ended"]
    events = [e for e in events if e["event"] != "meeting.ended"]
    for name, minutes in (extra_guests(sim) if extra_guests else {}).items():
        events += extra_guest(sim, name, minutes)
    deliver(server, events + ended)

    def generated() -> dict[str, Any] | None:
        found = api.get("/meetings", params={"course_id": course["id"]})
        if len(found) < history + 1 or any(m["status"] != "ended" for m in found):
            return None
        for m in found:
            if not api.get(f"/meetings/{m['id']}/attendance")["records"]:
                return None
        return next(m for m in found if m["uuid"] == sim.meeting_uuid)

    meeting = wait_until(generated, message="the simulated meetings' attendance")
    return {"course": course, "meeting": meeting, "sim": sim}
