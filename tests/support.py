"""Helpers the tests share: signing Zoom webhooks, requiring services."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "zoom"
SECRET = "test-secret-token"
REQUIRE_SERVICES = os.environ.get("ATTENDANCE_REQUIRE_SERVICES") == "1"


def fixture(name: str) -> dict[str, Any]:
    """A Zoom payload from ``tests/fixtures/zoom/<name>.json`` (shaped as ZOOM.md)."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def encode(event: dict[str, Any] | bytes | str) -> bytes:
    """Compact JSON as Zoom sends it, or the given raw body untouched."""
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode("utf-8")
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def zoom_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Computed here independently of the app: v0= hex HMAC-SHA256 of v0:{ts}:{body}."""
    mac = hmac.new(
        secret.encode(), b"v0:%s:%s" % (timestamp.encode(), body), hashlib.sha256
    )
    return "v0=" + mac.hexdigest()


def signed_headers(
    body: bytes, secret: str = SECRET, timestamp: str | None = None
) -> dict:
    """Headers Zoom sends with a webhook (ZOOM.md §1)."""
    ts = timestamp if timestamp is not None else str(int(time.time()))
    return {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Zoom Marketplace/1.0a",
        "x-zm-request-timestamp": ts,
        "x-zm-signature": zoom_signature(secret, ts, body),
        "x-zm-trackingid": "v=2.0&s=test",
    }


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def require(service: str) -> None:
    """Skip when ``service`` is absent; fail instead under ATTENDANCE_REQUIRE_SERVICES=1."""
    if service == "postgres":
        present = _reachable(postgres_url(), 5432)
    elif service == "redis":
        present = _reachable(redis_url(), 6379)
    elif service == "chromium":
        present = chromium_path() is not None
    else:  # pragma: no cover - a typo in a test
        raise ValueError(service)
    if present:
        return
    message = f"{service} is not available on this machine"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (ATTENDANCE_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def postgres_url() -> str:
    """A PostgreSQL server to create throw-away databases on."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith(("postgresql", "postgres:")):
        return url
    return os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def redis_url() -> str:
    """The Redis server for message-queue tests."""
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def chromium_path() -> str | None:
    """The Chromium binary for browser tests, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


#: Every event name of CONTRACT §2, the seed-era aliases, and a few Zoom sends
#: that the app does not handle.
EVENT_NAMES = [
    "meeting.started",
    "meeting.ended",
    "meeting.participant_joined",
    "meeting.participant_left",
    "meeting.participant_joined_waiting_room",
    "meeting.participant_left_waiting_room",
    "meeting.participant_admitted",
    "meeting.participant_put_in_waiting_room",
    "meeting.participant_jbh_waiting",
    "meeting.participant_waiting_for_host",
    "meeting.participant_jbh_joined",
    "meeting.participant_joined_breakout_room",
    "meeting.participant_left_breakout_room",
    "meeting.participant_role_changed",
    "meeting.sharing_started",
    "meeting.sharing_ended",
    "recording.started",
    "meeting.recording_started",
    "recording.stopped",
    "meeting.recording_stopped",
    "recording.completed",
    "user.presence_status_updated",
    "meeting.participant_updated",
    "meeting.participant_feedback",
    "recording.transcript_completed",
]
