"""Every exception the application raises on purpose, and the body that answers it.

Each error users can cause carries its answer: ``status`` and ``code``. The app
registers one handler per class (``app_setup.register_errorhandlers``), so a view
raises and never builds an error answer itself; the webhook front, which answers
outside Flask's request cycle, builds the same body with :func:`error_body`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def error_body(code: str, message: str) -> dict[str, Any]:
    """Every JSON error answer's body (CONTRACT §3): ``{"error": {"code", "message"}}``."""
    return {"error": {"code": code, "message": message}}


class AttendanceError(Exception):
    """Base of the application's own errors."""

    #: The HTTP status that answers it.
    status: int = 500
    #: The ``code`` of its error body.
    code: str = "internal_error"

    @property
    def message(self) -> str:
        """The ``message`` of its error body: the exception's own text."""
        return str(self)


class ApiError(AttendanceError):
    """An answer no class below names, with its own status and code (a 403, a CSV's 400)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class InvalidSignature(AttendanceError):
    """A webhook whose signature or timestamp does not verify (answered 401)."""

    status, code = 401, "invalid_signature"


class BadPayload(AttendanceError):
    """A verified webhook body that is not an event (answered 400)."""

    status, code = 400, "bad_request"


class MalformedJSON(AttendanceError):
    """A body that is not JSON within the bounds ``attendance.jsonbody`` enforces (400)."""

    status, code = 400, "bad_request"


class StorageUnavailable(AttendanceError):
    """An event could not be committed to the event log (answered 503, so Zoom retries)."""

    status, code = 503, "unavailable"

    @property
    def message(self) -> str:
        """The same for every cause: the driver's text is for the log, not the caller."""
        return "event could not be stored; retry later"


class UnstorableEvent(AttendanceError):
    """The database refused an event's values (not its availability): retrying fails too.

    Never answered as such: the intake keeps the event as failed instead.
    """


class NotFound(AttendanceError):
    """The object does not exist, or the caller may not see it (answered 404)."""

    status, code = 404, "not_found"


class ValidationFailed(AttendanceError):
    """Input that is well-formed but not acceptable (answered 422)."""

    status, code = 422, "invalid"


class InvalidCredentials(AttendanceError):
    """Wrong e-mail or password (answered 401)."""

    status, code = 401, "invalid_credentials"


class RateLimited(AttendanceError):
    """Too many failed sign-ins for this account or address (answered 429)."""

    status, code = 429, "rate_limited"


class Conflict(ValidationFailed):
    """Acceptable on its own but clashing with what exists, e.g. a taken e-mail (409)."""

    status, code = 409, "conflict"


class ZoomError(AttendanceError):
    """Zoom's REST API could not give what was asked: never a caller's fault, never answered.

    Raised by ``attendance.zoom.rest`` for a job to record, retry or defer.
    """

    status, code = 502, "zoom_error"


class ZoomUnavailable(ZoomError):
    """Zoom could not be reached, or did not answer within the client's timeout."""


class ZoomApiError(ZoomError):
    """Zoom answered an error: its HTTP status, its own ``code`` (None when absent), its message."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"Zoom answered {status}: {message}")
        #: The HTTP status Zoom answered (``status`` is the class's own answer).
        self.http_status = status
        #: Zoom's error ``code`` from the body, e.g. 3001 or 124.
        self.zoom_code = code
        self.zoom_message = message


class ZoomNotFound(ZoomApiError):
    """Zoom has no such meeting or report (404, or its code 3001)."""


class ZoomAuthError(ZoomApiError):
    """Zoom refused the credentials: the token request, or a fresh token on a second 401."""


class ZoomRateLimited(ZoomError):
    """Zoom's limit is reached until ``reset_at`` (aware UTC): defer the job, never sleep on it."""

    def __init__(self, reset_at: datetime, kind: str) -> None:
        super().__init__(f"Zoom rate limit ({kind}) until {reset_at.isoformat()}")
        #: When Zoom accepts calls again.
        self.reset_at = reset_at
        #: ``daily`` or ``qps`` (a short limit that outlasted the client's waits).
        self.kind = kind


#: The errors answered with their own status and body; any other exception is a
#: bug, answered 500 (``UnstorableEvent`` never leaves the intake).
ANSWERED: tuple[type[AttendanceError], ...] = (
    ApiError,
    InvalidSignature,
    BadPayload,
    MalformedJSON,
    StorageUnavailable,
    NotFound,
    ValidationFailed,
    Conflict,
    InvalidCredentials,
    RateLimited,
)
