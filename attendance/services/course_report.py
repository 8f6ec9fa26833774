"""A course's attendance over the term: one summary per student, JSON or CSV.

Everything is read in one pass over (student, record) rows ordered by student,
so the CSV streams a student at a time and memory stays flat however long the
term is; the wide layout holds one row of statuses at a time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, groupby
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, join, or_, select

from attendance.core.status import ATTENDED, COUNT_KEYS, attendance_rate
from attendance.extensions import db
from attendance.models import AttendanceRecord, Course, Meeting, Student
from attendance.models.meeting import MeetingStatus
from attendance.services.pacing import paced
from attendance.services.reports import csv_cell, minutes

SUMMARY_COLUMNS = (
    "student_id",
    "last_name",
    "first_name",
    "email",
    "meetings",
    *COUNT_KEYS.values(),
    "attended_minutes",
    "attendance_rate",
    "last_attended",
)
STUDENT_COLUMNS = SUMMARY_COLUMNS[:4]
LAYOUTS = ("summary", "wide")
#: Rows fetched per round trip while streaming.
_CHUNK = 1000
#: An instance in the term figures (§5.9): a scheduled class (never placed yet
#: counts too: a course without a schedule), or one an instructor chose to count.
COUNTED = or_(
    Meeting.scheduled.is_(None),
    Meeting.scheduled.is_(True),
    Meeting.counts_override.is_(True),
)


@dataclass(slots=True)
class Summary:
    """One student's term: counts per status, time attended, rate, last attended."""

    student_pk: int
    student_id: str
    first_name: str
    last_name: str
    email: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    attended_seconds: int = 0
    last_attended: date | None = None
    #: meeting id -> effective status (filled for the wide layout only).
    statuses: dict[int, str] = field(default_factory=dict)

    @property
    def meetings(self) -> int:
        return sum(self.counts.values())

    @property
    def attendance_rate(self) -> float | None:
        """Percent of the meetings that count (all but Excused) attended, one decimal."""
        return attendance_rate(self.counts)

    def as_json(self) -> dict[str, Any]:
        return {
            "student_pk": self.student_pk,
            "student_id": self.student_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "meetings": self.meetings,
            **{key: self.counts[status] for status, key in COUNT_KEYS.items()},
            "attended_seconds": self.attended_seconds,
            "attended_minutes": float(minutes(self.attended_seconds)),
            "attendance_rate": self.attendance_rate,
            "last_attended": self.last_attended.isoformat()
            if self.last_attended
            else None,
        }

    def summary_row(self) -> list[Any]:
        row = self.as_json()
        row["attended_minutes"] = minutes(self.attended_seconds)
        return [row[c] for c in SUMMARY_COLUMNS]


def course_zone(course: Course) -> ZoneInfo:
    """The course's time zone (UTC when the stored name is unknown to this system)."""
    try:
        return ZoneInfo(course.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def ended_meetings(course: Course) -> list[Meeting]:
    """The course's ended meetings that count, oldest first: the term so far."""
    return list(
        db.session.scalars(
            select(Meeting)
            .where(
                Meeting.course_id == course.id,
                Meeting.status == MeetingStatus.ENDED,
                COUNTED,
            )
            .order_by(Meeting.start_time, Meeting.id)
        )
    )


def summaries(
    course: Course,
    *,
    with_statuses: bool = False,
    only: Collection[int] | None = None,
) -> Iterator[Summary]:
    """Each roster student's summary, by name, one at a time (a streamed query).

    ``only``: the students (primary keys) to summarize, say a page of them.
    """
    zone = course_zone(course)
    ended = select(Meeting.id, Meeting.start_time).where(
        Meeting.course_id == course.id,
        Meeting.status == MeetingStatus.ENDED,
        COUNTED,
    )
    ended_sq = ended.subquery()
    status = func.coalesce(AttendanceRecord.manual_status, AttendanceRecord.status)
    # The students asked for are picked inside the join too: else the database joins
    # every record of the term first and keeps a few (a student of a 2,000-student,
    # 45-meeting term: 60 ms, not 0.5 ms).
    picked = [] if only is None else [AttendanceRecord.student_id.in_(list(only))]
    query = (
        select(
            Student.id,
            Student.student_id,
            Student.first_name,
            Student.last_name,
            Student.email,
            AttendanceRecord.meeting_id,
            status,
            AttendanceRecord.attended_seconds,
            ended_sq.c.start_time,
        )
        .select_from(Student)
        .outerjoin(
            join(
                AttendanceRecord,
                ended_sq,
                and_(ended_sq.c.id == AttendanceRecord.meeting_id, *picked),
            ),
            AttendanceRecord.student_id == Student.id,
        )
        .where(
            Student.course_id == course.id,
            *([] if only is None else [Student.id.in_(list(only))]),
        )
        .order_by(Student.last_name, Student.first_name, Student.student_id, Student.id)
        .execution_options(yield_per=_CHUNK)
    )
    rows = db.session.execute(query)
    # Paced: a 2,000-student term is seconds of work that must not hold the loop.
    for _pk, group in paced(groupby(rows, key=lambda r: r[0]), every=100):
        yield _summarize(group, zone, with_statuses)


def _summarize(rows: Iterable[Any], zone: ZoneInfo, with_statuses: bool) -> Summary:
    """One student's rows (never none: the outer join gives at least one) as a Summary."""
    rows = iter(rows)
    first = next(rows)
    summary = Summary(*first[:5])
    for *_student, meeting_id, status, seconds, start in chain([first], rows):
        if meeting_id is None:
            continue
        if status in summary.counts:
            summary.counts[status] += 1
        summary.attended_seconds += seconds or 0
        if with_statuses:
            summary.statuses[meeting_id] = status
        if status in ATTENDED and start is not None:
            day = start.astimezone(zone).date()
            if summary.last_attended is None or day > summary.last_attended:
                summary.last_attended = day
    return summary


def meeting_labels(meetings: list[Meeting], zone: ZoneInfo) -> list[str]:
    """A column title per meeting: its local date, plus the time where a date repeats."""
    local = [m.start_time.astimezone(zone) if m.start_time else None for m in meetings]
    days = [
        t.date().isoformat() if t else f"meeting {m.id}"
        for t, m in zip(local, meetings, strict=True)
    ]
    repeated = {d for d in days if days.count(d) > 1}
    return [
        f"{d} {t:%H:%M}" if d in repeated and t else d
        for d, t in zip(days, local, strict=True)
    ]


def course_attendance_csv(course: Course, layout: str = "summary") -> Iterator[str]:
    """The course CSV, a line at a time: ``summary`` or ``wide`` (one column per meeting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: Iterable[Any]) -> str:
        writer.writerow([csv_cell(c) for c in cells])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    if layout == "wide":
        meetings = ended_meetings(course)
        ids = [m.id for m in meetings]
        yield line([*STUDENT_COLUMNS, *meeting_labels(meetings, course_zone(course))])
        for s in summaries(course, with_statuses=True):
            cells = [s.student_id, s.last_name, s.first_name, s.email]
            yield line([*cells, *(s.statuses.get(i) for i in ids)])
        return
    yield line(SUMMARY_COLUMNS)
    for s in summaries(course):
        yield line(s.summary_row())
