"""A course's remembered keys (CONTRACT §5.7): who they point to, listing and deleting them.

A key is an identity link the matching steps ``zoom_user`` (learned) and
``manual`` (remembered by an instructor) use in every meeting of the course;
links a manual match keeps for its own meeting alone are that match's, not the
course's, and are undone with it (``services.corrections``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import aliased

from attendance.core.matching import normalize_email, normalize_name
from attendance.core.model import LinkKind, LinkSource, MatchedBy
from attendance.errors import NotFound
from attendance.extensions import db
from attendance.models import AttendanceRecord, IdentityLinkRow, Meeting, Participant
from attendance.models import Student as StudentRow
from attendance.services.generation import regenerate_ended

#: A key: its kind and its value as stored (ids trimmed, e-mails and names normalized).
Key = tuple[LinkKind, str]
#: The sources of keys deleting keeps as ``forgotten``: they would come back
#: otherwise (learned again by regenerating, or listed again by the users sync).
_FORGETTABLE = (LinkSource.LEARNED.value, LinkSource.ACCOUNT.value)


@dataclass(frozen=True, slots=True)
class RememberedKey:
    """One key of the course, with how it was learned and where (CONTRACT §3)."""

    id: int
    student_pk: int
    student_name: str
    kind: LinkKind
    value: str
    #: manual | email | alias: the step that taught it.
    learned: str
    created_at: datetime
    #: The meeting it was learned in, or of the match that made it.
    meeting_id: int | None


def _course_wide(course_id: int):
    """The condition of the course's keys: learned ones, the Zoom account's (§6
    account users) and remembered manual ones."""
    return and_(
        IdentityLinkRow.course_id == course_id,
        or_(
            IdentityLinkRow.source.in_(_FORGETTABLE),
            and_(
                IdentityLinkRow.source == LinkSource.MANUAL.value,
                IdentityLinkRow.meeting_id.is_(None),
            ),
        ),
    )


def remembered_keys(
    course_id: int, student_pk: int | None = None
) -> list[RememberedKey]:
    """The course's keys (or one student's), oldest first."""
    origin = aliased(AttendanceRecord)
    statement = (
        select(
            IdentityLinkRow,
            StudentRow.first_name,
            StudentRow.last_name,
            origin.matched_by,
        )
        .join(StudentRow, StudentRow.id == IdentityLinkRow.student_id)
        # A link learned before links recorded their step: the record it was learned from.
        .outerjoin(
            origin,
            and_(
                origin.meeting_id == IdentityLinkRow.meeting_id,
                origin.student_id == IdentityLinkRow.student_id,
                IdentityLinkRow.source == LinkSource.LEARNED.value,
            ),
        )
        .where(_course_wide(course_id))
        .order_by(IdentityLinkRow.created_at, IdentityLinkRow.id)
    )
    if student_pk is not None:
        statement = statement.where(IdentityLinkRow.student_id == student_pk)
    return [
        RememberedKey(
            id=row.id,
            student_pk=row.student_id,
            student_name=f"{first} {last}".strip(),
            kind=LinkKind(row.kind),
            value=row.value,
            learned=_learned(row, origin_step),
            created_at=row.created_at,
            meeting_id=row.meeting_id
            if row.source == LinkSource.LEARNED.value
            else row.match_meeting_id,
        )
        for row, first, last, origin_step in db.session.execute(statement)
    ]


def _learned(row: IdentityLinkRow, origin_step: str | None) -> str:
    """How a key was learned: its own record of it, else what its origin says."""
    if row.learned_by:
        return row.learned_by
    if row.source == LinkSource.MANUAL.value:
        return MatchedBy.MANUAL.value
    return (
        origin_step if origin_step == MatchedBy.ALIAS.value else MatchedBy.EMAIL.value
    )


def delete_key(course_id: int, link_id: int) -> IdentityLinkRow:
    """Forget one key of the course, alone, and regenerate the ended meetings it served.

    Gone for good either way: a learned or an account key is kept as
    ``forgotten`` (it matches by nothing and is listed nowhere), so that
    regenerating the meeting it was learned in does not learn it again, nor the
    users sync list it again.

    :raises NotFound: when the course has no such key.
    """
    row = db.session.scalar(
        select(IdentityLinkRow).where(
            IdentityLinkRow.id == link_id, _course_wide(course_id)
        )
    )
    if row is None:
        raise NotFound("no such remembered key in this course")
    affected = meetings_carrying(course_id, [(LinkKind(row.kind), row.value)])
    if row.source in _FORGETTABLE:
        # Every meeting that learned it, every sync that listed it: the key is
        # forgotten, not one copy of it.
        db.session.execute(
            update(IdentityLinkRow)
            .where(
                IdentityLinkRow.course_id == course_id,
                IdentityLinkRow.source.in_(_FORGETTABLE),
                IdentityLinkRow.kind == row.kind,
                IdentityLinkRow.value == row.value,
                IdentityLinkRow.student_id == row.student_id,
            )
            .values(source=LinkSource.FORGOTTEN.value)
            .execution_options(synchronize_session="fetch")
        )
    else:
        db.session.delete(row)
    db.session.flush()
    regenerate_ended(affected)
    return row


def key_owners(course_id: int, meeting_id: int, keys: Iterable[Key]) -> dict[Key, int]:
    """Of ``keys``, those a link of the course already points to a student with.

    The links that count are every one a meeting of the course matches by: learned
    and remembered ones, and the manual ones of meeting ``meeting_id`` itself.
    When two students hold a key (links from before this rule), the lower pk is named.
    """
    wanted = {(kind.value, value) for kind, value in keys}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(IdentityLinkRow.kind, IdentityLinkRow.value, IdentityLinkRow.student_id)
        .where(
            IdentityLinkRow.course_id == course_id,
            IdentityLinkRow.value.in_(sorted({value for _kind, value in wanted})),
            or_(
                _course_wide(course_id),
                IdentityLinkRow.meeting_id == meeting_id,
            ),
        )
        .order_by(IdentityLinkRow.student_id)
    )
    owners: dict[Key, int] = {}
    for kind, value, student_pk in rows:
        if (kind, value) in wanted:
            owners.setdefault((LinkKind(kind), value), student_pk)
    return owners


def meetings_carrying(
    course_id: int, keys: Iterable[Key], exclude: int | None = None
) -> set[int]:
    """The course's ended meetings (but ``exclude``) where someone carries one of ``keys``.

    Those are the meetings a change of these keys can change: regenerating them
    after it keeps every report true to the course's links.
    """
    by_kind: dict[LinkKind, set[str]] = defaultdict(set)
    for kind, value in keys:
        by_kind[kind].add(value)
    if not by_kind:
        return set()
    ended = select(Meeting.id).where(
        Meeting.course_id == course_id,
        or_(Meeting.end_time.is_not(None), Meeting.closed_stale_at.is_not(None)),
    )
    if exclude is not None:
        ended = ended.where(Meeting.id != exclude)
    found: set[int] = set()
    for meeting_id, name, email, zoom_user_id, registrant_id in db.session.execute(
        select(
            Participant.meeting_id,
            Participant.name,
            Participant.email,
            Participant.zoom_user_id,
            Participant.registrant_id,
        )
        .where(Participant.meeting_id.in_(ended))
        .distinct()
    ):
        if meeting_id in found:
            continue
        if (
            (zoom_user_id or "").strip() in by_kind[LinkKind.ZOOM_USER]
            or (registrant_id or "").strip() in by_kind[LinkKind.REGISTRANT]
            or normalize_email(email or "") in by_kind[LinkKind.EMAIL]
            or (
                by_kind[LinkKind.NAME]
                and normalize_name(name or "") in by_kind[LinkKind.NAME]
            )
        ):
            found.add(meeting_id)
    return found
