"""The dashboard's pages (server-rendered), one module per area, all on blueprint ``web``."""

from __future__ import annotations

from importlib.util import find_spec

from attendance.web import admin, courses, meetings, tokens  # noqa: F401 - routes
from attendance.web.routes import bp

# The live room (web.live) is its own module, written alongside these pages. Until
# it exists a placeholder keeps base.html's links to it building.
if find_spec("attendance.web.live") is not None:
    from attendance.web import live  # noqa: F401 - routes
else:
    from attendance.web import live_placeholder  # noqa: F401 - routes

__all__ = ["bp"]
