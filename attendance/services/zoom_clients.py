"""A Zoom REST client for a connection: its credentials, the settings' base URLs.

Connection ``None`` is the environment's (``ZOOM_ACCOUNT_ID``, ``ZOOM_CLIENT_ID``,
``ZOOM_CLIENT_SECRET``), the one behind ``/api/zoom/webhook``. Clients are made
for jobs only, never on a request's path (CONTRACT §6).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from attendance.extensions import db
from attendance.models import ZoomConnection
from attendance.zoom.rest import ZoomClient


@dataclass(frozen=True, slots=True)
class Credentials:
    """One Zoom account's Server-to-Server OAuth app."""

    account_id: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        # Never the secret: a repr ends up in logs and tracebacks.
        return (
            f"Credentials(account_id={self.account_id!r}, client_id={self.client_id!r})"
        )


def credentials_of(connection_id: int | None) -> Credentials | None:
    """The S2S credentials of a connection (None: the environment's), if it has them."""
    if connection_id is None:
        config = current_app.config
        account = config.get("ZOOM_ACCOUNT_ID")
        client = config.get("ZOOM_CLIENT_ID")
        secret = config.get("ZOOM_CLIENT_SECRET")
        if account and client and secret:
            return Credentials(account, client, secret)
        return None
    connection = db.session.get(ZoomConnection, connection_id)
    if connection is None or not connection.has_credentials:
        return None
    return Credentials(
        connection.account_id,
        connection.client_id or "",  # has_credentials: both are set
        connection.client_secret or "",
    )


def client_for(connection_id: int | None) -> ZoomClient | None:
    """A client for the connection's account, or None when it has no credentials."""
    credentials = credentials_of(connection_id)
    if credentials is None:
        return None
    config = current_app.config
    return ZoomClient(
        credentials.account_id,
        credentials.client_id,
        credentials.client_secret,
        api_base_url=config["ZOOM_API_BASE_URL"],
        oauth_base_url=config["ZOOM_OAUTH_BASE_URL"],
        backoff_factor=config.get("ZOOM_RETRY_BACKOFF", 0.5),
    )


def connection_ids_with_credentials() -> list[int | None]:
    """Every connection that can call the API: the environment's (None) first."""
    ids: list[int | None] = [None] if credentials_of(None) else []
    # An unreadable secret reads as None (models.encrypted): no credentials.
    ids.extend(
        connection.id
        for connection in db.session.scalars(
            db.select(ZoomConnection).order_by(ZoomConnection.id)
        )
        if connection.has_credentials
    )
    return ids
