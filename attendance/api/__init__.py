"""The REST API, ``/api/v1`` (CONTRACT §3)."""

from attendance.api.routes import bp

__all__ = ["bp"]
