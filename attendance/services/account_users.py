"""The users sync (CONTRACT §6 account users): Zoom user ids of students, before they join.

A connection with credentials lists its account's users; a user whose e-mail is
a student's teaches the matcher that student's Zoom user id, as a ``zoom_user``
link of source ``account`` in each course the student is in (links are per
course, like every key of §5.4). The account is the authority on who owns a Zoom
user id, so the sync makes a connection's account links equal to what its
account says now: links it no longer supports are removed.

It never overrides an instructor: a Zoom user id a manual link names (for any
student of the course) or one the instructor deleted (a ``forgotten`` link of
that student) is left alone. An e-mail two users share links neither.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from attendance.core.matching import normalize_email
from attendance.core.model import LinkKind, LinkSource
from attendance.database import begin_write
from attendance.extensions import db
from attendance.models import IdentityLinkRow
from attendance.models import Student as StudentRow
from attendance.models.types import utcnow
from attendance.services.generation import regenerate_ended
from attendance.services.job_results import JobResult
from attendance.services.links import meetings_carrying
from attendance.services.zoom_clients import client_for
from attendance.zoom.rest_rows import AccountUser

log = logging.getLogger(__name__)

#: How many ambiguous e-mails a summary names (the rest are counted).
_NAMED = 3

#: (course id, student pk, Zoom user id): one account link.
Link = tuple[int, int, str]


@dataclass(slots=True)
class _Plan:
    """What one sync found: the links the account supports, and what it refused."""

    wanted: set[Link] = field(default_factory=set)
    #: Wanted links an instructor's manual or deleted key forbids.
    blocked: set[Link] = field(default_factory=set)
    #: E-mails of students that two or more users of the account share.
    ambiguous: list[str] = field(default_factory=list)


def account_source(connection_id: int | None) -> str:
    """The ``created_by`` of a connection's account links: whose sync owns them."""
    if connection_id is None:
        return "zoom users sync (environment)"
    return f"zoom users sync (connection {int(connection_id)})"


def sync_users(connection_id: int | None) -> JobResult:
    """Make the connection's account links match its Zoom account's active users (commits).

    Fetches every page before touching the database, so no write lock is held
    over HTTP and a failed fetch changes nothing. Ended meetings where someone
    carries a Zoom user id whose link changed are regenerated (§5.7's rule for
    keys), so every report agrees with the course's links.

    :raises ZoomRateLimited: on Zoom's daily limit (the job is deferred).
    :raises ZoomError: when Zoom cannot be reached or refuses the credentials.
    """
    client = client_for(connection_id)
    # No transaction over HTTP: on SQLite a read begun before the fetch could not
    # become the write after it once another writer has committed meanwhile.
    db.session.rollback()
    if client is None:
        return JobResult(summary="no Zoom API credentials: nothing to sync")
    with client:
        users = list(client.users("active"))
    begin_write()
    plan = _plan(users, _students_by_email())
    added, removed = _apply(plan, account_source(connection_id))
    meeting_ids = _meetings_to_regenerate(added | removed)
    db.session.commit()
    _regenerate(meeting_ids)
    log.info(
        "zoom users sync %s: %d users, %d links added, %d removed",
        connection_id,
        len(users),
        len(added),
        len(removed),
    )
    return JobResult(
        fetched=len(users),
        changed=len(added) + len(removed),
        summary=_summary(len(users), plan, len(added), len(removed)),
    )


def _students_by_email() -> dict[str, list[tuple[int, int]]]:
    """Every student with an e-mail: normalized e-mail -> [(course id, student pk)]."""
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for pk, course_id, email in db.session.execute(
        select(StudentRow.id, StudentRow.course_id, StudentRow.email).where(
            StudentRow.email != ""
        )
    ):
        key = normalize_email(email or "")
        if key:
            found[key].append((course_id, pk))
    return found


def _plan(
    users: Iterable[AccountUser], students: dict[str, list[tuple[int, int]]]
) -> _Plan:
    """The links the users support: one per student whose e-mail exactly one user has."""
    ids_by_email: dict[str, set[str]] = defaultdict(set)
    for user in users:
        email = normalize_email(user.email)
        if email in students and user.id.strip():
            ids_by_email[email].add(user.id.strip())
    plan = _Plan()
    for email, ids in sorted(ids_by_email.items()):
        if len(ids) > 1:
            plan.ambiguous.append(email)
            continue
        (user_id,) = ids
        for course_id, student_pk in students[email]:
            plan.wanted.add((course_id, student_pk, user_id))
    return plan


