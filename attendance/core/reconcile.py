"""Reconciling webhook connections with Zoom's participant report (CONTRACT §6).

Report rows are a second source of sightings. Rows of a connection webhooks saw
become its ``reported`` intervals, which the sweep uses only where webhooks left a
leave undelivered or have no main-room interval at all (``sessions.main_intervals``);
rows of a connection webhooks never saw become a connection of their own (source
``report``) whose join and leave events are the union of its rows. Either way the
result depends on the set of rows only: any order, any duplicates.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from attendance.core import intervals as iv
from attendance.core.model import Connection, ConnectionEvent, Interval, Kind, Source
from attendance.core.sessions import main_intervals
from attendance.core.sightings import Identity, Sighting, merge_identity

_EPOCH = datetime.min.replace(tzinfo=UTC)


class ReportStatus(enum.StrEnum):
    """Where a report row's participant was (Zoom's ``status``)."""

    IN_MEETING = "in_meeting"
    IN_WAITING_ROOM = "in_waiting_room"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRow:
    """One row of a meeting's participant report, as the REST client types it."""

    #: The connection id in that meeting (Zoom's per-join ``user_id``).
    user_id: str
    join_time: datetime
    leave_time: datetime
    name: str = ""
    email: str = ""
    #: ``participant_user_id`` or ``id``: the Zoom account user id; "" for guests.
    zoom_user_id: str = ""
    registrant_id: str = ""
    status: ReportStatus = ReportStatus.IN_MEETING

    @property
    def interval(self) -> Interval:
        """[join_time, leave_time], empty at the join when Zoom reports a leave before it."""
        return Interval(self.join_time, max(self.join_time, self.leave_time))


@dataclass(frozen=True, slots=True)
class ReconcileChange:
    """How one connection's main-room time, up to E, changed by reconciling."""

    key: str
    pk: int
    #: Seconds from webhooks alone (0 for a connection only the report has).
    seconds_before: int
    seconds_after: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The reconciled connections and what changed, by connection key."""

    #: Every connection, webhook ones first in their given order, then report-only
    #: ones by key: what ``compute_meeting`` takes.
    connections: tuple[Connection, ...]
    #: Connections whose main-room seconds up to E differ from webhooks alone.
    changes: tuple[ReconcileChange, ...]

    @property
    def added(self) -> tuple[Connection, ...]:
        """The connections seen only in the report (source ``report``)."""
        return tuple(c for c in self.connections if c.source is Source.REPORT)


def reconcile(
    connections: Sequence[Connection], rows: Iterable[ReportRow], end: datetime
) -> Reconciliation:
    """Reconcile a meeting's connections with its report rows in any order (§6).

    ``connections`` are the webhook connections as stored. Report-only connections
    given back in it (source ``report``, from an earlier run) are rebuilt from the
    rows, keeping their pk; new ones get pks -1, -2, ... in key order, for the caller
    to replace with its own. ``end`` is E, the meeting's end.
    """
    by_key: dict[str, set[ReportRow]] = {}
    for row in rows:
        if row.status is not ReportStatus.IN_WAITING_ROOM:
            by_key.setdefault(row.user_id, set()).add(row)
    webhook = [c for c in connections if c.source is not Source.REPORT]
    known_pks = {c.key: c.pk for c in connections if c.source is Source.REPORT}
    seen = {c.key for c in webhook}
    merged = [_with_rows(c, by_key.get(c.key, set())) for c in webhook]
    added: list[Connection] = []
    placeholder = 0
    for key in sorted(by_key.keys() - seen):
        pk = known_pks.get(key)
        if pk is None:
            placeholder -= 1
            pk = placeholder
        added.append(_from_rows(key, pk, by_key[key]))
    changes = [
        ReconcileChange(c.key, c.pk, was, now)
        for c in merged
        if c.reported
        and (was := _seconds(c.events, (), end))
        != (now := _seconds(c.events, c.reported, end))
    ]
    changes.extend(
        ReconcileChange(c.key, c.pk, 0, now)
        for c in added
        if (now := _seconds(c.events, (), end)) > 0
    )
    return Reconciliation(tuple(merged) + tuple(added), tuple(changes))


def _with_rows(conn: Connection, rows: set[ReportRow]) -> Connection:
    """A webhook connection with its rows' intervals: the sweep decides what they change."""
    reported = tuple(sorted({r.interval for r in rows}))
    return conn if reported == conn.reported else replace(conn, reported=reported)


def _from_rows(key: str, pk: int, rows: set[ReportRow]) -> Connection:
    """A connection of the report alone: its rows' union as joins and leaves, its ids."""
    identity = Identity()
    for row in rows:
        sighting = Sighting(
            key,
            ConnectionEvent(Kind.JOINED, row.join_time),
            name=row.name,
            email=row.email,
            zoom_user_id=row.zoom_user_id.strip(),
            registrant_id=row.registrant_id.strip(),
        )
        identity = merge_identity(identity, sighting)
    spans = iv.union(r.interval for r in rows)
    if not spans:
        # Only empty rows: keep their instants, so the connection is still seen.
        spans = sorted({r.interval for r in rows})
    events = tuple(
        event
        for span in spans
        for event in (
            ConnectionEvent(Kind.JOINED, span.start),
            ConnectionEvent(Kind.LEFT, span.end),
        )
    )
    return Connection(
        key=key,
        pk=pk,
        name=identity.name,
        email=identity.email,
        zoom_user_id=identity.zoom_user_id,
        registrant_id=identity.registrant_id,
        events=events,
        source=Source.REPORT,
    )


def _seconds(
    events: Sequence[ConnectionEvent], reported: Sequence[Interval], end: datetime
) -> int:
    """Main-room seconds up to ``end`` (rows may run past E), with or without rows."""
    spans = main_intervals(events, end, reported)
    return int(iv.total_seconds(iv.clip(spans, _EPOCH, end)))
