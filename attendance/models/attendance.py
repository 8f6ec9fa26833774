"""Generated attendance: one record per roster student, guests, and recordings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from attendance.extensions import db
from attendance.models.types import UTCDateTime


class AttendanceRecord(db.Model):  # type: ignore[name-defined,misc]
    """A roster student's attendance in one meeting; a manual status survives regeneration."""

    __tablename__ = "attendance_records"
    __table_args__ = (UniqueConstraint("meeting_id", "student_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE")
    )
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE")
    )
    #: The computed status (CONTRACT §5.5).
    status: Mapped[str] = mapped_column(String(16))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    left_early: Mapped[bool] = mapped_column(Boolean, default=False)
    attended_seconds: Mapped[int] = mapped_column(Integer, default=0)
    attended_percent: Mapped[float] = mapped_column(Float, default=0.0)
    first_join: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_leave: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    matched_by: Mapped[str | None] = mapped_column(String(16))
    #: The person matched to the student (their earliest connection).
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    #: An instructor's override: wins over ``status`` and survives every regeneration.
    manual_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    overridden_by: Mapped[str | None] = mapped_column(String(254))
    overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def effective_status(self) -> str:
        return self.manual_status or self.status

    @property
    def source(self) -> str:
        return "manual" if self.manual_status else "auto"


class MeetingGuest(db.Model):  # type: ignore[name-defined,misc]
    """A person seen in the meeting who is neither the host nor on the roster."""

    __tablename__ = "meeting_guests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    attended_seconds: Mapped[int] = mapped_column(Integer, default=0)
    first_join: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_leave: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    #: guest | co-host
    role: Mapped[str] = mapped_column(String(16), default="guest")
    position: Mapped[int] = mapped_column(Integer, default=0)


class MeetingRecording(db.Model):  # type: ignore[name-defined,misc]
    """A file of ``recording.completed`` (download URLs need Zoom's token to fetch)."""

    __tablename__ = "meeting_recordings"
    __table_args__ = (UniqueConstraint("meeting_id", "file_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE")
    )
    file_id: Mapped[str] = mapped_column(String(100))
    file_type: Mapped[str] = mapped_column(String(32), default="")
    recording_type: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(32), default="")
    download_url: Mapped[str] = mapped_column(Text, default="")
    recording_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    file_size: Mapped[int | None] = mapped_column(BigInteger)
