"""``/api/v1/meetings/<id>/reconcile`` and ``…/reconciliation`` (CONTRACT §6).

Reconciling calls Zoom, so it never runs on the request's path: POST queues the
job (202) and the answer says where to look.
"""

from __future__ import annotations

from flask import jsonify

from attendance.api import reconcile_schemas as r
from attendance.api.blueprint import ID, bp
from attendance.api.meetings import meeting_or_404
from attendance.api.openapi import endpoint
from attendance.auth import api_login_required
from attendance.extensions import db
from attendance.services.jobs import wake
from attendance.services.reconciliation import state_json
from attendance.services.zoom_jobs import request_reconcile

_MEETING_404 = (404, "No such meeting, or not one of the caller's.")


@bp.post(f"/meetings/<{ID}:meeting_id>/reconcile")
@api_login_required
@endpoint(
    "meetings",
    (202, r.ReconcileQueued, "Queued: GET the reconciliation to follow it."),
    errors=[
        _MEETING_404,
        (
            409,
            "The meeting is live, its connection has no API credentials, or it "
            "was reconciled less than a minute ago.",
        ),
    ],
)
def reconcile_meeting(meeting_id: int):
    """Compare the meeting with Zoom's participant report now, in the background."""
    meeting = meeting_or_404(meeting_id)
    job = request_reconcile(meeting)
    job_id = job.id
    db.session.commit()
    wake()
    response = jsonify({"status": "pending", "job_id": job_id})
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/meetings/{meeting_id}/reconciliation"
    return response


@bp.get(f"/meetings/<{ID}:meeting_id>/reconciliation")
@api_login_required
@endpoint(
    "meetings",
    (200, r.Reconciliation, "The reconciliation's state and what it changed."),
    errors=[_MEETING_404],
)
def meeting_reconciliation(meeting_id: int):
    """Whether the meeting was reconciled with Zoom's report, and what that changed."""
    meeting = meeting_or_404(meeting_id)
    return jsonify(state_json(meeting.id))
