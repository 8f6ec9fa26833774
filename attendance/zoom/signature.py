"""Zoom webhook signatures (``x-zm-signature``) and URL-validation tokens (ZOOM.md §1)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from attendance.errors import InvalidSignature
from attendance.text import is_digits

#: A timestamp above this is taken to be in milliseconds: Zoom documents seconds,
#: but ZOOM.md marks the unit UNCONFIRMED, so both are accepted.
_MILLISECONDS_THRESHOLD = 10**11
#: More digits than any timestamp in milliseconds until the year 33658.
_MAX_DIGITS = 15


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``v0=<hex>`` signature Zoom would send for ``body`` at ``timestamp``."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def encrypt_token(secret: str, plain_token: str) -> str:
    """Answer to ``endpoint.url_validation``: hex HMAC-SHA256 of the plain token."""
    return hmac.new(
        secret.encode("utf-8"), plain_token.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def timestamp_seconds(raw: str | None) -> float:
    """Parse ``x-zm-request-timestamp`` (seconds or milliseconds) into Unix seconds.

    :raises InvalidSignature: when the header is missing or not a number.
    """
    # A real one has 10 (seconds) or 13 (milliseconds) digits; hundreds of digits
    # would overflow the float below (or int() itself, past 4,300).
    if not raw or not is_digits(raw.strip()) or len(raw.strip()) > _MAX_DIGITS:
        raise InvalidSignature("missing or malformed x-zm-request-timestamp")
    value = int(raw.strip())
    return value / 1000 if value > _MILLISECONDS_THRESHOLD else float(value)


def verify(
    secrets: Iterable[str],
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    *,
    now: float,
    max_skew: float,
) -> str:
    """Check a webhook's signature over the raw body bytes; return the secret that matched.

    Every configured secret is tried (rotation), each compared in constant time,
    and the timestamp must be within ``max_skew`` seconds of ``now``.

    :raises InvalidSignature: on a missing, stale or wrong signature.
    """
    if not signature:
        raise InvalidSignature("missing x-zm-signature")
    sent_at = timestamp_seconds(timestamp)
    if abs(now - sent_at) > max_skew:
        raise InvalidSignature("stale x-zm-request-timestamp")
    matched = None
    presented = signature.strip().encode("ascii", "replace")
    for secret in secrets:
        expected = sign(secret, timestamp.strip(), body).encode("ascii")  # type: ignore[union-attr]
        # No early exit: every secret is compared, so timing says nothing about which.
        if hmac.compare_digest(expected, presented) and matched is None:
            matched = secret
    if matched is None:
        raise InvalidSignature("signature does not match")
    return matched
