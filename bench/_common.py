"""Shared pieces of the benchmarks: Zoom-shaped events, signing, ports, statistics.

Nothing here imports the application: the load generator signs with its own
HMAC code (ZOOM.md §1), so a signature bug in the app cannot hide behind a
matching bug in the bench.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

#: The project root (``/work/main``): ``app.py`` and ``migrations/`` live here.
ROOT = Path(__file__).resolve().parent.parent

#: The real intake route and the floor route that ``floor_server.py`` adds.
WEBHOOK_PATH = "/api/zoom/webhook"
FLOOR_PATH = "/bench/floor"
HEALTH_PATH = "/api/zoom/health"

#: Fixed base time of the synthetic meetings; every event is offset from it.
_BASE_TIME = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """One ready-to-send webhook: the exact bytes and the two Zoom headers."""

    body: bytes
    timestamp: str
    signature: str


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def zoom_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256(secret, ``v0:{ts}:{body}``), as Zoom computes it."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_all(
    secret: str, bodies: Sequence[bytes], timestamp: int
) -> list[SignedRequest]:
    """Sign every body with the same ``x-zm-request-timestamp`` (Unix seconds)."""
    ts = str(timestamp)
    return [SignedRequest(b, ts, zoom_signature(secret, ts, b)) for b in bodies]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def meeting_uuid(run_id: str, index: int) -> str:
    """The uuid of synthetic meeting ``index`` of run ``run_id`` (ends in ``==``)."""
    return f"bench-{run_id}-m{index}=="


def build_bodies(
    count: int,
    *,
    run_id: str,
    meetings: int = 5,
    started_every: int = 10,
    label: str = "bench",
) -> list[bytes]:
    """``count`` distinct, compact JSON webhook bodies, Zoom-shaped (ZOOM.md §3).

    Every ``started_every``-th event is a ``meeting.started`` (distinct
    ``start_time``), the rest are ``meeting.participant_joined`` with a unique
    ``user_id`` and ``join_time``, spread over ``meetings`` meeting uuids that
    all carry ``run_id``. The dedupe key (event + uuid + participant + time)
    therefore differs for every body, so each one must become one stored row.
    """
    bodies: list[bytes] = []
    event_ts0 = int(_BASE_TIME.timestamp() * 1000)
    for i in range(count):
        m = i % meetings
        uuid = meeting_uuid(run_id, m)
        obj: dict[str, object] = {
            "id": str(84712639000 + m),
            "uuid": uuid,
            "host_id": "bench-host",
            "topic": f"{label} meeting {m}",
            "type": 2,
            "start_time": _iso(_BASE_TIME),
            "timezone": "UTC",
            "duration": 60,
        }
        if started_every > 0 and i % started_every == 0:
            name = "meeting.started"
            # Distinct per event: a later start_time never moves the meeting's
            # earliest start, so the handler's outcome is the same for all.
            obj["start_time"] = _iso(_BASE_TIME + timedelta(seconds=i))
        else:
            name = "meeting.participant_joined"
            obj["participant"] = {
                "user_id": str(16778240 + i),
                "user_name": f"Student {i}",
                "id": "",
                "participant_user_id": "",
                "email": "",
                "join_time": _iso(_BASE_TIME + timedelta(seconds=5 + i)),
                "registrant_id": "",
                "participant_uuid": f"{label}-{run_id}-p{i}",
            }
        envelope = {
            "event": name,
            "event_ts": event_ts0 + i,
            "payload": {"account_id": "bench-account", "object": obj},
        }
        bodies.append(json.dumps(envelope, separators=(",", ":")).encode("utf-8"))
    return bodies


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def write_signed_requests(
    path: Path, secret: str, bodies: Sequence[bytes], timestamp: int
) -> int:
    """Write ``bodies`` signed at ``timestamp`` for ``bench/wrk_signed.lua``; return bytes.

    One request a line: ``timestamp<TAB>signature<TAB>body``. Compact JSON from
    ``json.dumps`` (ASCII-escaped) holds no raw tab or newline.
    """
    size = 0
    with open(path, "wb") as out:
        for req in sign_all(secret, bodies, timestamp):
            if b"\t" in req.body or b"\n" in req.body:
                raise ValueError("a body with a raw tab or newline cannot be written")
            line = b"%s\t%s\t%s\n" % (
                req.timestamp.encode("ascii"),
                req.signature.encode("ascii"),
                req.body,
            )
            size += out.write(line)
    return size
