"""One student's term: their summary, their record in each ended meeting, their keys.

What a student's page and ``/api/v1/courses/<id>/students/<pk>/attendance`` show.
A few queries whatever the term's length: the summary is the course report's own
(``course_report.summaries`` for this one student, so the two never disagree), the
meetings and records come in one outer join, the keys in one more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import selectinload

from attendance.core.model import LinkSource
from attendance.extensions import db
from attendance.models import (
    AttendanceRecord,
    Course,
    IdentityLinkRow,
    Meeting,
    Student,
)
from attendance.models.meeting import MeetingStatus
from attendance.models.types import iso
from attendance.services.course_report import Summary, summaries
from attendance.services.pacing import paced


@dataclass(slots=True)
class StudentTerm:
    """A student, their term summary, and each ended meeting with their record there."""

    student: Student
    summary: Summary
    #: Every ended meeting of the course, newest first, with the student's record
    #: in it; None where they have none (off that meeting's roster, e.g. withdrawn).
    meetings: list[tuple[Meeting, AttendanceRecord | None]]


@dataclass(slots=True)
class RememberedKey:
    """An identity link of the student, and the meeting it came from, if any."""

    link: IdentityLinkRow
    #: The meeting it was learned in, or of the manual match that stored it.
    meeting: Meeting | None

    @property
    def learned(self) -> str:
        """How it was learned: ``learned_by`` (email, alias, manual), else its source."""
        if self.link.learned_by:
            return self.link.learned_by
        return "manual" if self.link.source == LinkSource.MANUAL else "learned"

    @property
    def course_wide(self) -> bool:
        """A remembered manual match: it applies to every meeting of the course."""
        return self.link.source == LinkSource.MANUAL and self.link.meeting_id is None


def course_student(course: Course, student_pk: int) -> Student | None:
    """The course's student with this primary key (None for another course's)."""
    return db.session.scalar(
        select(Student)
        .where(Student.id == student_pk, Student.course_id == course.id)
        .options(selectinload(Student.aliases))
    )


def student_term(course: Course, student: Student) -> StudentTerm:
    """The student's summary and their record (or None) in each ended meeting."""
    rows = db.session.execute(
        select(Meeting, AttendanceRecord)
        .outerjoin(
            AttendanceRecord,
            and_(
                AttendanceRecord.meeting_id == Meeting.id,
                AttendanceRecord.student_id == student.id,
            ),
        )
        .where(
            Meeting.course_id == course.id,
            Meeting.status == MeetingStatus.ENDED,
        )
        .order_by(Meeting.start_time.desc().nulls_last(), Meeting.id.desc())
    )
    meetings: list[tuple[Meeting, AttendanceRecord | None]] = [
        (meeting, record) for meeting, record in paced(rows)
    ]
    found = list(summaries(course, only=[student.id]))
    return StudentTerm(student, found[0] if found else _no_summary(student), meetings)


def _no_summary(student: Student) -> Summary:
    # Only if the course report ever leaves a student out: no figures, not an error.
    return Summary(
        student.id,
        student.student_id,
        student.first_name,
        student.last_name,
        student.email,
    )


def record_json(student: Student, record: AttendanceRecord) -> dict[str, Any]:
    """The student's Record (CONTRACT §3) in one meeting, as the meeting report gives it."""
    return {
        "student_pk": student.id,
        "student_id": student.student_id,
        "first_name": student.first_name,
        "last_name": student.last_name,
        "email": student.email,
        "status": record.effective_status,
        "late": record.late,
        "left_early": record.left_early,
        "attended_seconds": record.attended_seconds,
        "attended_percent": record.attended_percent,
        "first_join": iso(record.first_join),
        "last_leave": iso(record.last_leave),
        "sessions": record.sessions,
        "matched_by": record.matched_by,
        "source": record.source,
        "note": record.note,
    }


def remembered_keys(student: Student) -> list[RememberedKey]:
    """The course's identity links of the student, oldest first, with their meeting."""
    origin = Meeting.id == func.coalesce(
        IdentityLinkRow.match_meeting_id, IdentityLinkRow.meeting_id
    )
    rows = db.session.execute(
        select(IdentityLinkRow, Meeting)
        .outerjoin(Meeting, origin)
        .where(
            IdentityLinkRow.course_id == student.course_id,
            IdentityLinkRow.student_id == student.id,
            IdentityLinkRow.source != LinkSource.FORGOTTEN.value,
        )
        .order_by(IdentityLinkRow.created_at, IdentityLinkRow.id)
    )
    return [RememberedKey(link, meeting) for link, meeting in rows]
