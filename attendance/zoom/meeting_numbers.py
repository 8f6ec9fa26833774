"""Zoom meeting numbers as people type them: 9 to 11 digits, spaces between them ignored."""

from __future__ import annotations

from attendance.text import is_digits

#: How many digits a Zoom meeting number has, at least and at most.
MIN_DIGITS = 9
MAX_DIGITS = 11


def meeting_number_digits(text: str) -> str | None:
    """The digits of the meeting number ``text`` spells ("847 1263 9219" too), else None.

    The digits, not an int: a page hands them on as they were typed (a leading
    zero included) for the browser to ask its live room by.
    """
    digits = text.replace(" ", "")
    if not is_digits(digits) or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return None
    return digits
