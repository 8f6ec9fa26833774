"""Live dashboard benchmark: a 1,000-student join burst fanned out to 50 dashboard clients.

    .venv/bin/python bench/live.py [--students 1000] [--clients 50] [--rate 100]
                                   [--viewer instructor|admin] [--client node|python]

Starts the real server (``python app.py`` under eventlet)
on a temporary SQLite database, creates a course with the simulator's roster, and
connects ``--clients`` Socket.IO clients (websocket, API token of the course's
instructor, or of an admin with ``--viewer admin``) to the meeting's room. The
clients are the dashboard's own library, socket.io-client from npm, in one Node
process (``bench/live_clients.js``; it offers permessage-deflate as browsers do),
or python-socketio AsyncClients in ``--client-processes`` processes.

It then delivers ``meeting.started``, ``--warmup`` guest joins (not measured: first-
time work in a fresh server and in one Node process playing 50 browsers), and every
student's ``participant_joined`` at ``--rate`` joins per second (0: as fast as
``--concurrency`` senders get answers). For each join it takes the wall-clock time the
webhook was answered and the time each client received its ``participantJoined``,
and prints p50/p95/p99/max of the difference, the number of events missing at any
client, and everything else the clients received. Target (issue 5): p99 < 250 ms,
nothing missing.

Everything runs on this machine's cores: server, senders and the 50 clients.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import free_port, percentile  # noqa: E402
from ingest import PYTHON, Server, migrate, process_cpu  # noqa: E402

SECRET = "bench-live-secret"
ADMIN = ("bench@uni.edu", "bench-password-1")
TEACHER = ("teacher@uni.edu", "teacher-password-1")


def _clients_process(
    url: str,
    token: str,
    number: str,
    count: int,
    ready: Any,
    results: Any,
    expected: int,
    timeout: float,
) -> None:
    """``count`` asyncio clients in one process; puts (receipts, cpu, others) on ``results``.

    python-socketio's AsyncClient (aiohttp websockets, one event loop): the
    threaded client costs ~0.7 ms of CPU per message, which 50 of them on this
    machine's two cores cannot afford. Each client decodes with the standard
    ``json`` module (a browser's native JSON.parse; engine.io's default decoder
    calls back into Python for every integer) on uvloop's event loop, so that
    the clients leave the server as much of the machine as they can.
    """
    import asyncio

    import socketio
    import uvloop

    received: list[tuple[int, str, float]] = []
    others: dict[str, int] = {}

    async def run() -> float:
        done = asyncio.Event()
        clients = []
        for index in range(count):
            client = socketio.AsyncClient(reconnection=False, json=json)
            key = os.getpid() * 1000 + index

            async def on_joined(payload: dict, key: int = key) -> None:
                received.append((key, payload["participant"]["name"], time.time()))
                if len(received) >= expected * count:
                    done.set()

            def on_other(event: str, *_args: Any) -> None:
                others[event] = others.get(event, 0) + 1

            client.on("participantJoined", on_joined)
            client.on("*", on_other)
            await client.connect(url, auth={"token": token}, transports=["websocket"])
            ack = await client.call("join-meeting", {"meetingId": number}, timeout=30)
            assert ack["ok"], ack
            clients.append(client)
        ready.put(count)
        cpu_before = time.process_time()
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except TimeoutError:
            pass
        cpu = time.process_time() - cpu_before
        for client in clients:
            await client.disconnect()
        return cpu

    cpu = uvloop.run(run())
    results.put((received, cpu, others))


Received = list[tuple[int, str, float]]


def _name(event: dict) -> str:
    return event["payload"]["object"]["participant"]["user_name"]


class NodeClients:
    """``--clients`` socket.io-client connections in one Node process (bench/live_clients.js)."""

    def __init__(
        self, url: str, token: str, number: str, args: Any, expected: int
    ) -> None:
        self.command = [
            "node",
            str(ROOT / "bench" / "live_clients.js"),
            url,
            token,
            number,
            str(args.clients),
            str(expected),
            "120",
        ]
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> int:
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("ready "):
            raise RuntimeError(f"node clients did not connect: {line!r}")
        return int(line.split()[1])

    def results(self) -> tuple[Received, float, dict[str, int]]:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        data = json.loads(line)
        received = [(c, name, ms / 1000) for c, name, ms in data["received"]]
        return received, data["cpu"], data["others"]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)


class PythonClients:
    """``--clients`` python-socketio AsyncClients over ``--client-processes`` processes."""

    def __init__(
        self, url: str, token: str, number: str, args: Any, expected: int
    ) -> None:
        ctx = mp.get_context("fork")
        self.ready, self.queue = ctx.Queue(), ctx.Queue()
        per = [args.clients // args.client_processes] * args.client_processes
        for i in range(args.clients % args.client_processes):
            per[i] += 1
        self.workers = [
            ctx.Process(
                target=_clients_process,
                args=(url, token, number, n, self.ready, self.queue, expected, 120.0),
                daemon=True,
            )
            for n in per
            if n
        ]

    def start(self) -> int:
        for w in self.workers:
            w.start()
        return sum(self.ready.get(timeout=120) for _ in self.workers)

    def results(self) -> tuple[Received, float, dict[str, int]]:
        received: Received = []
        cpu_total = 0.0
        others: dict[str, int] = {}
        for _ in self.workers:
            got, cpu, seen = self.queue.get(timeout=180)
            received += got
            cpu_total += cpu
            for event, count in seen.items():
                others[event] = others.get(event, 0) + count
        return received, cpu_total, others

    def stop(self) -> None:
        for w in self.workers:
            w.join(timeout=10)


def _post(conn: Any, body: bytes) -> int:
    from attendance.simulator.payloads import signed_headers

    headers = {**signed_headers(body, SECRET), "Content-Type": "application/json"}
    conn.request("POST", "/api/zoom/webhook", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--client",
        choices=("node", "python"),
        default="node",
        help="node: the dashboard's own socket.io-client (npm) in one Node process; "
        "python: python-socketio's AsyncClient in --client-processes processes",
    )
    parser.add_argument("--client-processes", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--viewer",
        choices=("instructor", "admin"),
        default="instructor",
        help="who the clients sign in as: the course's instructor (room events and "
        "their personal feed) or an admin (also every raw zoomWebhook)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=100,
        help="joins per second: 100 brings a 1,000-student class in within 10 s "
        "(0: as fast as the senders go)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=50,
        help="guest joins delivered (at --rate) and not measured before the burst",
    )
    parser.add_argument(
        "--dump",
        help="write each join's answer time and first/last receipt to this CSV",
    )
    args = parser.parse_args()

    import http.client

    import requests

    from attendance.simulator.payloads import encode
    from attendance.simulator.scenario import SimulationOptions, build_class

    sim = build_class(
        SimulationOptions(
            students=args.students,
            guests=args.warmup,
            late=0,
            drop_rejoin=0,
            two_device=0,
            breakout=0,
            left_early=0,
            absent=0,
            waiting_room=False,
            seed=5,
        )
    )
    started = [e for e in sim.events if e["event"] == "meeting.started"]
    joins = [e for e in sim.events if e["event"] == "meeting.participant_joined"]
    names = [e["payload"]["object"]["participant"]["user_name"] for e in joins]
    # Receipts are matched to webhooks by display name: keep the names that are unique.
    joins = [e for e, n in zip(joins, names, strict=True) if names.count(n) == 1]
    # Guests (not on the roster) are the warm-up; the students are the burst measured.
    guests = set(sim.cast["guests"])
    warmup = [e for e in joins if _name(e) in guests]
    joins = [e for e in joins if _name(e) not in guests]

    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'live.db'}",
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": secrets.token_hex(16),
        "WEBHOOK_PROCESSING": "background",
        "ASYNC_MODE": "eventlet",
        "ATTENDANCE_ADMIN_EMAIL": ADMIN[0],
        "ATTENDANCE_ADMIN_PASSWORD": ADMIN[1],
    }
    env.pop("REDIS_URL", None)
    migrate(ROOT, env, tmp / "migrate.log")
    server = Server(
        "server",
        [PYTHON, "app.py"],
        cwd=ROOT,
        env=env,
        port=port,
        ready_path="/api/zoom/health",
        log_path=tmp / "server.log",
    )
    server.start()
    base = f"http://127.0.0.1:{port}"
    group: NodeClients | PythonClients | None = None
    try:
        token = requests.post(
            f"{base}/api/v1/tokens",
            json={"email": ADMIN[0], "password": ADMIN[1]},
            timeout=10,
        ).json()["token"]
        admin = {"Authorization": f"Bearer {token}"}
        # Courses and their meeting numbers are the admins' (issue 10).
        course = requests.post(
            f"{base}/api/v1/courses",
            json={"code": "LIVE", "zoom_meeting_ids": [str(sim.meeting_number)]},
            headers=admin,
            timeout=10,
        ).json()
        report = requests.post(
            f"{base}/api/v1/courses/{course['id']}/students",
            json=sim.roster,
            headers=admin,
            timeout=60,
        ).json()
        assert not report["errors"], report["errors"][:3]
        if args.viewer == "instructor":
            # The course's own teacher: the room plus their personal feed, not
            # the admins' raw webhook feed.
            made = requests.post(
                f"{base}/api/v1/instructors",
                json={"email": TEACHER[0], "name": "Teacher", "password": TEACHER[1]},
                headers=admin,
                timeout=10,
            )
            assert made.status_code == 201, made.text
            assigned = requests.post(
                f"{base}/api/v1/courses/{course['id']}/instructors",
                json={"instructor_id": made.json()["id"]},
                headers=admin,
                timeout=10,
            )
            assert assigned.status_code == 201, assigned.text
            token = requests.post(
                f"{base}/api/v1/tokens",
                json={"email": TEACHER[0], "password": TEACHER[1]},
                timeout=10,
            ).json()["token"]

        group = (NodeClients if args.client == "node" else PythonClients)(
            base,
            token,
            str(sim.meeting_number),
            args,
            expected=len(joins) + len(warmup),
        )
        connected = group.start()
        print(f"clients : {connected} connected and joined to the room ({args.client})")

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert _post(conn, encode(started[0])) == 200
        time.sleep(0.5)  # the meeting exists before the burst

        answered: dict[str, float] = {}
        local = threading.local()

        def send(event: dict) -> None:
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = _post(local.conn, encode(event))
            answered[_name(event)] = time.time()
            assert status == 200, status

        def deliver(events: list[dict]) -> None:
            began = time.monotonic()

            def paced(item: tuple[int, dict]) -> None:
                if args.rate:
                    delay = began + item[0] / args.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                send(item[1])

            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(paced, enumerate(events)))

        if warmup:
            # A served class has a running server and warmed-up clients: the first
            # joins (guests) pay for first-time work (compiled statements, one Node
            # process's JIT playing 50 browsers) and are not measured.
            deliver(warmup)
            time.sleep(1.0)
            answered.clear()
            print(f"warm-up : {len(warmup)} guest joins delivered first, not measured")
        server_cpu = process_cpu(server.proc.pid)
        began = time.monotonic()
        deliver(joins)
        burst = time.monotonic() - began
        print(
            f"burst   : {len(joins)} joins answered in {burst:.2f} s "
            f"({len(joins) / burst:,.0f} ev/s, {args.concurrency} senders)"
        )
        received, client_cpu, others = group.results()
        server_cpu = process_cpu(server.proc.pid) - server_cpu
        print(
            f"cpu     : server {server_cpu:.1f} s, {connected} clients {client_cpu:.1f} s "
            f"(from the burst until the last receipt; 2 cores shared)"
        )
    finally:
        if group is not None:
            group.stop()
        server.stop()

    print(
        "also    : "
        + (", ".join(f"{n:,} {e}" for e, n in sorted(others.items())) or "nothing")
        + f" (all clients, as {args.viewer})"
    )
    if args.dump:
        by_name: dict[str, list[float]] = {}
        for _client, name, at in received:
            by_name.setdefault(name, []).append(at)
        with open(args.dump, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["name", "answered", "first_ms", "last_ms", "clients"])
            for name, at in sorted(answered.items(), key=lambda item: item[1]):
                times = by_name.get(name, [])
                writer.writerow(
                    [
                        name,
                        f"{at:.6f}",
                        f"{(min(times) - at) * 1000:.1f}" if times else "",
                        f"{(max(times) - at) * 1000:.1f}" if times else "",
                        len(times),
                    ]
                )
        print(f"dump    : per join, first and last client receipt in {args.dump}")
    received = [r for r in received if r[1] in answered]
    latencies = sorted(
        max(0.0, at - answered[name]) * 1000 for _c, name, at in received
    )
    expected = len(joins) * connected
    missing = expected - len({(c, name) for c, name, _ in received})
    print(
        f"received: {len(received):,} of {expected:,} participantJoined "
        f"({len(joins)} joins x {connected} clients); missing {missing}"
    )
    if latencies:
        print(
            "latency : webhook answered -> client received: "
            f"p50 {percentile(latencies, 50):.0f} ms  p95 {percentile(latencies, 95):.0f} ms  "
            f"p99 {percentile(latencies, 99):.0f} ms  max {latencies[-1]:.0f} ms"
        )
    p99 = percentile(latencies, 99) if latencies else float("inf")
    ok = p99 < 250 and missing == 0
    print(
        f"result  : p99 {p99:.0f} ms (target < 250 ms), missing {missing} (target 0): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept    : the server's database and log in {tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
