"""Instructor corrections: a manual status, and a manual match of a participant."""

from __future__ import annotations

from sqlalchemy import delete, select

from attendance.core.matching import normalize_name
from attendance.core.model import LinkKind, LinkSource
from attendance.core.status import MANUAL_STATUSES
from attendance.errors import NotFound, ValidationFailed
from attendance.extensions import db
from attendance.models import AttendanceRecord, IdentityLinkRow, Meeting
from attendance.models import Student as StudentRow
from attendance.models.types import utcnow
from attendance.services.generation import compute, generate


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


def match_participant(
    meeting: Meeting, participant_pk: int, student_pk: int, remember: bool, by: str
) -> None:
    """Assign the person of ``participant_pk`` to a student, as a ``manual`` match.

    The person's display name, Zoom user ids and registrant ids become manual
    links: for the whole course with ``remember`` (later meetings match by
    themselves), else for this meeting only. The meeting is regenerated.

    :raises NotFound: when the participant or the student is not of this meeting.
    """
    student = db.session.get(StudentRow, student_pk)
    if student is None or student.course_id != meeting.course_id:
        raise NotFound("no such student in this meeting's course")
    person = next(
        (p for p in compute(meeting).persons if participant_pk in p.connection_pks),
        None,
    )
    if person is None:
        raise NotFound("no such participant in this meeting")
    values = [(LinkKind.NAME, normalize_name(person.name))]
    values += [(LinkKind.ZOOM_USER, v) for v in person.zoom_user_ids]
    values += [(LinkKind.REGISTRANT, v) for v in person.registrant_ids]
    scope = None if remember else meeting.id
    for kind, value in values:
        if not value:
            continue
        db.session.execute(
            delete(IdentityLinkRow).where(
                IdentityLinkRow.course_id == meeting.course_id,
                IdentityLinkRow.source == LinkSource.MANUAL.value,
                IdentityLinkRow.kind == kind.value,
                IdentityLinkRow.value == value,
                IdentityLinkRow.meeting_id.is_(None)
                if scope is None
                else IdentityLinkRow.meeting_id == scope,
            )
        )
        db.session.add(
            IdentityLinkRow(
                course_id=meeting.course_id,
                student_id=student.id,
                kind=kind.value,
                value=value[:300],
                source=LinkSource.MANUAL.value,
                meeting_id=scope,
                created_by=by,
            )
        )
    db.session.flush()
    if meeting.effective_end is not None:
        generate(meeting)
