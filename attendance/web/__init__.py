"""The dashboard's pages (server-rendered), one module per area, all on blueprint ``web``."""

from __future__ import annotations

from attendance.web import admin, courses, live, meetings, student, tokens  # noqa: F401 - routes
from attendance.web.routes import bp

__all__ = ["bp"]
