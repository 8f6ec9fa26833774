"""The webhook event log: every verified event, kept before Zoom gets its answer."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from attendance.extensions import db
from attendance.models.types import UTCDateTime, utcnow


class EventStatus(enum.StrEnum):
    """Where an event is in its life: stored and waiting, and how applying it ended."""

    QUEUED = "queued"
    PROCESSED = "processed"
    FAILED = "failed"
    IGNORED = "ignored"


class WebhookEvent(db.Model):  # type: ignore[name-defined,misc]
    """One verified webhook delivery, as received (raw body) and as applied (status)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_status_id", "status", "id"),
        Index("ix_webhook_events_meeting_uuid", "meeting_uuid"),
        # Health (latest arrival) and retention (older than N days) read by time.
        Index("ix_webhook_events_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The name as received (a seed-era alias stays visible in the log).
    event: Mapped[str] = mapped_column(String(100))
    #: ``event_ts`` of the envelope, Unix milliseconds.
    event_ts: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: sha256 of the occurrence's identity (ZOOM.md §2); unique, so a retry is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    meeting_uuid: Mapped[str | None] = mapped_column(String(255))
    zoom_meeting_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    #: The exact body Zoom signed, decoded as UTF-8.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The Zoom connection whose URL received it; None: the environment's
    #: (``/api/zoom/webhook``), or a connection since deleted.
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("zoom_connections.id", ondelete="SET NULL"), index=True
    )

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.id} {self.event} {self.status}>"
