"""Zoom connections: one Zoom app on one Zoom account, with its own webhook URL."""

from __future__ import annotations

import enum
import json
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from attendance.extensions import db
from attendance.models.encrypted import EncryptedText
from attendance.models.types import UTCDateTime, utcnow


class ConnectionStatus(enum.StrEnum):
    """Whether the connection's last use (an event, a reconciliation) went well."""

    OK = "ok"
    ERROR = "error"


def new_webhook_key() -> str:
    """A random key for a connection's webhook URL: 32 URL-safe characters."""
    return secrets.token_urlsafe(24)


def split_secrets(raw: str | None) -> list[str]:
    """Secret tokens from text: a JSON list of strings, or one per line."""
    if not raw or not raw.strip():
        return []
    text = raw.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list) and all(isinstance(i, str) for i in items):
            return unique_secrets(items)
    return unique_secrets(text.splitlines())


def join_secrets(items: Iterable[str]) -> str:
    """Secret tokens as stored: a JSON list (a token may hold any character)."""
    return json.dumps(unique_secrets(items))


def unique_secrets(items: Iterable[str]) -> list[str]:
    """Tokens trimmed, blanks and repeats dropped, in their order."""
    seen: list[str] = []
    for item in items:
        item = item.strip()
        if item and item not in seen:
            seen.append(item)
    return seen


class ZoomConnection(db.Model):  # type: ignore[name-defined,misc]
    """A Zoom account's app: webhook secrets, optional S2S OAuth credentials, health."""

    __tablename__ = "zoom_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[str] = mapped_column(String(100), default="")
    #: The last segment of ``/api/zoom/webhook/<key>``: unguessable, so a URL
    #: cannot be found by counting; the signature is still what proves Zoom.
    webhook_key: Mapped[str] = mapped_column(
        String(64), unique=True, default=new_webhook_key
    )
    #: The app's secret token(s), a JSON list (``join_secrets``); encrypted at rest.
    webhook_secrets: Mapped[str] = mapped_column(EncryptedText, default="")
    client_id: Mapped[str | None] = mapped_column(String(100))
    #: Server-to-Server OAuth client secret; encrypted at rest.
    client_secret: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reconcile_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=ConnectionStatus.OK)
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The webhook secret tokens, in order (any of them verifies a request)."""
        return tuple(split_secrets(self.webhook_secrets))

    @property
    def has_credentials(self) -> bool:
        """Whether the REST API can be called for this connection (S2S OAuth)."""
        return bool(self.account_id and self.client_id and self.client_secret)

    def __repr__(self) -> str:
        return f"<ZoomConnection {self.id} {self.name!r}>"
