"""The ``/api/v1`` request and response shapes as pydantic models (CONTRACT §3).

Each model is the one place a shape is declared: spectree validates requests and
answers with it and writes ``/api/v1/openapi.json`` from it. Request models are
strict (no "10" for 10, no 10.0 for an int) and closed (unknown fields are 422),
and their ranges are what the database can hold, so the document never promises
what the server then refuses, nor accepts what it cannot store.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

from attendance.core.status import STATUSES
from attendance.zoom.meeting_numbers import MAX_DIGITS, MIN_DIGITS

#: Integer primary keys (``Integer``: int4 on PostgreSQL).
MAX_ID = 2**31 - 1
#: Zoom meeting numbers are stored as ``BigInteger`` (int8).
MAX_BIGINT = 2**63 - 1
#: No NUL character: PostgreSQL cannot store one in text.
NO_NUL = r"^[^\x00]*$"
#: What ``str.strip`` removes, spelled out: ``\s`` differs between JSON Schema's
#: regular expressions (ECMA 262: no U+0085, no U+001C-U+001F), Python's and
#: pydantic's, so a body schemathesis calls valid was refused (a 422).
SPACE = (
    "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Something besides whitespace and no NUL.
NOT_BLANK = f"^[^\\x00]*[^\\x00{SPACE}][^\\x00]*$"


def _whole(value: Any) -> Any:
    # JSON Schema's "integer" includes 5.0 (a number with no fraction): take it as 5.
    # Anything else that is no int (2.6e-42, "5", true) stays and is refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def whole(low: int, high: int) -> Any:
    """A JSON integer from ``low`` to ``high``: 5 or 5.0, never 5.5, "5" or true."""
    return Annotated[
        Annotated[StrictInt, Field(ge=low, le=high)], BeforeValidator(_whole)
    ]


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
StrictId = whole(1, MAX_ID)
Minutes = whole(0, 600)
Percent = Annotated[StrictFloat, Field(ge=0, le=100, allow_inf_nan=False)]
#: An attendance status, as its word (a Literal: the document lists the words).
Status = Literal[tuple(s.value for s in STATUSES)]


def text(
    max_length: int | None = None, pattern: str | None = NO_NUL, **extra: Any
) -> Any:
    """A JSON string (never a number or null) of at most ``max_length`` code points."""
    return Annotated[
        str,
        StringConstraints(strict=True, max_length=max_length, pattern=pattern),
        Field(**extra),
    ]


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    # ``x: str = None`` means "may be left out", not "may be null": say only that.
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class Body(BaseModel):
    """A request body: closed (unknown fields are 422); left-out fields stay unset."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)


class Answer(BaseModel):
    """A response body: every field is always present."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Query(BaseModel):
    """Query parameters (strings, read leniently as numbers); unknown ones are 400."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)


# --------------------------------------------------------------------- errors


class ErrorDetail(Answer):
    code: str
    message: str


class Error(Answer):
    """Every error answer."""

    error: ErrorDetail


# --------------------------------------------------------------------- tokens


class TokenRequest(Body):
    email: text(254)
    password: text(1000, pattern=None, json_schema_extra={"writeOnly": True})
    name: text(100, description="A label for the token.") = "api"


class Token(Answer):
    token: str = Field(description="Shown once; stored hashed.")


class TokenInfo(Answer):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters.")
    created_at: datetime
    last_used_at: datetime | None


# -------------------------------------------------------------------- courses

#: The IANA names this server knows (a course's reports use its local time).
TimeZone = StrEnum("TimeZone", {name: name for name in sorted(available_timezones())})
#: A Zoom meeting number, 9-11 digits; spaces and dashes between them are ignored.
MeetingNumber = Annotated[
    Annotated[StrictInt, Field(ge=10 ** (MIN_DIGITS - 1), le=10**MAX_DIGITS - 1)]
    | text(40, pattern=rf"^[ -]*(?:[0-9][ -]*){{{MIN_DIGITS},{MAX_DIGITS}}}$"),
    BeforeValidator(_whole),
]


class Policy(Answer):
    """A course's status thresholds (CONTRACT §5.5)."""

    late_after_minutes: int = Field(ge=0, le=600)
    left_early_minutes: int = Field(ge=0, le=600)
    min_attendance_percent: float = Field(ge=0, le=100)


class PolicyChange(Body):
    """Any subset of the policy; whole minutes, a percent."""

    late_after_minutes: Minutes = None
    left_early_minutes: Minutes = None
    min_attendance_percent: Percent = None


class Slot(Answer):
    """A weekly class time in the course's time zone (CONTRACT §5.9)."""

    weekday: int = Field(ge=0, le=6, description="Monday 0 … Sunday 6.")
    start: str = Field(description="Local start, HH:MM.")
    minutes: int = Field(ge=1, le=720)


class SlotChange(Body):
    """A weekly class time: a weekday, a local start, a length."""

    weekday: whole(0, 6) = Field(description="Monday 0 … Sunday 6.")
    start: text(5, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$") = Field(
        description="Local start in the course's time zone, HH:MM (00:00-23:59)."
    )
    minutes: whole(1, 720) = Field(description="The class's length, 1-720.")


