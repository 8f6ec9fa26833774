"""What Zoom itself keeps of a simulated class: its participant report and its instance.

Zoom's webhooks can be lost on the way; its participant report cannot. ``record``
writes the class as the report rows Zoom would answer for the meeting instance
(one row per join session of every connection, as ZOOM-REST.md §5 describes them)
and the instance in the meeting number's past instances, in the format of the
fake Zoom's data file (``attendance.zoom.fake.FakeState.load``): what a
reconciliation fetches after the class. ``lost_leaves`` and ``without_leaves``
make a class whose final leaves Zoom never delivered.

Pure: no I/O here; the CLI writes the file or posts it to a running fake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from attendance.simulator.payloads import Connection
from attendance.simulator.scenario import SimulatedClass

_LEFT = "meeting.participant_left"


def _iso(at: datetime) -> str:
    """Zoom's time format: ``2021-07-13T21:44:51Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(
    conn: Connection, join: datetime, leave: datetime, status: str, host_id: str
) -> dict[str, Any]:
    """One report row; ``id`` and ``participant_user_id`` blank for guests, as on Zoom."""
    return {
        "id": conn.zoom_user_id,
        "user_id": conn.user_id,
        "participant_user_id": conn.zoom_user_id,
        "name": conn.name,
        "user_email": conn.email,
        "join_time": _iso(join),
        "leave_time": _iso(leave),
        "duration": max(0, int((leave - join).total_seconds())),
        "failover": False,
        "status": status,
        "customer_key": "",
        "registrant_id": "",
        "bo_mtg_id": conn.room,
        "internal_user": conn.zoom_user_id == host_id,
    }


def report_rows(sim: SimulatedClass) -> list[dict[str, Any]]:
    """The class as ``GET /report/meetings/{uuid}/participants`` rows, by join time.

    A connection that passed the waiting room has an ``in_waiting_room`` row for
    the wait; every connection has one row for its time in the meeting (a breakout
    connection's names its room in ``bo_mtg_id``), its leave the meeting's end
    when it stayed to the end.
    """
    rows: list[tuple[datetime, int, dict[str, Any]]] = []
    for conn in sim.plan:
        if conn.arrive is not None and conn.admitted is not None:
            row = _row(conn, conn.arrive, conn.admitted, "in_waiting_room", sim.host_id)
            rows.append((conn.arrive, len(rows), row))
        if conn.join is None:  # never admitted: only its wait is reported
            continue
        leave = conn.leave if conn.leave is not None else sim.end
        row = _row(conn, conn.join, leave, "in_meeting", sim.host_id)
        rows.append((conn.join, len(rows), row))
    return [row for _, _, row in sorted(rows, key=lambda item: item[:2])]


def fake_data(sim: SimulatedClass) -> dict[str, Any]:
    """The fake Zoom's data for this class: its report rows and its past instance."""
    return {
        "meetings": {sim.meeting_uuid: report_rows(sim)},
        "instances": {
            str(sim.meeting_number): [
                {"uuid": sim.meeting_uuid, "start_time": _iso(sim.start)}
            ]
        },
    }


def merged(existing: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """``existing`` data-file object with ``data`` added: its meetings replaced by
    uuid, its instances appended to their meeting number's (once per uuid)."""
    out = dict(existing)
    out["meetings"] = {**existing.get("meetings", {}), **data.get("meetings", {})}
    instances = {k: list(v) for k, v in existing.get("instances", {}).items()}
    for number, listed in data.get("instances", {}).items():
        kept = instances.setdefault(str(number), [])
        known = {item.get("uuid") for item in kept}
        kept.extend(item for item in listed if item.get("uuid") not in known)
    out["instances"] = instances
    return out


def lost_leaves(sim: SimulatedClass, count: int) -> dict[str, Connection]:
    """``count`` students whose final ``participant_left`` Zoom never delivers.

    Earliest final leave first (the ones who left early: losing their leave keeps
    them in until the end, the most visible loss), then by student id; only
    students who joined. Returns student_id -> the connection whose leave is lost
    (the one that left last; a student's other connections leave as usual).
    """
    final: dict[str, Connection] = {}
    for conn in sim.plan:
        if not conn.student_id or conn.parent is not None or conn.join is None:
            continue
        kept = final.get(conn.student_id)
        if kept is None or _left_at(conn, sim.end) > _left_at(kept, sim.end):
            final[conn.student_id] = conn
    chosen = sorted(final.items(), key=lambda i: (_left_at(i[1], sim.end), i[0]))
    return dict(chosen[: max(0, count)])


def _left_at(conn: Connection, end: datetime) -> datetime:
    return conn.leave if conn.leave is not None else end


def without_leaves(
    payloads: Sequence[dict[str, Any]], user_ids: set[str]
) -> list[dict[str, Any]]:
    """``payloads`` less every ``meeting.participant_left`` of ``user_ids`` (re-deliveries too)."""
    return [p for p in payloads if not _is_leave_of(p, user_ids)]


def _is_leave_of(payload: Mapping[str, Any], user_ids: set[str]) -> bool:
    if payload.get("event") != _LEFT:
        return False
    participant = payload.get("payload", {}).get("object", {}).get("participant", {})
    return str(participant.get("user_id", "")) in user_ids
