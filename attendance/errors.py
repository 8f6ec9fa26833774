"""Every exception the application raises on purpose, in one place."""

from __future__ import annotations


class AttendanceError(Exception):
    """Base of the application's own errors."""


class InvalidSignature(AttendanceError):
    """A webhook whose signature or timestamp does not verify (answered 401)."""


class BadPayload(AttendanceError):
    """A verified webhook body that is not an event (answered 400)."""


class MalformedJSON(AttendanceError):
    """A body that is not JSON within the bounds ``attendance.jsonbody`` enforces (400)."""


class StorageUnavailable(AttendanceError):
    """An event could not be committed to the event log (answered 503)."""


class UnstorableEvent(AttendanceError):
    """The database refused an event's values (not its availability): retrying fails too."""


class NotFound(AttendanceError):
    """The object does not exist, or the caller may not see it (answered 404)."""


class ValidationFailed(AttendanceError):
    """Input that is well-formed but not acceptable (answered 422)."""


class InvalidCredentials(AttendanceError):
    """Wrong e-mail or password (answered 401)."""


class RateLimited(AttendanceError):
    """Too many failed sign-ins for this account or address (answered 429)."""


class Conflict(ValidationFailed):
    """Acceptable on its own but clashing with what exists, e.g. a taken e-mail (409)."""
