"""JSON from outside, parsed with bounds: depth and size are checked, any failure is one error.

Python's ``json`` has no depth limit of its own: a body of ten thousand ``[``
raises ``RecursionError`` (a 500 where it was not caught), and a merely deep
document can still overflow whatever walks it later (validation, ``jsonify``).
"""

from __future__ import annotations

from typing import Any

from attendance.errors import MalformedJSON

#: Deeper than any Zoom payload (about 5) or API body (3) needs, shallow enough
#: for every recursive walker after it.
MAX_DEPTH = 32


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` as JSON nested at most ``max_depth`` levels.

    :raises MalformedJSON: on anything that is not such a document (bad UTF-8,
        bad syntax, too deep, numbers the parser cannot hold).
    """
    import json

    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise MalformedJSON("JSON is nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        # ValueError covers JSONDecodeError and int-string conversion limits.
        raise MalformedJSON("body is not valid JSON") from exc
    if depth_exceeds(value, max_depth):
        raise MalformedJSON(f"JSON is nested deeper than {max_depth} levels")
    return value


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether containers in ``value`` nest deeper than ``max_depth`` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, dict | list)
        )
    return False
