"""The dashboard's pages (server-rendered), one module per area, all on blueprint ``web``."""

from __future__ import annotations

from attendance.web import (  # noqa: F401 - routes
    admin,
    connections,
    courses,
    links,
    live,
    meetings,
    student,
    tokens,
)
from attendance.web.routes import bp

__all__ = ["bp"]
