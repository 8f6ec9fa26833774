"""Dashboard forms (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

import functools
import re
from typing import Any
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from attendance.services.accounts import MIN_PASSWORD_LENGTH
from attendance.services.courses import POLICY_LIMITS

_NUMBER_SEPARATORS = re.compile(r"[,;\n]+")


@functools.cache
def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA zone this system knows, UTC first (read once: it walks the tz database)."""
    zones = sorted(z for z in available_timezones() if "/" in z and z != "Etc/UTC")
    return [("UTC", "UTC"), *((z, z.replace("_", " ")) for z in zones)]


def meeting_numbers(text: str | None) -> list[str]:
    """Meeting numbers typed one per line or separated by commas ("847 1263 9219" is one)."""
    return [n.strip() for n in _NUMBER_SEPARATORS.split(text or "") if n.strip()]


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in")


class ActionForm(FlaskForm):
    """A button that changes something (revoke, replay, remove): only the CSRF token."""


class _CourseFields(FlaskForm):
    title = StringField("Title", validators=[Length(max=300)])
    timezone = SelectField("Time zone", default="UTC", validate_choice=False)
    meeting_numbers = TextAreaField(
        "Zoom meeting numbers",
        description="One per line or comma-separated, e.g. 847 1263 9219",
        validators=[Length(max=2000)],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class CourseCreateForm(_CourseFields):
    """A new course (admins): code, title, time zone and meeting numbers."""

    code = StringField("Course code", validators=[DataRequired(), Length(max=64)])

    def values(self) -> dict[str, Any]:
        """The form as a Course body for ``services.courses.course_values``."""
        return {
            "code": self.code.data or "",
            "title": self.title.data or "",
            "timezone": self.timezone.data or "UTC",
            "zoom_meeting_ids": meeting_numbers(self.meeting_numbers.data),
        }


def _limit(key: str) -> NumberRange:
    low, high = POLICY_LIMITS[key]
    return NumberRange(min=low, max=high, message=f"Between {low} and {high}.")


class CourseSettingsForm(_CourseFields):
    """A course's title, time zone, meeting numbers and attendance policy."""

    late_after_minutes = IntegerField(
        "Late after (minutes)",
        validators=[InputRequired(message="Required."), _limit("late_after_minutes")],
        description="Joining later than this after the start counts as Late.",
    )
    left_early_minutes = IntegerField(
        "Left early (minutes)",
        validators=[InputRequired(message="Required."), _limit("left_early_minutes")],
        description="Leaving more than this before the end counts as Left Early.",
    )
    min_attendance_percent = FloatField(
        "Minimum attendance (%)",
        validators=[
            InputRequired(message="Required."),
            _limit("min_attendance_percent"),
        ],
        description="Attending less of the meeting than this counts as Absent.",
    )

    def values(self) -> dict[str, Any]:
        """The form as a Course body for ``services.courses.course_values``."""
        return {
            "title": self.title.data or "",
            "timezone": self.timezone.data or "UTC",
            "zoom_meeting_ids": meeting_numbers(self.meeting_numbers.data),
            "policy": {
                "late_after_minutes": self.late_after_minutes.data,
                "left_early_minutes": self.left_early_minutes.data,
                "min_attendance_percent": self.min_attendance_percent.data,
            },
        }


class RosterUploadForm(FlaskForm):
    """A roster CSV: student_id, first_name, last_name, email[, department][, aliases]."""

    file = FileField("Roster CSV", validators=[FileRequired("Choose a CSV file.")])


class WithdrawalForm(FlaskForm):
    """A student's withdrawal date (CONTRACT §5.8); empty: enrolled again."""

    withdrawn_on = DateField(
        "Withdrawn on",
        validators=[Optional()],
        description="Off the roster of meetings from this date (course time zone).",
    )


class TokenForm(FlaskForm):
    """A new API token, named so the owner can tell it apart later."""

    name = StringField(
        "Name",
        validators=[DataRequired(message="Give the token a name."), Length(max=100)],
        description="What will use it, e.g. “grading script”.",
    )


class InstructorForm(FlaskForm):
    """A new instructor account (admins)."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    password = PasswordField(
        "Password",
        # The length rule itself is the service's (create_instructor): one place.
        validators=[DataRequired(), Length(max=1000)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    is_admin = BooleanField("Administrator (sees every course, manages accounts)")


class AssignForm(FlaskForm):
    """Let an instructor teach a course (admins)."""

    instructor = SelectField("Instructor", coerce=int, validators=[DataRequired()])
    course = SelectField("Course", coerce=int, validators=[DataRequired()])


def sentence(exc: Exception) -> str:
    """A service message as a sentence for the page ("A course X exists already.").

    Only the first letter is raised: ``str.capitalize`` would lower the rest,
    names the user typed included.
    """
    text = str(exc).strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
