"""The REST API, ``/api/v1`` (CONTRACT §3)."""

from attendance.api import accounts  # noqa: F401  (registers its routes on bp)
from attendance.api.routes import bp

__all__ = ["bp"]
