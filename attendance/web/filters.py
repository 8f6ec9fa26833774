"""Jinja filters of the dashboard: local times, durations and percentages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint

from attendance.text import is_digits
from attendance.zoom.meeting_numbers import MIN_DIGITS


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(
    value: datetime | str | None, zone: str | None = None, fmt: str = "datetime"
) -> str:
    """An aware UTC time (or ISO text) in the course's zone, as ``fmt`` says.

    ``datetime`` "23 Nov 2026, 10:00", ``date`` "Mon 23 Nov 2026", ``day``
    "23 Nov 2026", ``time`` "10:00".
    """
    if not value:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    at = value.astimezone(_zone(zone))
    if fmt == "date":
        return f"{at:%a %d %b %Y}"
    if fmt == "day":
        return f"{at:%d %b %Y}"
    if fmt == "time":
        return f"{at:%H:%M}"
    return f"{at:%d %b %Y, %H:%M}"


def duration(seconds: float | None) -> str:
    """``1 h 05 min``, ``45 min``, ``30 s``; a dash for nothing."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def percent(value: float | None) -> str:
    """``87.5%``, ``100%``; a dash when there is nothing to divide."""
    if value is None:
        return "—"
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text}%"


def zoom_number(value: int | str | None) -> str:
    """A meeting number grouped as Zoom shows it: ``847 1263 9219``."""
    digits = str(value or "")
    if not is_digits(digits) or len(digits) < MIN_DIGITS:
        return digits
    return f"{digits[:3]} {digits[3:-4]} {digits[-4:]}"


def status_class(status: str | None) -> str:
    """The CSS modifier of a status pill: ``Left Early`` -> ``left-early``."""
    return (status or "none").lower().replace(" ", "-")


def register(bp: Blueprint) -> None:
    """Make the filters available to every template."""
    bp.add_app_template_filter(local, "local")
    bp.add_app_template_filter(duration, "duration")
    bp.add_app_template_filter(percent, "percent")
    bp.add_app_template_filter(status_class, "status_class")
    bp.add_app_template_filter(zoom_number, "zoom_number")
