"""Stands in for ``web.live`` until ``attendance/web/live.py`` (the live room) exists."""

from __future__ import annotations

from flask import redirect, url_for
from flask_login import login_required

from attendance.web.routes import bp


@bp.get("/live/<zoom_meeting_id>")
@login_required
def live(zoom_meeting_id: str):
    """The meetings list, until the live room is built."""
    return redirect(url_for("web.meetings"))
