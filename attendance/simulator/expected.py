"""What CONTRACT §5 must make of a simulated class: the oracle the tests compare with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from attendance.core.compute import compute_meeting
from attendance.core.model import MeetingFacts, MeetingResult, Policy, Student
from attendance.core.sightings import fold
from attendance.simulator.scenario import SimulatedClass
from attendance.zoom.events import parse_event
from attendance.zoom.sightings import sighting


def students_from_roster(roster: Iterable[Mapping[str, str]]) -> list[Student]:
    """Roster rows as core ``Student``s, pk = 1-based position (aliases split by "@")."""
    students = []
    for pk, row in enumerate(roster, start=1):
        aliases = [a.strip() for a in row.get("aliases", "").split(";") if a.strip()]
        students.append(
            Student(
                pk=pk,
                student_id=row["student_id"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                email=row.get("email", ""),
                alias_emails=tuple(a for a in aliases if "@" in a),
                alias_names=tuple(a for a in aliases if "@" not in a),
            )
        )
    return students


def expected_result(
    sim: SimulatedClass,
    policy: Policy | None = None,
    roster_students: Sequence[Student] | None = None,
) -> MeetingResult:
    """What CONTRACT §5 computes from the class's clean event list (no remembered links).

    ``roster_students`` defaults to the simulated roster, pk = 1-based row number.
    """
    parsed = [parse_event(e) for e in sim.events]
    connections = fold(s for e in parsed if (s := sighting(e)) is not None)
    starts = [
        e.meeting.start_time
        for e in parsed
        if e.name == "meeting.started" and e.meeting and e.meeting.start_time
    ]
    ends = [
        e.meeting.end_time
        for e in parsed
        if e.name == "meeting.ended" and e.meeting and e.meeting.end_time
    ]
    host_id = next((e.meeting.host_id for e in parsed if e.meeting), "")
    facts = MeetingFacts(
        started_at=min(starts, default=None),
        ended_at=max(ends, default=None),
        host_id=host_id,
    )
    students = (
        roster_students
        if roster_students is not None
        else students_from_roster(sim.roster)
    )
    now = facts.ended_at or sim.end
    return compute_meeting(
        facts, connections, list(students), [], policy or Policy(), now
    )
