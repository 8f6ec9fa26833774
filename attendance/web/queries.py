"""What the pages show, read in a few queries each: cards, charts, lists, the event log."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from attendance.core.compute import compute_meeting
from attendance.core.status import STATUSES, Status, attendance_rate
from attendance.extensions import db
from attendance.models import (
    AttendanceRecord,
    Course,
    EventStatus,
    Instructor,
    Meeting,
    ParticipantSession,
    Student,
    WebhookEvent,
)
from attendance.models.meeting import MeetingStatus
from attendance.models.types import to_micros, utcnow
from attendance.services.course_report import (
    COUNTED,
    course_zone,
    ended_meetings,
    meeting_labels,
)
from attendance.services.meeting_inputs import load_inputs
from attendance.services.pacing import offload, paced

#: Rows of a page of the event log or the meetings list.
PER_PAGE = 50
#: The timeline draws at most this many people (a lecture hall is still readable).
TIMELINE_ROWS = 400

_effective = func.coalesce(AttendanceRecord.manual_status, AttendanceRecord.status)
#: How the meeting lists are ordered: live ones first, then newest first.
_LIVE_FIRST = (
    case((Meeting.status == MeetingStatus.LIVE, 0), else_=1),
    Meeting.start_time.desc().nulls_last(),
    Meeting.id.desc(),
)


@dataclass
class CourseCard:
    """A course on the home page, with its term at a glance."""

    course: Course
    students: int = 0
    meetings_held: int = 0
    last_meeting_at: datetime | None = None
    live: list[Meeting] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return attendance_rate(self.counts)


def course_cards(courses: Sequence[Course]) -> list[CourseCard]:
    """One card per course: roster size, meetings held, last one, live ones, rate.

    Meetings held and the rate are the term's figures: classes, and the
    unscheduled instances an instructor chose to count (§5.9).
    """
    cards = {c.id: CourseCard(c) for c in courses}
    if not cards:
        return []
    ids = list(cards)
    for course_id, count in db.session.execute(
        select(Student.course_id, func.count(Student.id))
        .where(Student.course_id.in_(ids))
        .group_by(Student.course_id)
    ):
        cards[course_id].students = count
    for course_id, count, last in db.session.execute(
        select(Meeting.course_id, func.count(Meeting.id), func.max(Meeting.start_time))
        .where(
            Meeting.course_id.in_(ids), Meeting.status == MeetingStatus.ENDED, COUNTED
        )
        .group_by(Meeting.course_id)
    ):
        cards[course_id].meetings_held = count
        cards[course_id].last_meeting_at = last
    for meeting in db.session.scalars(
        select(Meeting)
        .where(Meeting.course_id.in_(ids), Meeting.status == MeetingStatus.LIVE)
        .order_by(Meeting.start_time.desc())
    ):
        cards[meeting.course_id].live.append(meeting)
    for course_id, status, count in db.session.execute(
        select(Meeting.course_id, _effective, func.count(AttendanceRecord.id))
        .join(AttendanceRecord, AttendanceRecord.meeting_id == Meeting.id)
        .where(
            Meeting.course_id.in_(ids), Meeting.status == MeetingStatus.ENDED, COUNTED
        )
        .group_by(Meeting.course_id, _effective)
    ):
        cards[course_id].counts[status] = count
    return [cards[c.id] for c in courses]


def course_chart(course: Course) -> dict[str, Any]:
    """Per ended meeting, oldest first: a label and the count of each status."""
    meetings = ended_meetings(course)
    index = {m.id: i for i, m in enumerate(meetings)}
    series = {s: [0] * len(meetings) for s in STATUSES}
    if meetings:
        for meeting_id, status, count in db.session.execute(
            select(
                AttendanceRecord.meeting_id, _effective, func.count(AttendanceRecord.id)
            )
            .where(AttendanceRecord.meeting_id.in_(list(index)))
            .group_by(AttendanceRecord.meeting_id, _effective)
        ):
            if status in series:
                series[status][index[meeting_id]] = count
    # A list, not a mapping: tojson sorts keys, and the legend follows STATUSES.
    return {
        "labels": meeting_labels(meetings, course_zone(course)),
        "meetingIds": [m.id for m in meetings],
        "series": [{"status": s, "counts": series[s]} for s in STATUSES],
    }


def term_counts(chart: Mapping[str, Any]) -> dict[str, int]:
    """The chart's counts summed over the term, per status."""
    return {s["status"]: sum(s["counts"]) for s in chart["series"]}


