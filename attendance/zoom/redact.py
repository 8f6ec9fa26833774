"""Redacting the secrets Zoom puts in webhook bodies before they are kept.

``recording.completed`` carries a ``download_token`` (a bearer credential for the
meeting's recordings), and download URLs may carry ``?access_token=``. The event
log keeps bodies for weeks and shows them to admins; nothing here needs the
tokens, so they are replaced before the body is stored. The rest of the body is
kept byte for byte: the log shows what Zoom sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: What a redacted value becomes.
REDACTED = "[redacted]"

#: ``"download_token": "<JSON string>"`` anywhere in the document.
_DOWNLOAD_TOKEN = re.compile(r'("download_token"\s*:\s*)"(?:[^"\\]|\\.)*"')
#: ``access_token=<value>`` in a URL inside a JSON string: the value ends at ``&``
#: (or its escape ``\u0026``), ``#``, a quote, or whitespace.
_ACCESS_TOKEN = re.compile(
    r"(access_token=)(?:[^&#\"\\\s]|\\(?!u0026)(?:u[0-9A-Fa-f]{4}|[^u]))*",
    re.IGNORECASE,
)
_ACCESS_TOKEN_PLAIN = re.compile(r"(access_token=)[^&#\s]*", re.IGNORECASE)


def redact_body(text: str) -> str:
    """Replace ``download_token`` values and ``access_token=`` URL values with ``[redacted]``.

    Textual replacement keeps the body byte-identical elsewhere. Keys or values
    spelled with JSON escapes (``"download\\u005ftoken"``) or tokens that are not
    strings escape the text patterns: such a body is checked as parsed JSON, and
    re-serialized with the tokens replaced if one survived. Text that is not JSON
    gets the text patterns only.
    """
    if "token" not in text.lower() and "\\u" not in text:
        return text  # the common case: no token can be spelled here
    redacted = _DOWNLOAD_TOKEN.sub(rf'\1"{REDACTED}"', text)
    redacted = _ACCESS_TOKEN.sub(rf"\1{REDACTED}", redacted)
    try:
        data = json.loads(redacted)
    except (ValueError, RecursionError):
        return redacted
    cleaned, changed = _redact_value(data)
    if not changed:
        return redacted
    # ASCII escapes: a lone surrogate in the body (``\ud800``, valid JSON) would
    # otherwise come out as a character no database can store.
    return json.dumps(cleaned, separators=(",", ":"))


def _redact_value(value: Any) -> tuple[Any, bool]:
    """Redact a parsed document; return it and whether a token was still in it.

    Walks with an explicit stack, so a deep document cannot overflow the
    interpreter's recursion limit.
    """
    changed = False
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            pairs = list(item.items())
        elif isinstance(item, list):
            pairs = list(enumerate(item))
        else:
            continue
        for key, child in pairs:
            if key == "download_token" and isinstance(item, dict):
                if child != REDACTED:
                    item[key] = REDACTED
                    changed = True
            elif isinstance(child, str):
                # A value the text pass redacted comes out unchanged.
                clean = _ACCESS_TOKEN_PLAIN.sub(rf"\1{REDACTED}", child)
                if clean != child:
                    item[key] = clean
                    changed = True
            elif isinstance(child, dict | list):
                stack.append(child)
    return value, changed
