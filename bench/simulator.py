"""Simulator benchmark: how fast ``flask simulate`` can deliver a class to a server.

Starts the benchmark server (``bench/floor_server.py``: the real app plus the
verify-only floor route) on a temporary SQLite database, builds one large
simulated class, and delivers it with the simulator's own ``deliver()`` and HTTP
transport, in the same run:

1. to ``POST /bench/floor`` (verify and answer 200): what the *simulator* can
   deliver when the server costs next to nothing;
2. to ``POST /api/zoom/webhook``, the real intake: what this one server takes.

    .venv/bin/python bench/simulator.py --students 1000 --concurrency 32

Target (issue 3): the simulator can deliver 2,000 events/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import FLOOR_PATH, HEALTH_PATH, WEBHOOK_PATH, free_port  # noqa: E402
from ingest import Server  # noqa: E402

SECRET = "bench-simulator-secret"


def _deliver(base_url: str, path: str, payloads, concurrency: int, processes: int):
    """Deliver ``payloads`` with the simulator and return (report, seconds)."""
    from attendance.simulator.delivery import deliver_parallel
    from attendance.simulator.transport import HttpTransport

    def transport():
        t = HttpTransport(base_url)
        t.path = path
        return t

    began = time.monotonic()
    report = deliver_parallel(
        payloads, transport, secret=SECRET, concurrency=concurrency, processes=processes
    )
    return report, time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    from attendance.simulator.scenario import SimulationOptions, build_class

    tmp = Path(tempfile.mkdtemp(prefix="bench-simulator-"))
    url = f"sqlite:///{tmp / 'sim.db'}"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench",
        "WEBHOOK_PROCESSING": "background",
        "ASYNC_MODE": "eventlet",
    }
    env.pop("REDIS_URL", None)
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    n = args.students
    options = SimulationOptions(
        students=n,
        guests=n // 20,
        late=n // 10,
        drop_rejoin=n // 10,
        two_device=n // 20,
        breakout=n // 5,
        left_early=n // 50,
        absent=n // 50,
        seed=5,
    )
    t = time.monotonic()
    sim = build_class(options)
    payloads = sim.events
    built = time.monotonic() - t
    print(
        f"class   : {n} students, {len(payloads)} events, built in {built:.2f} s "
        f"({len(payloads) / built:,.0f} events/s)"
    )
    server = Server(
        "server",
        [sys.executable, str(ROOT / "bench" / "floor_server.py")],
        cwd=ROOT,
        env=env,
        port=port,
        ready_path=HEALTH_PATH,
        log_path=tmp / "server.log",
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        server.start()
        # Twice over for a steadier figure: the floor route keeps nothing.
        floor_payloads = payloads * 2
        floor, floor_s = _deliver(
            base_url, FLOOR_PATH, floor_payloads, args.concurrency, args.processes
        )
        floor_rate = len(floor_payloads) / floor_s
        print(
            f"floor   : {floor_rate:7,.0f} events/s delivered by the simulator "
            f"({args.processes} processes x {args.concurrency} threads; HTTP "
            f"{dict(floor.by_http)})   target >= 2,000: "
            f"{'ok' if floor_rate >= 2000 else 'MISSED'}"
        )
        intake, intake_s = _deliver(
            base_url, WEBHOOK_PATH, payloads, args.concurrency, args.processes
        )
        print(
            f"intake  : {len(payloads) / intake_s:7,.0f} events/s into the real intake of "
            f"one eventlet server (HTTP {dict(intake.by_http)}, {dict(intake.by_status)})"
        )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if floor_rate >= 2000 and not intake.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
