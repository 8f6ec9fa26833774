"""Settings read once from the environment (CONTRACT §1); ``TestConfig`` for the suite."""

from __future__ import annotations

import base64
import hashlib
import math
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

#: The project root: ``instance/`` and the default SQLite file live under it.
ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"

_TRUE = {"1", "true", "yes", "on"}

#: A century: beyond it a retention window is "forever", and dates overflow.
MAX_RETENTION_DAYS = 36500


class ConfigError(RuntimeError):
    """A setting is missing or malformed; raised at start-up, never per request."""


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean setting (``1/true/yes/on`` are true)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in _TRUE


def env_int(name: str, default: int) -> int:
    """Read an integer setting, failing loudly on garbage instead of guessing."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    """Read a finite number setting, failing loudly on garbage (``nan``, ``inf`` included)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    return value


def webhook_secrets(raw: str | None) -> tuple[str, ...]:
    """Split ``ZOOM_WEBHOOK_SECRET_TOKEN``: several comma-separated secrets allow rotation."""
    if not raw:
        return ()
    return tuple(s.strip() for s in raw.split(",") if s.strip())


def encryption_keys(raw: str | None, secret_key: str) -> tuple[str, ...]:
    """Split ``ATTENDANCE_ENCRYPTION_KEY``: the first key encrypts, every key decrypts.

    Unset, one key is derived from ``SECRET_KEY`` (stable as long as it is): no
    file to lose, but changing ``SECRET_KEY`` then makes stored secrets unreadable,
    so a deployment should set its own key.

    :raises ConfigError: when a key is not a Fernet key (32 url-safe base64 bytes).
    """
    if not raw or not raw.strip():
        digest = hashlib.sha256(
            b"attendance-encryption:" + secret_key.encode()
        ).digest()
        return (base64.urlsafe_b64encode(digest).decode("ascii"),)
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"ATTENDANCE_ENCRYPTION_KEY: key {number} is not a Fernet key "
                "(32 url-safe base64-encoded bytes; "
                "`flask --app app keys generate` makes one)"
            ) from exc
    return keys


