"""``/api/v1/meetings``: meetings of the caller's courses, their attendance and its corrections."""

from __future__ import annotations

from flask import Response, jsonify, stream_with_context
from flask_login import current_user
from sqlalchemy import select

from attendance.api import attendance_schemas as a
from attendance.api.blueprint import ID, bp
from attendance.api.course_attendance import CSV_NOTE
from attendance.api.openapi import endpoint
from attendance.auth import api_login_required
from attendance.errors import ApiError, NotFound
from attendance.extensions import db
from attendance.models import Course, Meeting
from attendance.services.corrections import (
    match_participant,
    override_status,
    undo_match,
)
from attendance.services.courses import set_counts, visible_courses, visible_meeting
from attendance.services.live import participant_counts
from attendance.services.reports import attendance, attendance_csv, meeting_json

_MEETING_404 = (404, "No such meeting, or not one of the caller's.")
_MEETING_CSV = (
    "student_id,last_name,first_name,email,status,late,left_early,attended_minutes,"
    "attended_percent,first_join,last_leave,sessions,matched_by,source,note\r\n"
)


def meeting_or_404(meeting_id: int) -> Meeting:
    """A meeting of one of the caller's courses.

    :raises NotFound: otherwise.
    """
    meeting = visible_meeting(current_user, meeting_id)
    if meeting is None:
        raise NotFound("no such meeting")
    return meeting


@bp.get("/meetings")
@api_login_required
@endpoint(
    "meetings",
    (200, list[a.Meeting], "The meetings."),
    query=a.MeetingFilter,
    bad_request=400,
)
def list_meetings(query: a.MeetingFilter):
    """Meetings of the caller's courses, newest first."""
    visible = visible_courses(current_user).with_only_columns(Course.id)
    statement = select(Meeting).where(Meeting.course_id.in_(visible))
    if query.course_id is not None:
        statement = statement.where(Meeting.course_id == query.course_id)
    if query.zoom_meeting_id is not None:
        statement = statement.where(Meeting.zoom_meeting_id == query.zoom_meeting_id)
    if query.uuid is not None:
        statement = statement.where(Meeting.uuid == query.uuid)
    if query.status is not None:
        statement = statement.where(Meeting.status == query.status)
    meetings = db.session.scalars(
        statement.order_by(Meeting.start_time.desc(), Meeting.id.desc())
    ).all()
    counts = participant_counts(meetings)
    return jsonify([meeting_json(m, counts[m.id]) for m in meetings])


@bp.patch(f"/meetings/<{ID}:meeting_id>")
@api_login_required
@endpoint(
    "meetings",
    (200, a.Meeting, "The meeting."),
    json=a.MeetingUpdate,
    errors=[
        _MEETING_404,
        (409, "The meeting is a scheduled class: it always counts."),
    ],
)
def update_meeting(meeting_id: int, json: a.MeetingUpdate):
    """Count an unscheduled meeting in its course's term figures, or not (§5.9)."""
    meeting = meeting_or_404(meeting_id)
    set_counts(meeting, json.counts)
    db.session.commit()
    return jsonify(meeting_json(meeting, participant_counts([meeting])[meeting.id]))


@bp.get(f"/meetings/<{ID}:meeting_id>/attendance")
@api_login_required
@endpoint(
    "meetings",
    (200, a.MeetingAttendance, "The attendance."),
    errors=[_MEETING_404],
)
def meeting_attendance(meeting_id: int):
    """A meeting's attendance (computed on the fly while it is live)."""
    meeting = meeting_or_404(meeting_id)
    records, guests = attendance(meeting)
    count = participant_counts([meeting])[meeting.id]
    return jsonify(
        {"meeting": meeting_json(meeting, count), "records": records, "guests": guests}
    )


@bp.get(f"/meetings/<{ID}:meeting_id>/attendance.csv")
@api_login_required
@endpoint(
    "meetings",
    200,
    errors=[_MEETING_404],
    csv=(
        "One row per roster student, then one per guest (empty student_id, the "
        "display name in last_name, status Guest). Times are ISO 8601 UTC. " + CSV_NOTE,
        _MEETING_CSV,
    ),
)
def meeting_attendance_csv(meeting_id: int):
    """A meeting's attendance as CSV."""
    meeting = meeting_or_404(meeting_id)
    name = f"attendance-{meeting.zoom_meeting_id or meeting.id}-{meeting.id}.csv"
    return Response(
        stream_with_context(attendance_csv(meeting)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.patch(f"/meetings/<{ID}:meeting_id>/attendance/<{ID}:student_pk>")
@api_login_required
@endpoint(
    "meetings",
    (200, a.Record, "The student's record."),
    json=a.AttendanceOverride,
    errors=[
        (404, "No such meeting, or the student is not on its roster."),
        (409, "The meeting is still live."),
    ],
)
def override_attendance(meeting_id: int, student_pk: int, json: a.AttendanceOverride):
    """Set (or, with null, drop) a student's manual status and note.

    The manual status is kept across every regeneration.
    """
    meeting = meeting_or_404(meeting_id)
    if meeting.effective_end is None:
        raise ApiError(
            409, "live", "the meeting is live: attendance is generated when it ends"
        )
    override_status(meeting, student_pk, json.status, json.note, current_user.email)
    db.session.commit()
    records, _guests = attendance(meeting)
    (record,) = [r for r in records if r["student_pk"] == student_pk]
    return jsonify(record)


_MATCH_URL = f"/meetings/<{ID}:meeting_id>/participants/<{ID}:participant_pk>/match"


@bp.post(_MATCH_URL)
@api_login_required
@endpoint(
    "meetings",
    (
        200,
        a.MatchResult,
        "The student's record, the remaining guests, and the keys remembered "
        "and refused.",
    ),
    json=a.GuestMatch,
    errors=[
        (404, "No such meeting, guest or student."),
        (
            409,
            "The participant is the host or a co-host, or has no key to match "
            "by that is not another student's already.",
        ),
    ],
)
def match_guest(meeting_id: int, participant_pk: int, json: a.GuestMatch):
    """Assign a guest to a roster student.

    ``remember``: later meetings of the course match the guest by themselves, by
    its Zoom user id, registrant id, e-mail and (only when specific) display
    name. A key that points to another student already is refused and listed.
    """
    meeting = meeting_or_404(meeting_id)
    outcome = match_participant(
        meeting, participant_pk, json.student_id, json.remember, current_user.email
    )
    db.session.commit()
    records, guests = attendance(meeting)
    record = next((r for r in records if r["student_pk"] == json.student_id), None)
    return jsonify(
        {
            "record": record,
            "guests": guests,
            "remembered": [
                {"kind": kind.value, "value": value}
                for kind, value in outcome.remembered
            ],
            "refused": [
                {"kind": r.kind.value, "value": r.value, "student_pk": r.student_pk}
                for r in outcome.refused
            ],
        }
    )


@bp.delete(_MATCH_URL)
@api_login_required
@endpoint(
    "meetings",
    204,
    errors=[(404, "No such meeting, or no manual match of that participant in it.")],
)
def unmatch_guest(meeting_id: int, participant_pk: int):
    """Undo a manual match: the keys it remembered are forgotten (CONTRACT §5.7).

    The meeting and the course's ended meetings that used them are regenerated
    (manual statuses stay); the participant is a guest again.
    """
    meeting = meeting_or_404(meeting_id)
    undo_match(meeting, participant_pk)
    db.session.commit()
    return "", 204