@dataclass
class Page:
    """A page of a longer list."""

    items: list[Any]
    number: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.per_page)


def _page(query: Any, count_query: Any, number: int, per_page: int = PER_PAGE) -> Page:
    total = db.session.scalar(count_query) or 0
    pages = max(1, math.ceil(total / per_page))
    number = min(max(1, number), pages)
    items = list(
        db.session.execute(query.limit(per_page).offset((number - 1) * per_page))
    )
    return Page(items=items, number=number, total=total, per_page=per_page)


def page_of(items: Sequence[Any], number: int, per_page: int = PER_PAGE) -> Page:
    """Page ``number`` (clamped to the pages there are) of a list already in memory."""
    pages = max(1, math.ceil(len(items) / per_page))
    number = min(max(1, number), pages)
    start = (number - 1) * per_page
    return Page(
        items=list(items[start : start + per_page]),
        number=number,
        total=len(items),
        per_page=per_page,
    )


def meetings_page(visible: Any, course_id: int | None, number: int) -> Page:
    """(Meeting, Course) rows of the visible courses: live first, then newest first."""
    where = [Meeting.course_id.in_(visible)]
    if course_id is not None:
        where.append(Meeting.course_id == course_id)
    query = (
        select(Meeting, Course)
        .join(Course, Course.id == Meeting.course_id)
        .where(*where)
        .order_by(*_LIVE_FIRST)
    )
    count = select(func.count(Meeting.id)).where(*where)
    return _page(query, count, number)


def course_meetings(course: Course, limit: int = 20) -> list[Meeting]:
    """The course's latest meetings, live ones first."""
    return list(
        db.session.scalars(
            select(Meeting)
            .where(Meeting.course_id == course.id)
            .order_by(*_LIVE_FIRST)
            .limit(limit)
        )
    )


def roster_page(course: Course, number: int, per_page: int = PER_PAGE) -> Page:
    """A page of the course's students by name, aliases loaded."""
    query = (
        select(Student)
        .where(Student.course_id == course.id)
        .options(selectinload(Student.aliases))
        .order_by(Student.last_name, Student.first_name, Student.student_id, Student.id)
    )
    count = select(func.count(Student.id)).where(Student.course_id == course.id)
    page = _page(query, count, number, per_page)
    page.items = [row[0] for row in page.items]
    return page


