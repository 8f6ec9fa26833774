"""Meeting instances: one row per Zoom meeting UUID."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy import false as sa_false
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
    #: Set when the meeting number belongs to a course (now or later).
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True
    )
    #: The connection whose webhook URL brought its events (NULL: the environment's).
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("zoom_connections.id", ondelete="SET NULL"), index=True
    )
    #: A webinar (``webinar.*`` events): its report is Zoom's webinar report.
    is_webinar: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false()
    )
    #: Created from Zoom's report alone (a class held while the server was down).
    backfilled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false()
    )
    topic: Mapped[str] = mapped_column(String(300), default="")
    host_id: Mapped[str] = mapped_column(String(100), default="")
    meeting_type: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="")
    #: Earliest ``meeting.started`` start_time seen (CONTRACT §5).
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Latest ``meeting.ended`` end_time seen.
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When no ``meeting.ended`` came: the stale-meeting job's closing time.
    closed_stale_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.LIVE)
    #: Arrival time of the latest event applied for it (the stale-meeting clock).
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording_share_url: Mapped[str] = mapped_column(Text, default="")
    participant_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Bumped (atomically) by every batch that adds participant events: tells a
    #: process whether its cached copy of the meeting's connections is current.
    events_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: CONTRACT §5.9, set by each generation: whether the instance is a class of
    #: one of its course's schedule slots, and the window [S', E'] its attendance
    #: was computed over (None while unknown, i.e. never generated).
    scheduled: Mapped[bool | None] = mapped_column(Boolean)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: An instructor's choice for an unscheduled instance: count it in the term
    #: figures (True) or not (None/False). Scheduled instances always count.
    counts_override: Mapped[bool | None] = mapped_column(Boolean)
    attendance_generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendance_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )

    @property
    def effective_end(self) -> datetime | None:
        """E of CONTRACT §5: Zoom's end time, else the stale closure, else None (live)."""
        return self.end_time or self.closed_stale_at

    def __repr__(self) -> str:
        return f"<Meeting {self.uuid} {self.status}>"
