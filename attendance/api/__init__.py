"""The REST API, ``/api/v1`` (CONTRACT §3): one module per resource, on one blueprint."""

# The import order is the order of the routes, and so of the OpenAPI document's tags.
# isort: off
from attendance.api import tokens  # noqa: F401  (each adds its routes to bp)
from attendance.api import courses  # noqa: F401
from attendance.api import students  # noqa: F401
from attendance.api import course_attendance  # noqa: F401
from attendance.api import meetings  # noqa: F401
from attendance.api import reconciliation  # noqa: F401
from attendance.api import accounts  # noqa: F401
from attendance.api import student_attendance  # noqa: F401
from attendance.api import links  # noqa: F401
from attendance.api import connections  # noqa: F401

# isort: on
from attendance.api.blueprint import bp

__all__ = ["bp"]