def status_counts(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many records have each status (every status present, zeros included)."""
    counts = dict.fromkeys(STATUSES, 0)
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


#: Timelines of ended meetings, by what they are drawn from (see ``timeline``).
_TIMELINES: dict[tuple[Any, ...], dict[str, Any]] = {}
#: Ended meetings' timelines kept; reports are read again and again while graded.
TIMELINES_KEPT = 64


def timeline(meeting: Meeting, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Every person's sessions as minutes from the start: one row per person.

    Intervals come from the participant session table (main room and breakout
    rooms), clipped to the meeting's [S, E]; open ones close at E (now while
    live). Connections are grouped into persons as attendance counts them.

    An ended meeting's timeline is kept until its events, its generated
    attendance (roster, matches) or a student's status or name change: a
    report reloaded by three dashboards cost a second of CPU per load.
    """
    if meeting.effective_end is None:
        return _timeline(meeting, records)
    key = (
        meeting.id,
        meeting.events_version,
        meeting.attendance_generated_at,
        hash(
            tuple(
                (r["student_pk"], r["status"], r["first_name"], r["last_name"])
                for r in records
            )
        ),
    )
    found = _TIMELINES.get(key)
    if found is None:
        found = _TIMELINES[key] = _timeline(meeting, records)
        while len(_TIMELINES) > TIMELINES_KEPT:
            del _TIMELINES[next(iter(_TIMELINES))]  # the oldest: insertion order
    return found


def _timeline(meeting: Meeting, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    # Persons only (no records needed), computed off the event loop: it is pure
    # work on the plain data load_inputs read, a second and more for a big class.
    inputs = load_inputs(meeting)
    result = offload(
        compute_meeting,
        inputs.facts,
        inputs.connections,
        inputs.roster,
        inputs.links,
        inputs.policy,
        utcnow(),
        persons_only=True,
    )
    if result.start is None or result.end is None or result.end <= result.start:
        return {"minutes": 0, "rows": [], "truncated": 0}
    start_us, end_us = to_micros(result.start), to_micros(result.end)
    spans: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for pid, kind, s, e in paced(
        db.session.execute(
            select(
                ParticipantSession.participant_id,
                ParticipantSession.kind,
                ParticipantSession.start_us,
                ParticipantSession.end_us,
            ).where(ParticipantSession.meeting_id == meeting.id)
        )
    ):
        s, e = max(s, start_us), min(end_us if e is None else e, end_us)
        if e > s:
            spans[pid].append((kind, s, e))
    status = {r["student_pk"]: r["status"] for r in records}
    names = {
        r["student_pk"]: f"{r['first_name']} {r['last_name']}".strip() for r in records
    }
    rows = []
    for person in result.persons:
        intervals = sorted(
            (s, e, kind) for pk in person.connection_pks for kind, s, e in spans[pk]
        )
        if not intervals:
            continue
        if person.is_host:
            group, label = "Host", person.name or "Host"
        elif person.student_pk is not None:
            group = status.get(person.student_pk, Status.PRESENT)
            label = names.get(person.student_pk) or person.name
        else:
            group, label = "Guest", person.name
        rows.append(
            {
                "label": label or "(no name)",
                "group": group,
                "spans": [
                    [
                        round((s - start_us) / 60e6, 2),
                        round((e - start_us) / 60e6, 2),
                        kind,
                    ]
                    for s, e, kind in intervals
                ],
            }
        )
    rows.sort(key=lambda r: (r["spans"][0][0], r["label"].casefold()))
    seen: dict[str, int] = defaultdict(int)
    for row in rows:
        seen[row["label"]] += 1
        if seen[row["label"]] > 1:
            row["label"] = f"{row['label']} ({seen[row['label']]})"
    truncated = max(0, len(rows) - TIMELINE_ROWS)
    return {
        "minutes": round((end_us - start_us) / 60e6, 2),
        "startIso": result.start.isoformat(),
        "rows": rows[:TIMELINE_ROWS],
        "truncated": truncated,
    }


@dataclass
class EventLog:
    """A filtered page of the webhook event log, and what the filters can offer."""

    page: Page
    counts: dict[str, int]
    names: list[str]


def event_log(status: str | None, name: str | None, number: int) -> EventLog:
    """The event log newest first, filtered by status and event name."""
    where = []
    if status:
        where.append(WebhookEvent.status == status)
    if name:
        where.append(WebhookEvent.event == name)
    query = (
        select(WebhookEvent)
        .where(*where)
        .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
    )
    count = select(func.count(WebhookEvent.id)).where(*where)
    page = _page(query, count, number)
    page.items = [row[0] for row in page.items]
    counts = dict.fromkeys((s.value for s in EventStatus), 0)
    for value, n in db.session.execute(
        select(WebhookEvent.status, func.count(WebhookEvent.id)).group_by(
            WebhookEvent.status
        )
    ):
        counts[value] = n
    names = list(
        db.session.scalars(
            select(WebhookEvent.event).distinct().order_by(WebhookEvent.event)
        )
    )
    return EventLog(page=page, counts=counts, names=names)


def instructors() -> list[Instructor]:
    """Every instructor by e-mail, with their courses loaded."""
    return list(
        db.session.scalars(
            select(Instructor)
            .options(selectinload(Instructor.courses))
            .order_by(Instructor.email)
        )
    )


def all_courses() -> list[Course]:
    """Every course by code (the admins' assignment form offers them all)."""
    return list(db.session.scalars(select(Course).order_by(Course.code)))
