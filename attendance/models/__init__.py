"""SQLAlchemy models, one module per aggregate; imported here so metadata is complete."""

from attendance.models.attendance import (
    AttendanceRecord,
    MeetingGuest,
    MeetingRecording,
)
from attendance.models.connection import ConnectionStatus, ZoomConnection
from attendance.models.course import (
    Course,
    CourseMeetingNumber,
    CourseSlot,
    IdentityLinkRow,
    Student,
    StudentAlias,
)
from attendance.models.event_log import EventStatus, WebhookEvent
from attendance.models.instructor import (
    ApiToken,
    Instructor,
    LoginFailure,
    course_instructors,
)
from attendance.models.jobs import (
    Job,
    JobRun,
    JobStatus,
    ReconcileState,
    Reconciliation,
    ReportRowRecord,
)
from attendance.models.meeting import Meeting, MeetingStatus
from attendance.models.participant import (
    Participant,
    ParticipantEvent,
    ParticipantSession,
)

__all__ = [
    "ApiToken",
    "AttendanceRecord",
    "Course",
    "CourseMeetingNumber",
    "ConnectionStatus",
    "CourseSlot",
    "EventStatus",
    "IdentityLinkRow",
    "Instructor",
    "Job",
    "JobRun",
    "JobStatus",
    "LoginFailure",
    "Meeting",
    "MeetingGuest",
    "MeetingRecording",
    "MeetingStatus",
    "Participant",
    "ParticipantEvent",
    "ParticipantSession",
    "ReconcileState",
    "Reconciliation",
    "ReportRowRecord",
    "Student",
    "StudentAlias",
    "WebhookEvent",
    "ZoomConnection",
    "course_instructors",
]
