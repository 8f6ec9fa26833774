"""In-process signals (blinker, as Flask uses): services announce, realtime listens.

Services never import the realtime layer; they send a signal and whoever cares
(the Socket.IO layer) connects to it.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Sent with ``instructor_id=<int>`` (keyword) after a change that can take away
#: what an instructor may see: a token revoked, admin rights removed, a course
#: unassigned or deleted, the instructor deleted, a password changed, a sign-out.
#: Receivers re-check that instructor's live connections.
access_changed = _signals.signal("access-changed")
