"""SQLAlchemy models, one module per aggregate; imported here so metadata is complete."""

from attendance.models.event_log import EventStatus, WebhookEvent
from attendance.models.meeting import Meeting, MeetingStatus

__all__ = ["EventStatus", "Meeting", "MeetingStatus", "WebhookEvent"]
