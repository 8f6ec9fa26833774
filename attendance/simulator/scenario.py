"""A simulated Zoom class: the plan of one meeting instance of a course.

``build_class`` plans the meeting the way Zoom reports it (../shared/ZOOM.md §3):
a host who starts the meeting, students who pass the waiting room, come late,
drop and rejoin with a new ``user_id``, join from two devices, visit breakout
rooms and leave early, guests with no e-mail, a co-host, screen sharing and a
cloud recording; ``payloads`` writes the webhooks. ``SimulatedClass.deliveries``
then shuffles and repeats them the way Zoom's delivery does (ZOOM.md §2).

Everything here is pure and deterministic for the same options: the roster
depends on the seed alone (re-running with the same seed upserts the same
students), the meeting instance on the seed and the start time. A course that
has a roster already is played as it is: ``build_class(options, roster=rows)``
makes its students join (how each shows up in Zoom follows the seed) and
invents none.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from attendance.simulator.ids import random_token, random_uuid, random_zoom_uuid
from attendance.simulator.ordering import delivery_order
from attendance.simulator.payloads import Connection, Meeting, meeting_events
from attendance.simulator.roster import (
    MAX_STUDENTS,
    Profile,
    ascii_slug,
    build_roster,
    pick_guest_names,
    roster_row,
)

#: Shortest meeting the class shape fits in: late joiners arrive up to 25 minutes in.
MIN_DURATION_MINUTES = 30
#: The roles a roster student plays, in the order a short roster fills them.
_ROLES = ("absent", "late", "drop_rejoin", "left_early", "two_device")

_HOSTS = (
    ("Grace", "Hopper"),
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Katherine", "Johnson"),
    ("Edsger", "Dijkstra"),
)
_TIMEZONES = ("America/New_York", "America/Denver", "Europe/Madrid", "Asia/Tokyo")
_TOPICS = ("Biología 101 — Sección Ñ", "Intro to Statistics", "Organic Chemistry II")
#: Zoom's in-meeting user ids seen in the wild step by 1024 from 16778240.
_FIRST_USER_ID = 16778240
_USER_ID_STEP = 1024


def _now_second() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class SimulationOptions:
    """What kind of class to simulate; counts are numbers of roster students."""

    #: Roster size (students who attend, plus ``absent`` who never join).
    students: int = 30
    #: Participants on no roster: display names only, no e-mail, no Zoom user id.
    guests: int = 3
    #: Students who join 12-25 minutes after the start.
    late: int = 3
    #: Students who drop out and rejoin (with a new ``user_id``).
    drop_rejoin: int = 3
    #: Students with a second, overlapping connection (phone + laptop).
    two_device: int = 2
    #: Students sent to breakout rooms for a stretch in the middle of the class.
    breakout: int = 0
    #: Students who leave for good 15-20 minutes before the end.
    left_early: int = 2
    #: Roster students who never join.
    absent: int = 2
    #: Everyone (but the host) passes the waiting room before joining.
    waiting_room: bool = True
    #: Fraction of events delivered later than they happened (0.0-1.0).
    disorder: float = 0.0
    #: Fraction of events delivered twice, bodies identical (0.0-1.0).
    duplicates: float = 0.0
    seed: int = 1
    duration_minutes: int = 60
    meeting_number: int = 84712639219
    #: The meeting topic; "" picks one from the seed.
    topic: str = ""
    #: When the host starts the meeting: aware UTC, whole seconds.
    start: datetime = field(default_factory=_now_second)
    course_code: str = "DEMO-101"


@dataclass(slots=True)
class SimulatedClass:
    """One simulated meeting instance: the roster, the events in order, and who did what."""

    options: SimulationOptions
    #: Roster rows with the CSV columns (``aliases`` ";"-separated).
    roster: list[dict[str, str]]
    #: Every event once, in the order things happened.
    events: list[dict[str, Any]]
    meeting_uuid: str
    meeting_number: int
    host_id: str
    start: datetime
    end: datetime
    #: student_ids by behaviour (``on_time``, ``late``, ``drop_rejoin``, ``two_device``,
    #: ``left_early``, ``absent``, ``breakout``), guest names under ``guests``, and the
    #: display name made co-host under ``co_host``.
    cast: dict[str, list[str]]
    #: student_id -> the ``user_id`` of each of their main-room connections, in
    #: the order they came in (breakout connections name theirs as parent_user_id).
    connections: dict[str, list[str]]
    #: Every connection as planned, the host's first: what Zoom's participant
    #: report lists (``record``), whatever deliveries are lost on the way.
    plan: list[Connection] = field(default_factory=list)

    def deliveries(self, rng: random.Random | None = None) -> list[dict[str, Any]]:
        """The events in delivery order, with the options' disorder and duplicates.

        A ``disorder`` fraction of the events is moved later by a random offset (at
        least one join lands after its own leave); a ``duplicates`` fraction is
        delivered again later, the body identical (Zoom's retries, ZOOM.md §2).
        """
        rng = rng if rng is not None else random.Random(self.options.seed)  # noqa: S311
        return delivery_order(
            self.events, rng, self.options.disorder, self.options.duplicates
        )


def _check(options: SimulationOptions) -> None:
    """Reject options the class cannot be built from, with a message for people.

    :raises ValueError: on negative counts, too many students in a role, a short
        meeting, a fraction outside 0-1 or a naive start time.
    """
    counts = {
        "students": options.students,
        "guests": options.guests,
        "late": options.late,
        "drop_rejoin": options.drop_rejoin,
        "two_device": options.two_device,
        "breakout": options.breakout,
        "left_early": options.left_early,
        "absent": options.absent,
    }
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    if options.students > MAX_STUDENTS:
        raise ValueError(f"at most {MAX_STUDENTS} students")
    roles = _ROLES
    if sum(counts[r] for r in roles) > options.students:
        raise ValueError(
            " + ".join(roles) + f" ({sum(counts[r] for r in roles)}) exceed "
            f"students ({options.students})"
        )
    eligible = options.students - sum(counts[r] for r in roles[:4])
    if options.breakout > eligible:
        raise ValueError(
            f"breakout ({options.breakout}) exceeds the students present through "
            f"the middle of the class ({eligible})"
        )
    if options.duration_minutes < MIN_DURATION_MINUTES:
        raise ValueError(f"duration must be at least {MIN_DURATION_MINUTES} minutes")
    for name in ("disorder", "duplicates"):
        if not 0.0 <= getattr(options, name) <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1")
    if options.start.tzinfo is None:
        raise ValueError("start must be timezone-aware")


def fit_roster(options: SimulationOptions, students: int) -> SimulationOptions:
    """``options`` for a roster of ``students``: the roles cut down to fit it.

    Roles are filled in ``_ROLES`` order until the roster runs out; breakout
    rooms take only students present through the middle of the class.
    """
    left = students
    fitted: dict[str, int] = {}
    for role in _ROLES:
        fitted[role] = min(getattr(options, role), left)
        left -= fitted[role]
    eligible = students - sum(fitted[r] for r in _ROLES[:4])
    fitted["breakout"] = min(options.breakout, eligible)
    return dataclasses.replace(options, students=students, **fitted)


def played_roster(
    rows: Sequence[Mapping[str, str]], rng: random.Random
) -> list[Profile]:
    """A course's own students as they show up in Zoom (signed in when they have an
    e-mail, else by an alias e-mail, else by their name); none is invented."""
    profiles = []
    for row in rows:
        first, last = row.get("first_name", ""), row.get("last_name", "")
        email = row.get("email", "")
        aliases = tuple(a for a in row.get("aliases", "").split(";") if a)
        alias_email = next((a for a in aliases if "@" in a), "")
        style, zoom_email, zoom_user_id = "name_only", "", ""
        if email:
            style, zoom_email, zoom_user_id = "account", email, random_token(rng)
        elif alias_email:
            style, zoom_email = "alias_email", alias_email
        profiles.append(
            Profile(
                student_id=row["student_id"],
                first=first,
                last=last,
                email=email,
                department=row.get("department", ""),
                aliases=aliases,
                style=style,
                display=f"{first} {last}".strip() or row["student_id"],
                zoom_email=zoom_email,
                zoom_user_id=zoom_user_id,
            )
        )
    return profiles


def build_class(
    options: SimulationOptions | None = None,
    roster: Sequence[Mapping[str, str]] | None = None,
) -> SimulatedClass:
    """Build a deterministic, realistic class from ``options`` (see the module docstring).

    ``roster``: a course's own students (rows with the roster CSV's columns) to
    play instead of inventing ``options.students``; the roles are cut to fit it
    (``fit_roster``).

    :raises ValueError: when the options do not fit together (see ``_check``).
    """
    options = options or SimulationOptions()
    if roster is not None:
        options = fit_roster(options, len(roster))
    _check(options)
    start = options.start.astimezone(UTC).replace(microsecond=0)
    end = start + timedelta(minutes=options.duration_minutes)
    # The roster and the course's host follow the seed alone; the instance also
    # its start, so every run with the same seed is a new meeting of the same class.
    course_rng = random.Random(options.seed)  # noqa: S311 - simulation, not security
    rng = random.Random(f"{options.seed}/{start.isoformat()}")  # noqa: S311
    profiles = (
        build_roster(options.students, course_rng)
        if roster is None
        else played_roster(roster, course_rng)
    )
    host_first, host_last = course_rng.choice(_HOSTS)
    host_id = random_token(course_rng)
    account_id = random_token(course_rng)
    timezone = course_rng.choice(_TIMEZONES)
    topic = options.topic or course_rng.choice(_TOPICS)
    host_email = f"{host_first[0].lower()}.{ascii_slug(host_last)}@example.edu"
    host = Connection(
        name=f"Prof. {host_first} {host_last}",
        email=host_email,
        zoom_user_id=host_id,
        join=start,
    )

    def at(minutes: float, jitter_seconds: int = 0) -> datetime:
        return start + timedelta(
            seconds=int(minutes * 60) + rng.randint(0, jitter_seconds)
        )

    def enter(conn: Connection, arrive: datetime) -> Connection:
        """Through the waiting room (admitted after a while) or straight in."""
        if options.waiting_room:
            conn.arrive = arrive
            conn.admitted = arrive + timedelta(seconds=rng.randint(3, 45))
            conn.join = conn.admitted + timedelta(seconds=rng.randint(1, 3))
        else:
            conn.join = arrive
        return conn

    def student_conn(p: Profile, arrive: datetime) -> Connection:
        conn = Connection(
            name=p.display,
            email=p.zoom_email,
            zoom_user_id=p.zoom_user_id,
            student_id=p.student_id,
        )
        return enter(conn, arrive)

    order = list(range(len(profiles)))
    rng.shuffle(order)
    # Two devices merge by a shared e-mail or account id: take students Zoom shows
    # one of, then anyone (whose devices then merge by their roster match).
    order.sort(key=lambda i: not profiles[i].zoom_email)
    slices: dict[str, list[int]] = {"two_device": order[: options.two_device]}
    rest = order[options.two_device :]
    rng.shuffle(rest)
    cursor = 0
    for role in ("absent", "late", "drop_rejoin", "left_early"):
        count = getattr(options, role)
        slices[role] = rest[cursor : cursor + count]
        cursor += count
    slices["on_time"] = rest[cursor:]
    roles = ("on_time", "late", "drop_rejoin", "two_device", "left_early", "absent")
    cast = {role: [profiles[i].student_id for i in slices[role]] for role in roles}
    cast["breakout"] = []
    conns: list[Connection] = [host]
    main_of: dict[int, Connection] = {}
    duration = options.duration_minutes
    for index in slices["on_time"] + slices["two_device"]:
        conn = student_conn(profiles[index], at(0.3, 240))
        if rng.random() < 0.3:  # packing up a little before the end: still Present
            conn.leave = end - timedelta(seconds=rng.randint(60, 300))
        conns.append(conn)
        main_of[index] = conn
    for index in slices["late"]:
        conns.append(student_conn(profiles[index], at(12, 12 * 60)))
    for index in slices["left_early"]:
        conn = student_conn(profiles[index], at(0.3, 240))
        conn.leave = end - timedelta(seconds=rng.randint(15 * 60, 20 * 60))
        conns.append(conn)
    for index in slices["drop_rejoin"]:
        p = profiles[index]
        first = student_conn(p, at(0.3, 240))
        first.leave = at(duration * 0.3, int(duration * 0.3 * 60))
        first.leave_reason = "Network connection error."
        again = student_conn(p, first.leave + timedelta(seconds=rng.randint(30, 240)))
        conns += [first, again]
    account_devices = 0
    for index in slices["two_device"]:
        p = profiles[index]
        second = Connection(
            name=p.display,
            email=p.zoom_email,
            zoom_user_id=p.zoom_user_id,
            student_id=p.student_id,
        )
        if p.zoom_user_id and account_devices % 2 == 0:
            # Signed in on the phone too: same account id, a device name.
            second.name = f"{p.first}'s iPhone"
        elif p.zoom_user_id:
            # Not signed in on the second device: the e-mail only on the laptop.
            second.email = second.zoom_user_id = ""
        elif p.zoom_email:
            second.name = "iPad"  # same e-mail shown on both devices
        account_devices += bool(p.zoom_user_id)
        enter(second, at(5, 15 * 60))
        if rng.random() < 0.5:
            second.leave = at(duration * 0.6, int(duration * 0.3 * 60))
        conns.append(second)
    if options.breakout:
        picked = rng.sample(slices["on_time"] + slices["two_device"], options.breakout)
        rooms = [
            random_zoom_uuid(rng) for _ in range(max(1, -(-options.breakout // 4)))
        ]
        opened, closed = at(duration * 0.45), at(duration * 0.7)
        for number, index in enumerate(picked):
            main = main_of[index]
            main.leave = None  # present through the stretch and to the end
            conns.append(
                Connection(
                    name=main.name,
                    email=main.email,
                    zoom_user_id=main.zoom_user_id,
                    join=opened + timedelta(seconds=rng.randint(5, 20)),
                    leave=closed + timedelta(seconds=rng.randint(0, 15)),
                    leave_reason="left the breakout room.",
                    parent=main,
                    room=rooms[number % len(rooms)],
                )
            )
        cast["breakout"] = [profiles[i].student_id for i in picked]
    guest_names = pick_guest_names(options.guests, profiles)
    guests = []
    for name in guest_names:
        conn = enter(Connection(name=name), at(1, int(duration * 0.4 * 60)))
        if rng.random() < 0.5:
            assert conn.join is not None  # noqa: S101 - enter() always sets it
            latest = int((end - conn.join).total_seconds()) - 120
            conn.leave = conn.join + timedelta(
                seconds=rng.randint(300, max(latest, 300))
            )
        guests.append(conn)
    conns += guests

    # Zoom numbers connections as they come in; participant_uuid is per connection
    # but survives a breakout-room visit (ZOOM.md §3).
    conns.sort(key=lambda c: (c.arrive or c.join or start, c.parent is not None))
    for number, conn in enumerate(conns):
        conn.user_id = str(_FIRST_USER_ID + _USER_ID_STEP * number)
        conn.participant_uuid = (
            conn.parent.participant_uuid if conn.parent else random_uuid(rng).upper()
        )

    regulars = [main_of[i] for i in slices["on_time"]]
    co_host = guests[0] if guests else (rng.choice(regulars) if regulars else None)
    cast["guests"] = guest_names
    cast["co_host"] = [co_host.name] if co_host else []
    connections = {p.student_id: [] for p in profiles}
    for conn in conns:
        if conn.student_id and conn.parent is None:
            connections[conn.student_id].append(conn.user_id)

    meeting = Meeting(
        number=options.meeting_number,
        uuid=random_zoom_uuid(rng),
        host_id=host_id,
        account_id=account_id,
        topic=topic,
        timezone=timezone,
        start=start,
        end=end,
        duration=duration,
    )
    events = meeting_events(meeting, host, conns, co_host, rng, host_email)
    return SimulatedClass(
        options=options,
        roster=[roster_row(p) for p in profiles],
        events=events,
        meeting_uuid=meeting.uuid,
        meeting_number=meeting.number,
        host_id=host_id,
        start=start,
        end=end,
        cast=cast,
        connections=connections,
        plan=conns,
    )
