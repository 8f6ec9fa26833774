"""The ``/api/zoom`` blueprint: the webhook endpoint and health."""

from attendance.webhooks.routes import bp

__all__ = ["bp"]
