"""Instructors (Flask-Login users), their courses, API tokens and failed logins."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from attendance.extensions import db
from attendance.models.types import UTCDateTime, utcnow

#: Which instructors teach which courses (several per course).
course_instructors = Table(
    "course_instructors",
    db.metadata,
    Column("course_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "instructor_id",
        ForeignKey("instructors.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


class Instructor(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A person who signs in to the dashboard or the API; admins manage everyone."""

    __tablename__ = "instructors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Stored normalized (trimmed, case-folded): the login compares it.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Part of the session's user id: bumped on password change and sign-out, so
    #: every session and remember-me cookie issued before stops working.
    auth_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    courses = relationship(
        "Course", secondary=course_instructors, backref="instructors"
    )

    def set_password(self, password: str) -> None:
        """Hash with werkzeug's default (scrypt); the password itself is never kept.

        ``PASSWORD_HASH_METHOD`` (not an environment setting) names another of
        werkzeug's methods: the test suite's cheap one, since a scrypt hash and
        each check cost 0.1 s and the suite makes thousands.
        """
        method = (
            current_app.config.get("PASSWORD_HASH_METHOD")
            if has_app_context()
            else None
        )
        if method:
            self.password_hash = generate_password_hash(password, method=method)
        else:
            self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """Flask-Login's user id, ``<id>:<auth_version>``: kept in the session and the
        remember-me cookie, so bumping the version ends both (``attendance.auth``)."""
        return f"{self.id}:{self.auth_version or 0}"

    def __repr__(self) -> str:
        return f"<Instructor {self.id}>"


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """A bearer token for the REST API and Socket.IO; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instructor_id: Mapped[int] = mapped_column(
        ForeignKey("instructors.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters, to tell tokens apart in the dashboard.
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    instructor: Mapped[Instructor] = relationship()


class LoginFailure(db.Model):  # type: ignore[name-defined,misc]
    """A failed sign-in, or one being checked, kept a few minutes: the rate limit
    counts them (all processes)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_at", "email", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
