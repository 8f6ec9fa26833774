"""Instructor corrections: a manual status, and a manual match of a participant (§5.7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from attendance.core.matching import is_specific_name, normalize_email, normalize_name
from attendance.core.model import LinkKind, LinkSource, MatchedBy, Person
from attendance.core.status import MANUAL_STATUSES
from attendance.errors import Conflict, NotFound, ValidationFailed
from attendance.extensions import db
from attendance.models import AttendanceRecord, IdentityLinkRow, Meeting, Participant
from attendance.models import Student as StudentRow
from attendance.models.types import utcnow
from attendance.services.generation import compute, generate, regenerate_ended
from attendance.services.links import Key, key_owners, meetings_carrying
from attendance.services.meeting_inputs import meeting_roster

#: The longest value a link stores.
_VALUE_LENGTH = 300


@dataclass(frozen=True, slots=True)
class Refused:
    """A key a match did not store: it points to another student already."""

    kind: LinkKind
    value: str
    student_pk: int


@dataclass(slots=True)
class MatchOutcome:
    """What a match stored for later meetings, and what it refused to."""

    remembered: list[Key] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def override_status(
    meeting: Meeting, student_pk: int, status: str | None, note: str | None, by: str
) -> AttendanceRecord:
    """Set (or with ``status=None`` clear) a manual status; it survives every regeneration.

    :raises NotFound: when the student has no record in this meeting.
    :raises ValidationFailed: when the status is not one of MANUAL_STATUSES.
    """
    if status is not None and status not in MANUAL_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(MANUAL_STATUSES)}")
    record = db.session.scalar(
        select(AttendanceRecord).where(
            AttendanceRecord.meeting_id == meeting.id,
            AttendanceRecord.student_id == student_pk,
        )
    )
    if record is None:
        raise NotFound("no attendance record for that student in this meeting")
    record.manual_status = status
    record.note = note
    record.overridden_by = by
    record.overridden_at = utcnow()
    return record


def person_keys(person: Person) -> list[Key]:
    """Every key a person carries: Zoom user ids, registrant ids, e-mail, display name."""
    keys: list[Key] = [(LinkKind.ZOOM_USER, v) for v in person.zoom_user_ids]
    keys += [(LinkKind.REGISTRANT, v) for v in person.registrant_ids]
    keys.append((LinkKind.EMAIL, normalize_email(person.email)))
    keys.append((LinkKind.NAME, normalize_name(person.name)))
    return [(kind, value[:_VALUE_LENGTH]) for kind, value in keys if value]


def rememberable(kind: LinkKind, value: str) -> bool:
    """Whether a key may be remembered course-wide: any id or e-mail, a specific name."""
    return kind is not LinkKind.NAME or is_specific_name(value)


def match_participant(
    meeting: Meeting, participant_pk: int, student_pk: int, remember: bool, by: str
) -> MatchOutcome:
    """Assign the person of ``participant_pk`` to a student, as a ``manual`` match.

    The person's keys become manual links to the student. With ``remember``, its
    ids, e-mail and *specific* name are the course's (later meetings match by
    them); the rest, and everything without ``remember``, serve this meeting
    alone, where a display name is used only when the person has no other key.
    A key that already points to another student is stored nowhere. A match of
    the same person made earlier in this meeting is replaced. The meeting, and
    every ended meeting of the course the change can affect, is regenerated.

    :raises NotFound: when the participant or the student is not of this meeting.
    :raises Conflict: for the host or a co-host, a student withdrawn before the
        meeting (§5.8), or when every key of the person points to another student.
    """
    student = db.session.get(StudentRow, student_pk)
    if student is None or student.course_id != meeting.course_id:
        raise NotFound("no such student in this meeting's course")
    person = _person_of(meeting, participant_pk)
    if person is None:
        raise NotFound("no such participant in this meeting")
    if all(s.pk != student.id for s in meeting_roster(meeting)):
        raise Conflict(
            f"{student.first_name} {student.last_name} withdrew on "
            f"{student.withdrawn_on}, before this meeting: they are not on its roster"
        )
    if person.is_host or person.role == "co-host":
        who = "the meeting's host" if person.is_host else "a co-host"
        raise Conflict(
            f"{person.name or 'this participant'} is {who}: "
            "hosts and co-hosts cannot be matched to a student"
        )
    affected = _forget(meeting, _match_rows(meeting, person.connection_pks))
    keys = person_keys(person)
    owners = key_owners(meeting.course_id, meeting.id, keys)
    outcome = MatchOutcome()
    free: list[Key] = []
    for kind, value in keys:
        owner = owners.get((kind, value))
        if owner is not None and owner != student.id:
            outcome.refused.append(Refused(kind, value, owner))
        else:
            free.append((kind, value))
    if remember:
        outcome.remembered = [k for k in free if rememberable(*k)]
    here = [k for k in free if k not in outcome.remembered]
    if outcome.remembered or any(kind is not LinkKind.NAME for kind, _ in here):
        # A display name is the weakest key: with a stronger one, it only
        # risks matching someone else of the same name in this meeting.
        here = [k for k in here if k[0] is not LinkKind.NAME]
    if not outcome.remembered and not here:
        raise Conflict(_nothing_to_match_by(outcome.refused))
    for kind, value in outcome.remembered:
        _store(meeting, participant_pk, student.id, kind, value, None, by)
    for kind, value in here:
        _store(meeting, participant_pk, student.id, kind, value, meeting.id, by)
    db.session.flush()
    affected |= meetings_carrying(meeting.course_id, outcome.remembered, meeting.id)
    _regenerate(meeting, affected)
    return outcome


def _nothing_to_match_by(refused: list[Refused]) -> str:
    if not refused:
        return "this participant has no name, e-mail or id to match by"
    taken = ", ".join(f"{r.kind.value} {r.value!r}" for r in refused)
    return (
        f"every key of this participant already points to another student ({taken}): "
        "undo that match, or delete the key from the course's remembered keys, first"
    )


def _store(
    meeting: Meeting,
    participant_pk: int,
    student_pk: int,
    kind: LinkKind,
    value: str,
    scope: int | None,
    by: str,
) -> None:
    """Add one manual link of this match (course-wide when ``scope`` is None).

    A link the student has already (an earlier match's) stays that match's.
    """
    held = db.session.scalar(
        select(IdentityLinkRow.id).where(
            IdentityLinkRow.course_id == meeting.course_id,
            IdentityLinkRow.student_id == student_pk,
            IdentityLinkRow.source == LinkSource.MANUAL.value,
            IdentityLinkRow.kind == kind.value,
            IdentityLinkRow.value == value,
            IdentityLinkRow.meeting_id.is_(None)
            if scope is None
            else IdentityLinkRow.meeting_id == scope,
        )
    )
    if held is not None:
        return
    db.session.add(
        IdentityLinkRow(
            course_id=meeting.course_id,
            student_id=student_pk,
            kind=kind.value,
            value=value,
            source=LinkSource.MANUAL.value,
            meeting_id=scope,
            learned_by=MatchedBy.MANUAL.value,
            match_meeting_id=meeting.id,
            match_participant_id=participant_pk,
            created_by=by,
        )
    )


def undo_match(meeting: Meeting, participant_pk: int) -> None:
    """Take back the manual match of a participant in this meeting (§5.7).

    Removes every key that match stored, for this meeting and for the course,
    then regenerates this meeting and the course's ended meetings that carry
    them: the person is a guest again unless another step matches them.

    :raises NotFound: when that participant has no manual match in this meeting.
    """
    rows = _match_rows(meeting, [participant_pk])
    if not rows:
        person = _person_of(meeting, participant_pk)
        if person is not None:
            rows = _match_rows(meeting, person.connection_pks)
    if not rows:
        raise NotFound("that participant has no manual match in this meeting")
    _regenerate(meeting, _forget(meeting, rows))


def meeting_matches(meeting: Meeting) -> dict[int, list[tuple[int, str]]]:
    """The manual matches made in this meeting: student pk -> [(participant pk, name)]."""
    rows = db.session.execute(
        select(IdentityLinkRow.student_id, Participant.id, Participant.name)
        .join(Participant, Participant.id == IdentityLinkRow.match_participant_id)
        .where(
            IdentityLinkRow.course_id == meeting.course_id,
            IdentityLinkRow.match_meeting_id == meeting.id,
            IdentityLinkRow.source == LinkSource.MANUAL.value,
        )
        .distinct()
        .order_by(Participant.id)
    )
    found: dict[int, list[tuple[int, str]]] = {}
    for student_pk, pk, name in rows:
        found.setdefault(student_pk, []).append((pk, name or ""))
    return found


def _person_of(meeting: Meeting, participant_pk: int) -> Person | None:
    """The person one of whose connections is ``participant_pk``, as computed now."""
    return next(
        (p for p in compute(meeting).persons if participant_pk in p.connection_pks),
        None,
    )


def _match_rows(
    meeting: Meeting, participant_pks: Iterable[int]
) -> list[IdentityLinkRow]:
    """The links stored by the manual matches of these participants in this meeting."""
    return list(
        db.session.scalars(
            select(IdentityLinkRow).where(
                IdentityLinkRow.course_id == meeting.course_id,
                IdentityLinkRow.source == LinkSource.MANUAL.value,
                IdentityLinkRow.match_meeting_id == meeting.id,
                IdentityLinkRow.match_participant_id.in_(sorted(participant_pks)),
            )
        )
    )


def _forget(meeting: Meeting, rows: list[IdentityLinkRow]) -> set[int]:
    """Delete a match's links; return the other ended meetings their keys can change."""
    wide = [(LinkKind(r.kind), r.value) for r in rows if r.meeting_id is None]
    affected: set[int] = set()
    if wide and meeting.course_id is not None:
        affected = meetings_carrying(meeting.course_id, wide, meeting.id)
    for row in rows:
        db.session.delete(row)
    db.session.flush()
    return affected


def _regenerate(meeting: Meeting, others: set[int]) -> None:
    """Regenerate this meeting (if it ended) and the other ``others`` (manual statuses stay)."""
    if meeting.effective_end is not None:
        generate(meeting)
    regenerate_ended(others - {meeting.id})
