"""Headers every answer carries: the app's (``app_setup``) and the webhook front's alike."""

from __future__ import annotations

#: No inline script or style anywhere: a display name that slips through escaping
#: still cannot run. ``connect-src 'self'`` covers Socket.IO's same-origin websocket.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


#: On every answer, the app's and the webhook front's (``webhooks.front``) alike.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)
