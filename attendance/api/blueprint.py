"""The ``/api/v1`` blueprint, its ``<id:…>`` path converter and the OpenAPI document's route.

The resource modules (``tokens``, ``courses``, ``students``, ``course_attendance``,
``meetings``, ``accounts``, ``links``, ``student_attendance``) add their routes to
``bp``; ``attendance.api`` imports them in that order, which is the order of the
document's tags.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.routing import IntegerConverter, Map

from attendance.api import schemas as s
from attendance.api.openapi import document, endpoint


def _numbers_up_to(n: int) -> str:
    """A regex of the decimal numbers 1..n written without leading zeros."""
    digits = str(n)
    parts = [rf"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(map(int, digits)):
        low, rest = (1 if i == 0 else 0), len(digits) - i - 1
        if digit > low:
            span = f"[{low}-{digit - 1}]" if digit - 1 > low else str(low)
            parts.append(digits[:i] + span + (rf"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class IdConverter(IntegerConverter):
    """``<id:name>``: a database id, 1 to ``MAX_ID``.

    The range is in the regex itself: werkzeug's ``int(max=…)`` refuses a large
    value only after the path matched, and then answers 405 for methods other than
    the first rule's; a value the regex does not match is a plain 404.
    """

    regex = _numbers_up_to(s.MAX_ID)

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=s.MAX_ID)


bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.record_once(lambda state: state.app.url_map.converters.setdefault("id", IdConverter))

#: A path id (``IdConverter``).
ID = "id"


@bp.get("/openapi.json")
@endpoint("meta", (200, s.OpenApiDocument, "OpenAPI 3.1."), public=True)
def openapi_json():
    """This document (no login needed)."""
    return jsonify(document())
