"""The ``/api/v1/connections`` shapes (CONTRACT §6): secrets go in, never come out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from attendance.api.schemas import NOT_BLANK, Answer, Body, text

#: A secret token or client secret: write-only, never answered.
Secret = text(
    500, pattern=NOT_BLANK, min_length=1, json_schema_extra={"writeOnly": True}
)


class Connection(Answer):
    """A Zoom app on a Zoom account; its secrets are never answered."""

    id: int
    name: str
    account_id: str
    webhook_url: str = Field(
        description="Paste into the Zoom app's Event Subscriptions (it answers "
        "only to this connection's secret tokens)."
    )
    has_credentials: bool = Field(
        description="Whether account id, client id and client secret are all set."
    )
    secrets_configured: int = Field(description="How many secret tokens it accepts.")
    created_at: datetime
    last_event_at: datetime | None
    last_reconcile_at: datetime | None
    status: Literal["ok", "error"]
    error: str | None


class ConnectionUpdate(Body):
    name: text(100, pattern=NOT_BLANK) = None
    account_id: text(100) = None
    secrets: list[Secret] = Field(
        None,
        min_length=1,
        max_length=10,
        description="The Zoom app's secret token(s); several during a rotation. "
        "Replaces the stored ones. Write-only.",
    )
    client_id: text(100) | None = Field(
        None, description="Server-to-Server OAuth client id; null clears it."
    )
    client_secret: Secret | None = Field(
        None,
        description="Server-to-Server OAuth client secret; null clears it. Write-only.",
    )


class ConnectionCreate(ConnectionUpdate):
    name: text(100, pattern=NOT_BLANK)
    account_id: text(100) = ""
    secrets: list[Secret] = Field(
        min_length=1,
        max_length=10,
        description="The Zoom app's secret token(s). Write-only.",
    )