def _apply(plan: _Plan, owner: str) -> tuple[set[Link], set[Link]]:
    """Add the wanted links the instructors allow and drop the owner's others (flushes)."""
    held = _held(owner)
    plan.blocked = _blocked(plan.wanted)
    allowed = plan.wanted - plan.blocked
    removed = set(held) - allowed
    for link in sorted(removed):
        db.session.execute(
            delete(IdentityLinkRow).where(IdentityLinkRow.id.in_(held[link]))
        )
    added = allowed - set(held)
    now = utcnow()
    for course_id, student_pk, user_id in sorted(added):
        db.session.add(
            IdentityLinkRow(
                course_id=course_id,
                student_id=student_pk,
                kind=LinkKind.ZOOM_USER.value,
                value=user_id,
                source=LinkSource.ACCOUNT.value,
                learned_at=now,
                learned_by=LinkSource.ACCOUNT.value,
                created_by=owner,
            )
        )
    db.session.flush()
    return added, removed


def _held(owner: str) -> dict[Link, list[int]]:
    """The owner's account links now: link -> row ids (several if ever duplicated)."""
    held: dict[Link, list[int]] = defaultdict(list)
    for row_id, course_id, student_pk, value in db.session.execute(
        select(
            IdentityLinkRow.id,
            IdentityLinkRow.course_id,
            IdentityLinkRow.student_id,
            IdentityLinkRow.value,
        ).where(
            IdentityLinkRow.source == LinkSource.ACCOUNT.value,
            IdentityLinkRow.kind == LinkKind.ZOOM_USER.value,
            IdentityLinkRow.created_by == owner,
        )
    ):
        held[course_id, student_pk, value].append(row_id)
    return held


def _blocked(wanted: set[Link]) -> set[Link]:
    """The wanted links an instructor's choice forbids.

    A manual ``zoom_user`` link of the id in the course, whoever it names (an
    account link would win over it: the zoom_user step comes before manual), and
    a ``forgotten`` one of the id and that very student (the instructor deleted it).
    """
    values = sorted({user_id for _course, _student, user_id in wanted})
    manual: set[tuple[int, str]] = set()
    forgotten: set[Link] = set()
    for start in range(0, len(values), 500):
        for course_id, student_pk, value, source in db.session.execute(
            select(
                IdentityLinkRow.course_id,
                IdentityLinkRow.student_id,
                IdentityLinkRow.value,
                IdentityLinkRow.source,
            ).where(
                IdentityLinkRow.kind == LinkKind.ZOOM_USER.value,
                IdentityLinkRow.source.in_(
                    [LinkSource.MANUAL.value, LinkSource.FORGOTTEN.value]
                ),
                IdentityLinkRow.value.in_(values[start : start + 500]),
            )
        ):
            if source == LinkSource.MANUAL.value:
                manual.add((course_id, value))
            else:
                forgotten.add((course_id, student_pk, value))
    return {
        link for link in wanted if (link[0], link[2]) in manual or link in forgotten
    }


def _meetings_to_regenerate(changed: set[Link]) -> set[int]:
    """The ended meetings where someone carries a Zoom user id whose link changed."""
    by_course: dict[int, set[tuple[LinkKind, str]]] = defaultdict(set)
    for course_id, _student, user_id in changed:
        by_course[course_id].add((LinkKind.ZOOM_USER, user_id))
    meeting_ids: set[int] = set()
    for course_id, keys in by_course.items():
        meeting_ids |= meetings_carrying(course_id, keys)
    return meeting_ids


def _regenerate(meeting_ids: set[int]) -> None:
    """Regenerate meetings one write transaction each (commits).

    A first sync can touch most of a term's meetings: one transaction for all
    of them would hold SQLite's only write lock, and the intake, that long.
    """
    for meeting_id in sorted(meeting_ids):
        begin_write()
        regenerate_ended({meeting_id})
        db.session.commit()


def _summary(users: int, plan: _Plan, added: int, removed: int) -> str:
    """One line for the connection page: what was fetched, linked, and refused."""
    linked = plan.wanted - plan.blocked
    students = len({(course, student) for course, student, _id in linked})
    text = (
        f"{users} Zoom users; {students} students linked by e-mail; "
        f"{added} links added, {removed} removed"
    )
    if plan.blocked:
        text += (
            f"; {len(plan.blocked)} left alone (an instructor's manual or deleted key)"
        )
    if plan.ambiguous:
        named = ", ".join(plan.ambiguous[:_NAMED])
        more = len(plan.ambiguous) - _NAMED
        text += (
            f"; {len(plan.ambiguous)} e-mails held by several Zoom users, "
            f"linked to none: {named}" + (f" and {more} more" if more > 0 else "")
        )
    return text
