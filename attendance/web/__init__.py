"""The dashboard's pages (server-rendered)."""

from attendance.web.routes import bp

__all__ = ["bp"]
