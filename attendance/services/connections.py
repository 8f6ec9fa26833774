"""Zoom connections: create, change, delete; their secrets for the webhook front; key rotation.

The environment's settings (``ZOOM_WEBHOOK_SECRET_TOKEN`` …) are the default
connection behind ``/api/zoom/webhook``: it has no row (events it receives keep
``connection_id`` NULL), so the environment stays the one place its secrets live.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import MultiFernet
from flask import Flask
from sqlalchemy import Text, exists, insert, literal, select, type_coerce
from sqlalchemy.exc import IntegrityError

from attendance.database import begin_write
from attendance.errors import Conflict, StorageUnavailable, ValidationFailed
from attendance.extensions import db
from attendance.models import Meeting, ReconcileState, Reconciliation, ZoomConnection
from attendance.models.connection import (
    join_secrets,
    new_webhook_key,
    split_secrets,
    unique_secrets,
)
from attendance.models.encrypted import EncryptedText
from attendance.models.types import UTCDateTime, utcnow

log = logging.getLogger(__name__)

#: The webhook front re-reads connections at most this often (other processes'
#: changes show within it; this process's own changes show at once).
CACHE_SECONDS = 5.0
#: An unknown key re-reads at most this often, so random URLs cannot make every
#: request a query.
MISS_REFRESH_SECONDS = 1.0
#: The webhook path of connection URLs (the front serves it, not Flask).
WEBHOOK_PREFIX = "/api/zoom/webhook/"

_UNSET: Any = object()
#: A connection's webhook secret tokens: how many, and how long each (as the API's schema).
MAX_SECRETS = 10
MAX_SECRET_LENGTH = 500


@dataclass(frozen=True, slots=True)
class ConnectionSecrets:
    """What the webhook front needs of one connection: its id and secret tokens."""

    id: int
    secrets: tuple[str, ...]


class ConnectionCache:
    """Webhook key -> connection secrets, read from the database every few seconds.

    The hot path asks memory only; a change made in this process clears it
    (``invalidate``), one made elsewhere shows within ``CACHE_SECONDS``.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._by_key: dict[str, ConnectionSecrets] = {}
        self._loaded_at = float("-inf")
        self._ever_loaded = False
        self._lock = threading.Lock()

    def lookup(self, key: str) -> ConnectionSecrets | None:
        """The connection whose URL ends in ``key``, or None (then: 404)."""
        now = time.monotonic()
        if now - self._loaded_at > CACHE_SECONDS:
            self._load(now)
        found = self._by_key.get(key)
        if found is None and now - self._loaded_at > MISS_REFRESH_SECONDS:
            self._load(now)
            found = self._by_key.get(key)
        return found

    def invalidate(self) -> None:
        """Forget what was read: the next lookup reads the connections again."""
        self._loaded_at = float("-inf")

    def _load(self, now: float) -> None:
        """Read every connection's key and secrets.

        :raises StorageUnavailable: when the database cannot answer and nothing
            was read before; with an earlier copy, that copy is kept meanwhile
            (so URL validation still answers from memory in an outage).
        """
        with self._lock, self.app.app_context():
            try:
                rows = db.session.execute(
                    select(
                        ZoomConnection.id,
                        ZoomConnection.webhook_key,
                        ZoomConnection.webhook_secrets,
                    )
                ).all()
            except Exception as exc:  # noqa: BLE001 - down, locked: keep what we had
                if not self._ever_loaded:
                    raise StorageUnavailable("connections cannot be read now") from exc
                log.warning("connections not re-read (%s); keeping the last copy", exc)
                self._loaded_at = now
                return
            finally:
                db.session.remove()
            self._ever_loaded = True
            self._by_key = {
                row.webhook_key: ConnectionSecrets(
                    row.id, tuple(split_secrets(row.webhook_secrets))
                )
                for row in rows
            }
            self._loaded_at = now


def connection_cache(app: Flask) -> ConnectionCache:
    """The app's connection cache (made on first use)."""
    cache = app.extensions.get("attendance.connections")
    if cache is None:
        cache = app.extensions["attendance.connections"] = ConnectionCache(app)
    return cache


def webhook_path(connection: ZoomConnection | None) -> str:
    """The path of the connection's own webhook URL (None: the environment's)."""
    if connection is None:
        return WEBHOOK_PREFIX.rstrip("/")
    return WEBHOOK_PREFIX + connection.webhook_key


def webhook_url(host_url: str, connection: ZoomConnection | None) -> str:
    """The full webhook URL to paste into the Zoom app, on the host the admin uses."""
    return host_url.rstrip("/") + webhook_path(connection)


def all_connections() -> list[ZoomConnection]:
    """Every connection, by name."""
    return list(
        db.session.scalars(select(ZoomConnection).order_by(ZoomConnection.name))
    )


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed("a connection needs a name")
    return name


