"""The course settings' weekly class times (CONTRACT §5.9): one row per slot."""

from __future__ import annotations

from datetime import time
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, IntegerField, SelectField
from wtforms.fields import TimeField
from wtforms.validators import NumberRange, Optional

from attendance.models import Course
from attendance.services.courses import MAX_SLOTS, SLOT_MINUTES

WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)


class SlotForm(Form):
    """One weekly slot; a row left without a start is no slot.

    A plain ``wtforms.Form``: the enclosing ``ScheduleForm`` carries the CSRF token.
    """

    weekday = SelectField("Day", coerce=int, default=0)
    start = TimeField("Starts", format="%H:%M", validators=[Optional()])
    minutes = IntegerField(
        "Minutes",
        validators=[
            Optional(),
            NumberRange(*SLOT_MINUTES, message="Between %(min)s and %(max)s."),
        ],
    )
    remove = BooleanField("Remove")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set after construction, as CourseSettingsForm does its zones: wtforms
        # 3.3 deprecates (value, label) tuples passed to the field's constructor.
        self.weekday.choices = list(enumerate(WEEKDAYS))


class ScheduleForm(FlaskForm):
    """A course's weekly class times, in its time zone."""

    slots = FieldList(FormField(SlotForm), max_entries=MAX_SLOTS + 1)

    def values(self) -> list[dict[str, Any]]:
        """The rows kept, as a Course body's ``schedule`` for ``course_values``.

        A row with a start and no length keeps ``minutes`` None, which the
        service refuses with a message naming it.
        """
        kept = []
        for row in self.slots:
            if row.remove.data or row.start.data is None:
                continue
            kept.append(
                {
                    "weekday": row.weekday.data,
                    "start": row.start.data.strftime("%H:%M"),
                    "minutes": row.minutes.data,
                }
            )
        return kept


def schedule_form(course: Course) -> ScheduleForm:
    """The course's slots as a form, with one empty row to add another."""
    rows = [
        {
            "weekday": slot.weekday,
            "start": time(*divmod(slot.start_minute, 60)),
            "minutes": slot.minutes,
        }
        for slot in course.slots
    ]
    form = ScheduleForm(formdata=None, data={"slots": rows})
    form.slots.append_entry()
    return form