def _secret_key(env: str) -> str:
    """``SECRET_KEY`` from the environment, else one generated once and kept in ``instance/``."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if env == "production":
        raise ConfigError("SECRET_KEY is required when ATTENDANCE_ENV=production")
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two processes starting together keep the first key, not two different ones.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def normalize_database_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg2.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which blocks the
    whole server under eventlet; psycopg2 is made cooperative by the monkey patch.
    The ``postgres://`` scheme some hosts hand out is accepted too.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def load_config() -> dict[str, Any]:
    """Build the Flask config mapping from the environment."""
    env = os.environ.get("ATTENDANCE_ENV", "development")
    database_url = os.environ.get("DATABASE_URL") or (
        f"sqlite:///{INSTANCE_DIR / 'attendance.db'}"
    )
    return {
        "ATTENDANCE_ENV": env,
        "SECRET_KEY": _secret_key(env),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "ZOOM_WEBHOOK_SECRETS": webhook_secrets(
            os.environ.get("ZOOM_WEBHOOK_SECRET_TOKEN")
        ),
        #: Comma-separated Fernet keys for secrets stored in the database (see
        #: ``encryption_keys``); finalize() turns it into ``ENCRYPTION_KEYS``.
        "ATTENDANCE_ENCRYPTION_KEY": os.environ.get("ATTENDANCE_ENCRYPTION_KEY"),
        "ZOOM_ACCOUNT_ID": os.environ.get("ZOOM_ACCOUNT_ID") or None,
        "ZOOM_CLIENT_ID": os.environ.get("ZOOM_CLIENT_ID") or None,
        "ZOOM_CLIENT_SECRET": os.environ.get("ZOOM_CLIENT_SECRET") or None,
        "ZOOM_API_BASE_URL": os.environ.get(
            "ZOOM_API_BASE_URL", "https://api.zoom.us/v2"
        ).rstrip("/"),
        "ZOOM_OAUTH_BASE_URL": os.environ.get(
            "ZOOM_OAUTH_BASE_URL", "https://zoom.us"
        ).rstrip("/"),
        "ATTENDANCE_ADMIN_EMAIL": os.environ.get("ATTENDANCE_ADMIN_EMAIL") or None,
        "ATTENDANCE_ADMIN_PASSWORD": os.environ.get("ATTENDANCE_ADMIN_PASSWORD")
        or None,
        "WEBHOOK_MAX_SKEW_SECONDS": env_int("WEBHOOK_MAX_SKEW_SECONDS", 300),
        #: Zoom's documented limit is not published; 1 MiB is far above any real event.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        #: ``background``: store in the request, apply in a worker (the server);
        #: ``inline``: store and apply inside the request (tests, CLI-driven tools).
        "WEBHOOK_PROCESSING": os.environ.get("WEBHOOK_PROCESSING", "background"),
        #: How long a webhook request waits for its row to be committed before a
        #: 503: well inside Zoom's 3 s, so Zoom hears "retry" rather than nothing.
        "WEBHOOK_STORE_TIMEOUT_SECONDS": env_float(
            "WEBHOOK_STORE_TIMEOUT_SECONDS", 1.5
        ),
        #: SQLite ``synchronous``: NORMAL (default; a power loss can lose the last
        #: commits, a process crash cannot) or FULL (fsync on every commit).
        "SQLITE_SYNCHRONOUS": os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL").upper(),
        #: SQLite's busy timeout. Unset: 20 ms under eventlet (SQLite waits inside
        #: C code and would freeze the server; callers retry cooperatively), 10 s
        #: for the CLI and other threaded processes.
        "SQLITE_BUSY_TIMEOUT_MS": env_int("SQLITE_BUSY_TIMEOUT_MS", -1),
        "SCHEDULER_ENABLED": env_bool("SCHEDULER_ENABLED", False),
        "STALE_MEETING_MINUTES": env_int("STALE_MEETING_MINUTES", 120),
        #: CONTRACT §6: how long after a meeting ends its report is first asked
        #: for (Zoom needs "a minute or two", ZOOM-REST.md §0.4); then backing off.
        "RECONCILE_DELAY_MINUTES": env_int("RECONCILE_DELAY_MINUTES", 10),
        #: How often the scheduler looks for due jobs (a "Reconcile now" in the
        #: scheduler's own process does not wait for it).
        "JOBS_POLL_SECONDS": env_int("JOBS_POLL_SECONDS", 10),
        #: A claimed job not finished within this is taken to have died with its
        #: process, and is claimed again.
        "JOB_LEASE_SECONDS": env_int("JOB_LEASE_SECONDS", 600),
        #: Processed and ignored webhook events (raw bodies: names, e-mails) older
        #: than this are deleted by a scheduler job; 0 keeps them forever.
        "EVENT_RETENTION_DAYS": env_int("EVENT_RETENTION_DAYS", 90),
        "ASYNC_MODE": os.environ.get("ASYNC_MODE", "threading"),
        #: permessage-deflate for Socket.IO websockets. Off: the live room's small
        #: JSON messages would be deflated once per connected client (see
        #: ``realtime.compression.without_websocket_compression``).
        "WEBSOCKET_COMPRESSION": env_bool("WEBSOCKET_COMPRESSION", False),
        #: eventlet's limit on one read or write of a client socket: a half-sent
        #: request or a body that never comes is dropped after it (None: forever).
        #: Upgraded websockets get Engine.IO's own (ping interval + timeout, 45 s).
        "HTTP_SOCKET_TIMEOUT_SECONDS": env_float("HTTP_SOCKET_TIMEOUT_SECONDS", 10.0),
        #: Connections served at once (websockets included); more wait to be accepted.
        "HTTP_MAX_CONNECTIONS": env_int("HTTP_MAX_CONNECTIONS", 1000),
        #: Origins allowed to open Socket.IO connections, comma-separated; unset:
        #: the dashboard's own origin only (python-engineio's same-origin check).
        "SOCKETIO_ALLOWED_ORIGINS": [
            o.strip()
            for o in os.environ.get("SOCKETIO_ALLOWED_ORIGINS", "").split(",")
            if o.strip()
        ]
        or None,
        "HOST": os.environ.get("HOST", "127.0.0.1"),
        "PORT": env_int("PORT", 5000),
        #: Reverse proxies in front that each append the client's address to
        #: X-Forwarded-For (and set X-Forwarded-Proto). 0: the peer of the socket is
        #: the client and those headers are ignored, since any client can send them.
        "TRUSTED_PROXY_HOPS": env_int("TRUSTED_PROXY_HOPS", 0),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO").upper(),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": env == "production",
    }


def finalize(config: dict[str, Any]) -> None:
    """Normalize and check the final settings (after test overrides).

    Rejects settings that would otherwise only fail later, at the first webhook.
    """
    config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        config["SQLALCHEMY_DATABASE_URI"]
    )
    config["ENCRYPTION_KEYS"] = encryption_keys(
        config["ATTENDANCE_ENCRYPTION_KEY"], config["SECRET_KEY"]
    )
    if config["WEBHOOK_PROCESSING"] not in {"background", "inline"}:
        raise ConfigError("WEBHOOK_PROCESSING must be 'background' or 'inline'")
    if config["ASYNC_MODE"] not in {"eventlet", "threading", "gevent"}:
        raise ConfigError("ASYNC_MODE must be eventlet, threading or gevent")
    if config["SQLITE_SYNCHRONOUS"] not in {"NORMAL", "FULL"}:
        raise ConfigError("SQLITE_SYNCHRONOUS must be NORMAL or FULL")
    if config["SQLITE_BUSY_TIMEOUT_MS"] < 0:
        config["SQLITE_BUSY_TIMEOUT_MS"] = (
            20 if config["ASYNC_MODE"] == "eventlet" else 10_000
        )
    if config["WEBHOOK_MAX_SKEW_SECONDS"] <= 0:
        raise ConfigError("WEBHOOK_MAX_SKEW_SECONDS must be positive")
    if not 0 <= config["EVENT_RETENTION_DAYS"] <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"EVENT_RETENTION_DAYS must be 0 (keep forever) to {MAX_RETENTION_DAYS}"
        )
    if not 0 < config["WEBHOOK_STORE_TIMEOUT_SECONDS"] < 3:
        # Zoom waits 3 s for an answer (ZOOM.md §2): a 503 after that is no answer.
        raise ConfigError("WEBHOOK_STORE_TIMEOUT_SECONDS must be above 0 and below 3")
    if not config["HTTP_SOCKET_TIMEOUT_SECONDS"] > 0:
        raise ConfigError("HTTP_SOCKET_TIMEOUT_SECONDS must be positive")
    if not 0 <= config["RECONCILE_DELAY_MINUTES"] <= 7 * 24 * 60:
        raise ConfigError("RECONCILE_DELAY_MINUTES must be 0 to 10080 (a week)")
    if not 1 <= config["JOBS_POLL_SECONDS"] <= 3600:
        raise ConfigError("JOBS_POLL_SECONDS must be 1 to 3600")
    if not 30 <= config["JOB_LEASE_SECONDS"] <= 24 * 3600:
        raise ConfigError("JOB_LEASE_SECONDS must be 30 to 86400")
    if config["HTTP_MAX_CONNECTIONS"] < 1:
        raise ConfigError("HTTP_MAX_CONNECTIONS must be positive")
    if config["TRUSTED_PROXY_HOPS"] < 0:
        raise ConfigError("TRUSTED_PROXY_HOPS must be 0 or more")