def _clean_secrets(raw: list[str] | str) -> str:
    """Tokens as stored; ``raw``: a list, or text (a JSON list, or one per line)."""
    items = split_secrets(raw) if isinstance(raw, str) else unique_secrets(raw)
    if not items:
        raise ValidationFailed("a connection needs at least one webhook secret token")
    # The API's limits, for every caller: each webhook on the URL is checked
    # against every token (zoom.signature), so their number is on the intake's path.
    if len(items) > MAX_SECRETS:
        raise ValidationFailed(f"at most {MAX_SECRETS} webhook secret tokens")
    if any(len(item) > MAX_SECRET_LENGTH for item in items):
        raise ValidationFailed(
            f"a webhook secret token has at most {MAX_SECRET_LENGTH} characters"
        )
    return join_secrets(items)


def _taken(name: str, but: int | None = None) -> None:
    query = select(ZoomConnection.id).where(ZoomConnection.name == name)
    if but is not None:
        query = query.where(ZoomConnection.id != but)
    if db.session.scalar(query) is not None:
        raise Conflict(f"a connection named {name!r} exists already")


def create_connection(
    name: str,
    secrets: list[str] | str,
    *,
    account_id: str = "",
    client_id: str | None = None,
    client_secret: str | None = None,
) -> ZoomConnection:
    """Add a connection with a new random webhook key (not committed).

    :raises ValidationFailed: no name, or no secret token.
    :raises Conflict: the name is taken.
    """
    begin_write()
    name = _clean_name(name)
    _taken(name)
    connection = ZoomConnection(
        name=name,
        account_id=account_id.strip(),
        webhook_key=new_webhook_key(),
        webhook_secrets=_clean_secrets(secrets),
        client_id=(client_id or "").strip() or None,
        client_secret=client_secret or None,
    )
    db.session.add(connection)
    _flush()
    return connection


def update_connection(
    connection: ZoomConnection,
    *,
    name: str | None = None,
    account_id: str | None = None,
    secrets: list[str] | str | None = None,
    client_id: Any = _UNSET,
    client_secret: Any = _UNSET,
) -> ZoomConnection:
    """Change what is given (None: unchanged; for the client pair, None clears).

    :raises ValidationFailed: a blank name, or an empty list of secret tokens.
    :raises Conflict: the name is taken.
    """
    begin_write()
    if name is not None:
        name = _clean_name(name)
        _taken(name, connection.id)
        connection.name = name
    if account_id is not None:
        connection.account_id = account_id.strip()
    if secrets is not None:
        connection.webhook_secrets = _clean_secrets(secrets)
    if client_id is not _UNSET:
        connection.client_id = (client_id or "").strip() or None
    if client_secret is not _UNSET:
        connection.client_secret = client_secret or None
    _flush()
    return connection


def delete_connection(connection: ZoomConnection) -> None:
    """Delete a connection; its stored events stay (their ``connection_id`` NULL).

    Its meetings lose their connection too (NULL, like the environment's): those
    not yet reconciled are marked ``not_available`` first, or the sweep would ask
    the environment's Zoom account for reports it does not have, for hours.
    """
    begin_write()
    now = utcnow()
    db.session.execute(
        insert(Reconciliation).from_select(
            ["meeting_id", "status", "at", "rows", "changes", "error", "updated_at"],
            select(
                Meeting.id,
                literal(ReconcileState.NOT_AVAILABLE.value),
                literal(now, UTCDateTime),
                literal(0),
                literal("[]"),
                literal(f"its Zoom connection {connection.name!r} was deleted"),
                literal(now, UTCDateTime),
            ).where(
                Meeting.connection_id == connection.id,
                ~exists().where(Reconciliation.meeting_id == Meeting.id),
            ),
        )
    )
    db.session.delete(connection)
    _flush()


def _flush() -> None:
    try:
        db.session.flush()
    except IntegrityError as exc:  # a name taken by a concurrent request
        db.session.rollback()
        raise Conflict("a connection with that name exists already") from exc


def encrypted_columns() -> dict[Any, list[str]]:
    """Each table with encrypted columns, and their names."""
    found: dict[Any, list[str]] = {}
    for table in db.metadata.sorted_tables:
        names = [c.name for c in table.columns if isinstance(c.type, EncryptedText)]
        if names:
            found[table] = names
    return found


def rotate_encryption(cipher: MultiFernet) -> int:
    """Re-encrypt every encrypted value under ``cipher``'s first key; return rows changed.

    Values are read and written as their stored tokens (never decrypted into
    Python strings here), in one transaction (not committed).

    :raises cryptography.fernet.InvalidToken: a value no key opens (nothing changed).
    """
    begin_write()
    changed = 0
    for table, names in encrypted_columns().items():
        raws = [type_coerce(table.c[n], Text).label(n) for n in names]
        for row in db.session.execute(select(table.c.id, *raws)).all():
            tokens = {n: row._mapping[n] for n in names}
            values = {
                n: type_coerce(cipher.rotate(t.encode("ascii")).decode("ascii"), Text)
                for n, t in tokens.items()
                if t is not None
            }
            if not values:
                continue
            db.session.execute(
                table.update().where(table.c.id == row.id).values(values)
            )
            changed += 1
    return changed
