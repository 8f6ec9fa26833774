"""Bounded readers of Zoom's webhook fields: every value from outside is checked where it is read.

Numbers are range-checked for the columns that keep them, identifiers are kept
whole or refused, free text is made storable and clipped, times must lie in a
window ``datetime`` arithmetic survives. ``zoom.events`` builds typed events
with these; a value they refuse raises ``BadPayload``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from attendance.errors import BadPayload
from attendance.text import is_digits

#: The largest integer a BIGINT column (``event_ts``, the meeting number) holds.
INT64_MAX = 2**63 - 1
#: The largest an INTEGER column (the meeting ``type``) holds.
INT32_MAX = 2**31 - 1
#: Times Zoom can send lie in this window. Outside it ``datetime`` arithmetic
#: further on (local time for a page, a window around a meeting) can overflow,
#: and year 0 or 99999 is no meeting's time anyway.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
#: ``event_ts`` is Unix milliseconds; the same window.
EVENT_TS_MAX = (LATEST - EARLIEST) // timedelta(milliseconds=1)

#: A lone surrogate (what the JSON escape ``\ud800`` decodes to) cannot be encoded
#: as UTF-8, and PostgreSQL refuses NUL in text: neither may reach a column.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def as_text(value: Any) -> str:
    """Zoom sends absent ids as "" and sometimes numbers for ids; normalize to text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float | str):
        return str(value).strip()
    return ""


def as_ident(value: Any, what: str, limit: int) -> str:
    """An identifier as text, whole or not at all: a clipped or cleaned id would be another's.

    :raises BadPayload: when it is longer than ``limit`` (the column that keeps it)
        or holds a NUL or a lone surrogate.
    """
    text = as_text(value)
    if len(text) > limit:
        raise BadPayload(f"{what} is longer than {limit} characters")
    if UNSTORABLE.search(text):
        raise BadPayload(f"{what} holds a NUL or an unpaired surrogate")
    return text


def as_label(value: Any, limit: int) -> str:
    """Free text (a name, a topic) made storable, as it is shown rather than matched.

    NULs are dropped, lone surrogates become U+FFFD and the text is clipped to
    ``limit`` (the column that keeps it).
    """
    text = as_text(value)
    if UNSTORABLE.search(text):
        text = UNSTORABLE.sub(
            lambda m: "" if m.group() == "\x00" else "\ufffd", text
        ).strip()
    return text[:limit]


def whole_number(value: Any) -> int | None:
    """An integer sent as a JSON number or as a string of ASCII digits, else None.

    Booleans are ints to Python but not numbers to Zoom; a float counts only when
    it is integral (``84712639219.0``), never NaN or infinity; a string has no
    sign (``"--5"``, ``"-5"``) and at most 20 digits, past any int64, so ``int()``
    never sees a huge one.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if is_digits(text) and len(text) <= 20:
            return int(text)
    return None


def meeting_number(value: Any) -> int | None:
    """The meeting number: a string in meeting events, a number in ``recording.*``.

    :raises BadPayload: unless it is a whole number from 1 to the largest int64.
    """
    if value is None or value == "":
        return None
    number = whole_number(value)
    if number is None or not 1 <= number <= INT64_MAX:
        raise BadPayload(f"meeting id {show(value)} is not a meeting number")
    return number


def event_ts_ms(value: Any) -> int | None:
    """``event_ts``: Unix milliseconds inside the window Zoom's times lie in.

    :raises BadPayload: on anything else that is present.
    """
    if value is None or value == "":
        return None
    number = whole_number(value)
    if number is None or not 0 < number < EVENT_TS_MAX:
        raise BadPayload(f"event_ts {show(value)} is not a time in milliseconds")
    return number


def show(value: Any) -> str:
    """A value for an error message: short, and storable in the log's error column."""
    return as_label(repr(value), 60)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as sent by Zoom (``2021-07-13T21:44:51Z``) as aware UTC.

    :raises BadPayload: on a value that is not a time.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadPayload(f"time {show(value)} is not a string")
    text = value.strip()
    # fromisoformat reads a C string: it stops at a NUL and takes what came before.
    if not (text.isascii() and text.isprintable()) or len(text) > 64:
        raise BadPayload(f"time {show(value)} is not ISO 8601")
    try:
        parsed = datetime.fromisoformat(text)
        # An offset such as +23:59 near year 1 or 9999 leaves datetime's range.
        parsed = (
            parsed.replace(tzinfo=UTC)
            if parsed.tzinfo is None
            else parsed.astimezone(UTC)
        )
    except (ValueError, OverflowError) as exc:
        raise BadPayload(f"time {show(value)} is not ISO 8601") from exc
    if not EARLIEST <= parsed < LATEST:
        raise BadPayload(f"time {show(value)} is outside {EARLIEST.year}-{LATEST.year}")
    return parsed


def small_int(value: Any, limit: int) -> int | None:
    """An informational count or code from 0 to ``limit``; None when absent or not one."""
    number = whole_number(value)
    return number if number is not None and 0 <= number <= limit else None


def flag(value: Any) -> bool | None:
    """A seed-era on/off field: booleans, or strings like "on"/"off"/"true"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        return value.strip().lower() in {"on", "true", "1", "yes", "started", "unmuted"}
    return None


def as_dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{what} must be an object")
    return value
