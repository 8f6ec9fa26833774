"""Courses, their Zoom meeting numbers, roster and remembered identities."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from attendance.extensions import db
from attendance.models.types import UTCDateTime, utcnow


class Course(db.Model):  # type: ignore[name-defined,misc]
    """A class an instructor teaches, with its attendance policy (CONTRACT §5.5)."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    #: IANA name; the reports' local times use it. Inside, time is UTC.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    late_after_minutes: Mapped[int] = mapped_column(Integer, default=10)
    left_early_minutes: Mapped[int] = mapped_column(Integer, default=10)
    min_attendance_percent: Mapped[float] = mapped_column(Float, default=50.0)
    #: A new random stamp at every roster import: per-process roster caches key on it.
    roster_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting_numbers: Mapped[list[CourseMeetingNumber]] = relationship(
        back_populates="course",
        cascade="all, delete-orphan",
        order_by="CourseMeetingNumber.id",
    )
    students: Mapped[list[Student]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="Student.id"
    )
    #: The weekly class times (CONTRACT §5.9), in the course's time zone.
    slots: Mapped[list[CourseSlot]] = relationship(
        back_populates="course",
        cascade="all, delete-orphan",
        order_by="[CourseSlot.weekday, CourseSlot.start_minute, CourseSlot.id]",
    )

    def __repr__(self) -> str:
        return f"<Course {self.code}>"


class CourseSlot(db.Model):  # type: ignore[name-defined,misc]
    """One weekly class time of a course: a weekday, a local start, a length (§5.9)."""

    __tablename__ = "course_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    #: Monday 0 … Sunday 6.
    weekday: Mapped[int] = mapped_column(Integer)
    #: Minutes after local midnight (``"HH:MM"`` in the API).
    start_minute: Mapped[int] = mapped_column(Integer)
    #: 1 … 720.
    minutes: Mapped[int] = mapped_column(Integer)

    course: Mapped[Course] = relationship(back_populates="slots")


class CourseMeetingNumber(db.Model):  # type: ignore[name-defined,misc]
    """A Zoom meeting number whose instances belong to the course (one course per number)."""

    __tablename__ = "course_meeting_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    zoom_meeting_id: Mapped[int] = mapped_column(BigInteger, unique=True)

    course: Mapped[Course] = relationship(back_populates="meeting_numbers")


class Student(db.Model):  # type: ignore[name-defined,misc]
    """A roster entry; ``student_id`` is the school's id, unique within the course."""

    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("course_id", "student_id"),
        Index("ix_students_email", "email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    student_id: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    #: Stored normalized (trimmed, case-folded): what matching compares.
    email: Mapped[str] = mapped_column(String(254), default="")
    department: Mapped[str] = mapped_column(String(120), default="")
    #: From ``user.presence_status_updated`` when the e-mail matches.
    presence_status: Mapped[str | None] = mapped_column(String(32))
    presence_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The date (in the course's time zone) from which the student is off the
    #: roster of the course's meetings (CONTRACT §5.8); None while enrolled.
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship(back_populates="students")
    aliases: Mapped[list[StudentAlias]] = relationship(
        back_populates="student",
        cascade="all, delete-orphan",
        order_by="StudentAlias.id",
    )

    def __repr__(self) -> str:
        return f"<Student {self.student_id}>"


class StudentAlias(db.Model):  # type: ignore[name-defined,misc]
    """Another e-mail or display name the student uses in Zoom."""

    __tablename__ = "student_aliases"
    __table_args__ = (UniqueConstraint("student_id", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE")
    )
    #: As entered; an alias containing "@" is an e-mail, anything else a display name.
    value: Mapped[str] = mapped_column(String(254))

    student: Mapped[Student] = relationship(back_populates="aliases")

    @property
    def is_email(self) -> bool:
        return "@" in self.value


class IdentityLinkRow(db.Model):  # type: ignore[name-defined,misc]
    """A remembered identifier of a student: learned from a meeting, or a manual match.

    ``meeting_id``: for a learned link, the meeting it was learned in (only
    *earlier* meetings use it, CONTRACT §5.4); for a manual link, the one meeting
    it applies to, or None when remembered for the whole course (§5.7).
    """

    __tablename__ = "identity_links"
    __table_args__ = (
        Index("ix_identity_links_course_kind_value", "course_id", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE")
    )
    #: zoom_user | registrant | email | name
    kind: Mapped[str] = mapped_column(String(16))
    #: The identifier; a display name is stored normalized.
    value: Mapped[str] = mapped_column(String(300))
    #: learned | manual
    source: Mapped[str] = mapped_column(String(16))
    #: For learned links: the meeting it was learned in, and that meeting's start,
    #: so only *earlier* meetings' links apply (CONTRACT §5.4).
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    learned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How it was learned (CONTRACT §3 ``learned``): email | alias | manual.
    learned_by: Mapped[str | None] = mapped_column(String(16))
    #: For a manual link: the meeting and the participant (connection) of the
    #: match that made it, so undoing that match removes every key it stored
    #: (§5.7); ``meeting_id`` stays None for a key remembered course-wide.
    match_meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    match_participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
