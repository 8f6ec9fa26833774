"""The ``participant_sessions`` table, kept in step with each connection's events."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from attendance.core import sessions as core_sessions
from attendance.extensions import db
from attendance.models import ParticipantEvent, ParticipantSession
from attendance.models.types import to_micros
from attendance.services.meeting_inputs import load_events


def refresh_sessions(participant_ids: set[int]) -> None:
    """Re-sweep the given connections' events into ``participant_sessions`` (a diff).

    Open intervals are stored open (no end): the same rows hold while the
    meeting is live and after it ends, so only touched connections are written.
    """
    if not participant_ids:
        return
    conn = db.session.connection()
    ids = sorted(participant_ids)
    loaded = load_events(ParticipantEvent.participant_id.in_(ids))
    events = {pid: e["events"] for pid, e in loaded.items()}
    meeting_of = {pid: e["meeting_id"] for pid, e in loaded.items()}
    wanted: set[tuple] = set()
    for pid, evs in events.items():
        for kind, room, interval in core_sessions.open_sweep(evs):
            stop = to_micros(interval[1]) if interval[1] is not None else None
            wanted.add((pid, kind, room, to_micros(interval[0]), stop))
    table = ParticipantSession.__table__
    current = {
        (pid, kind, room or "", start, stop): sid
        for sid, pid, kind, room, start, stop in conn.execute(
            select(
                table.c.id,
                table.c.participant_id,
                table.c.kind,
                table.c.room,
                table.c.start_us,
                table.c.end_us,
            ).where(table.c.participant_id.in_(ids))
        )
    }
    gone = [sid for key, sid in current.items() if key not in wanted]
    if gone:
        db.session.execute(
            delete(ParticipantSession).where(ParticipantSession.id.in_(gone))
        )
    new = [
        {
            "meeting_id": meeting_of[pid],
            "participant_id": pid,
            "kind": kind,
            "room": room,
            "start_us": start,
            "end_us": stop,
        }
        for pid, kind, room, start, stop in wanted - current.keys()
    ]
    if new:
        db.session.execute(insert(ParticipantSession), new)
