"""Meeting instances: one row per Zoom meeting UUID."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from attendance.extensions import db
from attendance.models.types import UTCDateTime, utcnow


class MeetingStatus(enum.StrEnum):
    """A meeting is live until Zoom (or the stale-meeting job) ends it."""

    LIVE = "live"
    ENDED = "ended"


class Meeting(db.Model):  # type: ignore[name-defined,misc]
    """One run of a Zoom meeting (its ``uuid``); the meeting number is reused by every run."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(255), unique=True)
    zoom_meeting_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    topic: Mapped[str] = mapped_column(String(300), default="")
    host_id: Mapped[str] = mapped_column(String(100), default="")
    meeting_type: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="")
    #: Earliest ``meeting.started`` start_time seen (CONTRACT §5).
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Latest ``meeting.ended`` end_time seen.
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.LIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )

    def __repr__(self) -> str:
        return f"<Meeting {self.uuid} {self.status}>"
