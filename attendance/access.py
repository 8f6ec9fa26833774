"""Announce every committed loss of access (``signals.access_changed``), whichever code made it.

Courses are unassigned and deleted by several routes (dashboard, API, CLI), and
tokens, admin rights and sessions are taken away in more places still; watching
the ORM catches them all, including ones added later. A flush records which
instructors lost something; the signal goes out only after the commit (the
receivers read the new state) and never after a rollback. Services may send
the signal themselves as well: receivers re-check, so a second one changes
nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from attendance import signals
from attendance.models import ApiToken, Course, Instructor, course_instructors

log = logging.getLogger(__name__)
_KEY = "attendance.access_lost"


def watch() -> None:
    """Listen to every session's flushes and commits (once per process)."""
    if event.contains(Session, "before_flush", _before_flush):
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    lost: set[int] = session.info.setdefault(_KEY, set())
    for obj in session.dirty:
        if isinstance(obj, Instructor):
            state = inspect(obj)
            admin = state.attrs.is_admin.history
            if (
                state.attrs.courses.history.deleted
                or (True in admin.deleted and not obj.is_admin)
                or state.attrs.auth_version.history.added
            ):
                lost.add(obj.id)
        elif isinstance(obj, Course):
            state = inspect(obj)
            for person in state.attrs.instructors.history.deleted:
                lost.add(person.id)
            if state.attrs.meeting_numbers.history.deleted:
                # A number the course no longer has: its live room is no longer
                # theirs (it may be another course's now).
                with session.no_autoflush:
                    lost.update(person.id for person in obj.instructors)
        elif isinstance(obj, ApiToken):
            if obj.revoked_at is not None and (
                inspect(obj).attrs.revoked_at.history.added
            ):
                lost.add(obj.instructor_id)
    for obj in session.deleted:
        if isinstance(obj, Instructor):
            lost.add(obj.id)
        elif isinstance(obj, ApiToken):
            lost.add(obj.instructor_id)
        elif isinstance(obj, Course) and obj.id is not None:
            with session.no_autoflush:
                lost.update(
                    session.scalars(
                        select(course_instructors.c.instructor_id).where(
                            course_instructors.c.course_id == obj.id
                        )
                    )
                )
    if not lost:
        session.info.pop(_KEY, None)


def _after_commit(session: Session) -> None:
    lost = session.info.pop(_KEY, None)
    for instructor_id in sorted(lost or ()):
        try:
            signals.access_changed.send(None, instructor_id=instructor_id)
        except Exception:  # noqa: BLE001 - the change is committed; never undo a 2xx
            log.exception(
                "re-checking the sockets of instructor %s failed", instructor_id
            )


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
