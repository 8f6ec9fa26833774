"""The ``/api/v1`` shapes of meetings and attendance (CONTRACT §3): meetings, records,
guests, matches and remembered keys, a course's term and a student's.

The shared types and rules (strict request models, closed bodies, ranges the
database can hold) are in ``attendance.api.schemas``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool

from attendance.api.schemas import (
    MAX_BIGINT,
    Answer,
    Body,
    Course,
    Id,
    Query,
    Status,
    StrictId,
    Student,
    text,
)

# ------------------------------------------------------------------- meetings


class Meeting(Answer):
    id: int
    uuid: str
    zoom_meeting_id: str | None
    topic: str
    course_id: int | None
    status: Literal["live", "ended"]
    start_time: datetime | None
    end_time: datetime | None
    participant_count: int
    scheduled: bool = Field(
        description="A class of one of the course's weekly slots (every instance "
        "of a course without a schedule is)."
    )
    counts: bool = Field(
        description="In the course's term figures: scheduled, or chosen to count."
    )
    window_start: datetime | None = Field(
        description="S' of the scheduled window, else the start S."
    )
    window_end: datetime | None = Field(
        description="E' of the scheduled window, else the end E; null while live."
    )


class MeetingUpdate(Body):
    """An unscheduled instance counted in the term figures, or not."""

    counts: StrictBool


class MeetingFilter(Query):
    course_id: Id = Field(None, description="Only this course's meetings.")
    zoom_meeting_id: Annotated[int, Field(ge=1, le=MAX_BIGINT)] = Field(
        None, description="Only runs of this Zoom meeting number."
    )
    uuid: text(255) = Field(None, description="Only the run with this Zoom uuid.")
    status: Literal["live", "ended"] = Field(None, description="Live or ended.")


class Record(Answer):
    """A roster student's attendance in one meeting."""

    student_pk: int
    student_id: str
    first_name: str
    last_name: str
    email: str
    status: Status
    late: bool
    left_early: bool
    attended_seconds: int
    attended_percent: float
    first_join: datetime | None
    last_leave: datetime | None
    sessions: int
    matched_by: Literal["email", "alias", "zoom_user", "name", "manual"] | None
    source: Literal["auto", "manual"]
    note: str | None


class Guest(Answer):
    """A participant matched to no roster student."""

    participant_pk: int
    name: str
    email: str
    attended_seconds: int
    first_join: datetime | None
    last_leave: datetime | None
    sessions: int
    role: Literal["guest", "co-host"]


class MeetingAttendance(Answer):
    meeting: Meeting
    records: list[Record]
    guests: list[Guest]


class AttendanceOverride(Body):
    status: Status | None = Field(
        description="A manual status, kept across recomputation; null drops it."
    )
    note: text(2000) | None = None


class GuestMatch(Body):
    student_id: StrictId = Field(description="The student's id (student_pk).")
    remember: StrictBool = Field(
        False,
        description="Keep the match so later meetings of the course make it "
        "by themselves.",
    )


LinkKindName = Literal["zoom_user", "registrant", "email", "name"]


class MatchedKey(Answer):
    """A key a match remembered for the course (CONTRACT §5.7)."""

    kind: LinkKindName
    value: str = Field(
        description="Ids as Zoom gave them; e-mails and names normalized."
    )


class RefusedKey(Answer):
    """A key a match did not store: it points to another student already."""

    kind: LinkKindName
    value: str
    student_pk: int = Field(description="The student the key points to.")


class MatchResult(Answer):
    record: Record | None
    guests: list[Guest]
    remembered: list[MatchedKey] = Field(
        description="The keys remembered for later meetings of the course: ids, "
        "the e-mail, and the display name only when it is specific."
    )
    refused: list[RefusedKey] = Field(
        description="Keys not stored because they point to another student."
    )


class RememberedKey(Answer):
    """One of a course's remembered keys (CONTRACT §3, §5.7)."""

    id: int
    student_pk: int
    kind: LinkKindName
    value: str
    learned: Literal["manual", "email", "alias"] = Field(
        description="A manual match remembered it, or a match by e-mail or alias "
        "taught it (the Zoom account's users sync included: by the student's e-mail)."
    )
    created_at: datetime
    meeting_id: int | None = Field(
        description="The meeting it was learned in, or of the match that made it."
    )


# ----------------------------------------------------------- course attendance


class StudentSummary(Answer):
    """A student's attendance over the course's ended meetings."""

    student_pk: int
    student_id: str
    first_name: str
    last_name: str
    email: str
    meetings: int
    present: int
    late: int
    left_early: int
    absent: int
    excused: int
    attended_seconds: int
    attended_minutes: float
    attendance_rate: float | None = Field(
        ge=0, le=100, description="Percent, one decimal; null without meetings."
    )
    last_attended: date | None


class CourseAttendance(Answer):
    course: Course
    meetings: list[Meeting] = Field(description="The ended meetings, oldest first.")
    students: list[StudentSummary]


class StudentMeeting(Answer):
    meeting: Meeting
    record: Record | None = Field(
        description="The student's record; null when they were not on this "
        "meeting's roster (e.g. withdrawn before it)."
    )


class StudentAttendance(Answer):
    """One student's term."""

    student: Student
    summary: StudentSummary = Field(
        description="The same figures as the student's row of the course's summary."
    )
    meetings: list[StudentMeeting] = Field(
        description="Every ended meeting of the course, newest first."
    )


class CsvLayout(Query):
    layout: Literal["summary", "wide"] = Field(
        "summary",
        description="One row per student with totals, or one column per meeting.",
    )
