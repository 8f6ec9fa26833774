"""Zoom meeting numbers as people type them (CONTRACT §2, §3)."""

from __future__ import annotations

import pytest

from attendance.zoom.meeting_numbers import meeting_number_digits


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("84712639219", "84712639219"),
        ("847 1263 9219", "84712639219"),
        ("123456789", "123456789"),
        ("012345678", "012345678"),
        ("12345678", None),  # 8 digits
        ("123456789012", None),  # 12
        ("847-1263-9219", None),  # dashes are the course forms' business
        ("8471263921²", None),  # not ASCII: int() refuses it
        ("", None),
        ("   ", None),
    ],
)
def test_meeting_number_digits_takes_9_to_11_digits_and_spaces(
    text: str, digits: str | None
) -> None:
    assert meeting_number_digits(text) == digits