class CourseUpdate(Body):
    """Fields of a course to change; changing ``zoom_meeting_ids`` is for admins."""

    code: text(64, pattern=NOT_BLANK) = None
    title: text(300) = None
    timezone: TimeZone = Field(None, description="An IANA time zone.")
    zoom_meeting_ids: list[MeetingNumber] = Field(
        None,
        max_length=50,
        description="Replaces the course's meeting numbers; meetings already "
        "received for a new number join the course.",
    )
    policy: PolicyChange = None
    schedule: list[SlotChange] = Field(
        None,
        max_length=50,
        description="Replaces the weekly class times; a change recomputes the "
        "course's ended meetings (manual statuses stay).",
    )


class CourseCreate(CourseUpdate):
    """A new course (admins only)."""

    code: text(64, pattern=NOT_BLANK)


class Course(Answer):
    id: int
    code: str
    title: str
    timezone: str
    zoom_meeting_ids: list[str]
    policy: Policy
    schedule: list[Slot] = Field(description="Weekly class times; [] for none.")


# ------------------------------------------------------------------- students


def _iso_date(value: Any) -> Any:
    # A JSON string YYYY-MM-DD only: the lax date type would also take a number
    # (seconds since 1970) or a date-time at midnight.
    if not isinstance(value, str) or not re.fullmatch(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value
    ):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


#: A calendar date as JSON text, ``"2026-03-01"``.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class Student(Answer):
    """A roster student; ``id`` is the student_pk of other calls."""

    id: int
    student_id: str
    first_name: str
    last_name: str
    email: str
    department: str
    aliases: list[str]
    withdrawn_on: date | None = Field(
        description="The date, in the course's time zone, from which the student "
        "is off the roster of the course's meetings (CONTRACT §5.8); null while "
        "enrolled."
    )


#: An e-mail address as the roster takes it (a dot in the domain), or nothing.
_ROSTER_EMAIL = (
    f"^[{SPACE}]*$|^[{SPACE}]*[^{SPACE}@\\x00]+@[^{SPACE}@\\x00]+\\."
    f"[^{SPACE}@\\x00]+[{SPACE}]*$"
)


class StudentUpdate(Body):
    """Fields of a roster student to change, by the rules of the roster import.

    Changing ``withdrawn_on`` (or a field matching uses) regenerates the
    course's ended meetings; manual statuses stay. A name given is not blank
    (a roster row may leave one of the two empty; an edit keeps it so).
    """

    student_id: text(64, pattern=NOT_BLANK) = None
    first_name: text(120, pattern=NOT_BLANK) = None
    last_name: text(120, pattern=NOT_BLANK) = None
    email: text(254, pattern=_ROSTER_EMAIL) = Field(
        None, description="An e-mail address, or empty."
    )
    department: text(120) = None
    aliases: list[text(254, pattern=NOT_BLANK)] = Field(
        None, max_length=100, description="E-mails or display names; replaces them."
    )
    withdrawn_on: IsoDate | None = Field(
        None,
        description="Off the roster of the meetings that start on this date or "
        "later (the course's time zone); null: enrolled.",
    )


class StudentRow(Body):
    """A roster row, upserted by student_id.

    A row that breaks a rule (no student_id, no name, a bad e-mail, too long,
    a NUL character) is reported in the answer's ``errors``; the others are kept.
    """

    student_id: text(pattern=None) | None = None
    first_name: text(pattern=None) | None = None
    last_name: text(pattern=None) | None = None
    email: text(pattern=None) | None = None
    department: text(pattern=None) | None = None
    aliases: list[text(pattern=None)] | text(pattern=None) | None = Field(
        None, description="E-mails or display names; a string is ';'-separated."
    )
    withdrawn_on: text(pattern=None) | None = Field(
        None,
        description="YYYY-MM-DD: off the roster of the meetings that start on "
        "that date or later; empty or null: enrolled; left out: unchanged.",
    )


class StudentRows(RootModel[list[StudentRow]]):
    """Roster rows as JSON."""


class RowError(Answer):
    line: int
    message: str


class StudentImportResult(Answer):
    created: int
    updated: int
    errors: list[RowError] = Field(
        description="One entry per rejected row; the other rows are imported."
    )


# ---------------------------------------------------------------- instructors


class Instructor(Answer):
    id: int
    email: str
    name: str
    is_admin: bool
    course_ids: list[int] = Field(
        description="The courses they teach, of those the caller may see."
    )


_EMAIL = f"^[{SPACE}]*[^{SPACE}@\\x00]+@[^{SPACE}@\\x00]+[{SPACE}]*$"
Password = text(1000, pattern=None, min_length=8, json_schema_extra={"writeOnly": True})


class InstructorUpdate(Body):
    name: text(200) = None
    password: Password = None
    is_admin: StrictBool = None


class InstructorCreate(InstructorUpdate):
    email: text(254, pattern=_EMAIL)
    name: text(200)
    password: Password
    is_admin: StrictBool = False


class CourseInstructor(Body):
    instructor_id: StrictId


class OpenApiDocument(RootModel[dict[str, Any]]):
    """OpenAPI 3.1."""
