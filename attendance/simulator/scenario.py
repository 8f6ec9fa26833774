"""A simulated Zoom class: realistic webhook payloads, their delivery, and the expected result.

The simulator builds one meeting instance of a course the way Zoom reports it
(../shared/ZOOM.md §3): a host who starts the meeting, students who pass the
waiting room, come late, drop and rejoin with a new ``user_id``, join from two
devices, visit breakout rooms and leave early, guests with no e-mail, a co-host,
screen sharing and a cloud recording. ``SimulatedClass.deliveries`` then shuffles
and repeats events the way Zoom's delivery does (ZOOM.md §2), ``deliver`` signs
and sends them, and ``expected_result`` says what CONTRACT §5 must make of them.

Everything but ``deliver`` is pure and deterministic for the same options: the
roster depends on the seed alone (re-running with the same seed upserts the same
students), the meeting instance on the seed and the start time.
"""

from __future__ import annotations

import base64
import copy
import json
import multiprocessing
import queue
import random
import string
import threading
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from attendance.core.matching import normalize_name
from attendance.core.model import MeetingFacts, MeetingResult, Policy, Student
from attendance.core.sightings import fold
from attendance.zoom.events import parse_event
from attendance.zoom.sightings import sighting
from attendance.zoom.signature import sign

#: What ``send`` returns: the HTTP status, or (status, decoded JSON answer or None).
SendResult = int | tuple[int, Any]
Send = Callable[[bytes, dict[str, str]], SendResult]

#: Shortest meeting the class shape fits in: late joiners arrive up to 25 minutes in.
MIN_DURATION_MINUTES = 30
MAX_STUDENTS = 1000

_FIRST_NAMES = (
    "José", "María", "Zoë", "François", "Søren", "Łukasz", "Núria", "Björn", "Chloé",
    "Siobhán", "Ngọc", "Ayşe", "Ömer", "Inés", "Raúl", "Andrés", "Jürgen", "Emma",
    "Liam", "Olivia", "Noah", "Ava", "Ethan", "Mia", "Lucas", "Sophia", "Mateo",
    "Amara", "Kenji", "Priya", "Wei", "Fatima", "Omar", "Aisha", "Hiroshi", "Yuki",
    "Ingrid", "Tariq", "Leila", "Diego", "Camila", "Thabo", "Arjun", "Ananya",
    "Min-jun", "Seo-yeon", "Kwame", "Elif", "Mateus", "Astrid",
)  # fmt: skip
_LAST_NAMES = (
    "Núñez", "García", "Müller", "Østergaard", "Kowalski", "Dvořák", "Çelik",
    "Nguyễn", "O'Brien", "Smith", "Johnson", "Lee", "Kim", "Patel", "Okafor", "Rossi",
    "Schmidt", "Tanaka", "Dubois", "Fernández", "Petrović", "Haddad", "Andersson",
    "Silva", "Mensah", "Novak", "Yılmaz", "Brown", "Chen", "Singh", "Ivanova",
    "Lefèvre", "Gómez", "Horváth", "Zhang", "Wright", "Jabłoński", "Mbeki", "Sato",
    "da Costa",
)  # fmt: skip
_NICKNAMES = ("Pepe", "Kiki", "Nico", "Coco", "Jojo", "Lulu", "Bibi", "Dede", "Toto")
_PRONOUNS = ("(she/her)", "(he/him)", "(they/them)")
_DEPARTMENTS = (
    "Biology", "Chemistry", "Computer Science", "Mathematics", "Physics", "History",
    "Economics", "Linguistics",
)  # fmt: skip
#: Guests: names that match nobody on a roster built from the pools above.
_GUEST_NAMES = (
    "Sam Lee (TA) (he/him)", "iPhone", "Guest Speaker", "Galaxy S23 Ultra",
    "Parent of Mia", "Library PC 3", "Auditor - Ruth", "Chromebook", "Zoom User",
    "Visiting Prof. Okonkwo",
)  # fmt: skip
_HOSTS = (
    ("Grace", "Hopper"),
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Katherine", "Johnson"),
    ("Edsger", "Dijkstra"),
)
_TIMEZONES = ("America/New_York", "America/Denver", "Europe/Madrid", "Asia/Tokyo")
_TOPICS = ("Biología 101 — Sección Ñ", "Intro to Statistics", "Organic Chemistry II")
_BASE62 = string.ascii_letters + string.digits
#: Zoom's in-meeting user ids seen in the wild step by 1024 from 16778240.
_FIRST_USER_ID = 16778240
_USER_ID_STEP = 1024
_STUDENT_DOMAIN = "students.example.edu"


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

    def deliveries(self, rng: random.Random | None = None) -> list[dict[str, Any]]:
        """The events in delivery order, with the options' disorder and duplicates.

        A ``disorder`` fraction of the events is moved later by a random offset (at
        least one join lands after its own leave); a ``duplicates`` fraction is
        delivered again later, the body identical (Zoom's retries, ZOOM.md §2).
        """
        rng = rng if rng is not None else random.Random(self.options.seed)  # noqa: S311
        return _deliveries(
            self.events, rng, self.options.disorder, self.options.duplicates
        )


@dataclass(slots=True)
class DeliveryReport:
    """What ``deliver`` did: every answer by HTTP status and by the JSON ``status``."""

    #: Payloads delivered (each once, however many attempts it took).
    sent: int = 0
    attempts: int = 0
    #: Attempts beyond the first (after a non-2xx answer).
    retried: int = 0
    #: Payloads that never got a 2xx answer.
    failed: int = 0
    #: Every answer, retried ones included.
    by_http: Counter[int] = field(default_factory=Counter)
    #: The ``status`` of 2xx answers ("processed", "duplicate", "ignored", "queued").
    by_status: Counter[str] = field(default_factory=Counter)


# -- the roster ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Profile:
    """A roster student and how they show up in Zoom (stable for a seed)."""

    student_id: str
    first: str
    last: str
    email: str
    department: str
    aliases: tuple[str, ...]
    #: account | external | name_only | alias_email | alias_name
    style: str
    display: str
    zoom_email: str
    zoom_user_id: str


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _ascii_slug(text: str) -> str:
    """Letters and digits of ``text`` for an e-mail local part ("Núñez" -> "nunez")."""
    folded = _strip_marks(text).translate(str.maketrans("łŁøØıđß", "lLoOids"))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


def _token(rng: random.Random, length: int = 22) -> str:
    return "".join(rng.choice(_BASE62) for _ in range(length))


def _zoom_uuid(rng: random.Random) -> str:
    """A meeting or breakout-room UUID as Zoom writes them (base64, may hold / and +)."""
    return base64.b64encode(rng.randbytes(16)).decode("ascii")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def _build_roster(n: int, rng: random.Random) -> list[_Profile]:
    """``n`` students with distinct normalized names, e-mails and aliases."""
    taken_names: set[str] = set()
    taken_emails: set[str] = set()
    pairs: list[tuple[str, str]] = [("José", "Núñez")]  # always one accented classic
    taken_names |= {normalize_name("José Núñez"), normalize_name("Núñez José")}
    if n > len(_FIRST_NAMES) * len(_LAST_NAMES) // 2:
        raise ValueError(f"at most {MAX_STUDENTS} students")
    while len(pairs) < n:
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        keys = {normalize_name(f"{first} {last}"), normalize_name(f"{last} {first}")}
        if keys & taken_names:
            continue
        taken_names |= keys
        pairs.append((first, last))
    profiles = []
    for index, (first, last) in enumerate(pairs[:n]):
        student_id = f"{2025_0000 + index * 7 + rng.randint(1, 6):08d}"
        email = ""
        if rng.random() < 0.85:
            email = f"{_ascii_slug(first)}.{_ascii_slug(last)}@{_STUDENT_DOMAIN}"
            while email in taken_emails:
                local = f"{_ascii_slug(first)}.{_ascii_slug(last)}{rng.randint(2, 99)}"
                email = f"{local}@{_STUDENT_DOMAIN}"
            taken_emails.add(email)
        styles = (
            (("account", 0.45), ("external", 0.15), ("name_only", 0.2))
            + (("alias_email", 0.1), ("alias_name", 0.1))
            if email
            else (("name_only", 0.6), ("alias_email", 0.2), ("alias_name", 0.2))
        )
        style = _weighted(rng, styles)
        personal = ""
        while not personal or personal in taken_emails:
            personal = (
                f"{_ascii_slug(first)}{_ascii_slug(last)[:1]}{rng.randint(1, 99)}"
                "@gmail.com"
            )
        nickname = ""
        for _ in range(20):
            nickname = f"{rng.choice(_NICKNAMES)} {last}"
            if normalize_name(nickname) not in taken_names:
                break
        else:
            nickname = f"{rng.choice(_NICKNAMES)} {last} {first}"
        aliases: list[str] = []
        if style == "alias_email" or rng.random() < 0.08:
            aliases.append(personal)
            taken_emails.add(personal)
        if style == "alias_name" or rng.random() < 0.08:
            aliases.append(nickname)
            taken_names.add(normalize_name(nickname))
        pronoun = rng.choice(_PRONOUNS)
        display, zoom_email, zoom_user_id = f"{first} {last}", "", ""
        if style == "account":
            zoom_user_id = _token(rng)
            zoom_email = email if rng.random() < 0.8 else email.title()
            if rng.random() < 0.25:
                display = f"{first} {last} {pronoun}"
        elif style == "external":
            zoom_email = email
            if rng.random() < 0.3:
                display = display.lower()
        elif style == "name_only":
            display = rng.choice(
                (
                    f"{first} {last}",
                    f"{last}, {first}",
                    f"{first} {last} {pronoun}",
                    _strip_marks(f"{first} {last}"),
                )
            )
        elif style == "alias_email":
            zoom_email = personal
            display = rng.choice((first, f"{first} {last[:1]}."))
        else:  # alias_name
            display = nickname if rng.random() < 0.7 else f"{nickname} {pronoun}"
        profiles.append(
            _Profile(
                student_id=student_id,
                first=first,
                last=last,
                email=email,
                department=rng.choice(_DEPARTMENTS),
                aliases=tuple(aliases),
                style=style,
                display=display,
                zoom_email=zoom_email,
                zoom_user_id=zoom_user_id,
            )
        )
    return profiles


def _guest_names(count: int, roster: Sequence[_Profile]) -> list[str]:
    """Guest display names that normalize to nothing on the roster (nor each other)."""
    taken = set()
    for p in roster:
        taken |= {normalize_name(f"{p.first} {p.last}"), normalize_name(p.display)}
        taken |= {normalize_name(a) for a in p.aliases if "@" not in a}
    names: list[str] = []
    candidates = list(_GUEST_NAMES) + [f"Guest {n}" for n in range(1, count + 1)]
    for name in candidates:
        if len(names) == count:
            break
        key = normalize_name(name)
        if key and key not in taken:
            taken.add(key)
            names.append(name)
    return names


# -- the meeting plan -----------------------------------------------------------


@dataclass(slots=True)
class _Conn:
    """One planned Zoom connection (one ``user_id``) and when it does what."""

    name: str
    email: str = ""
    #: ``participant_user_id`` / ``id``: the Zoom account, "" for external users.
    zoom_user_id: str = ""
    #: Entered the waiting room (None: joined directly).
    arrive: datetime | None = None
    admitted: datetime | None = None
    join: datetime | None = None
    #: participant_left; None: still in when the host ends the meeting.
    leave: datetime | None = None
    leave_reason: str = "left the meeting."
    #: For a breakout connection: the main connection and the room.
    parent: _Conn | None = None
    room: str = ""
    participant_uuid: str = ""
    user_id: str = ""
    #: The roster student this connection is, "" for the host and guests.
    student_id: str = ""


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
    roles = ("absent", "late", "drop_rejoin", "left_early", "two_device")
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


def build_class(options: SimulationOptions | None = None) -> SimulatedClass:
    """Build a deterministic, realistic class from ``options`` (see the module docstring).

    :raises ValueError: when the options do not fit together (see ``_check``).
    """
    options = options or SimulationOptions()
    _check(options)
    start = options.start.astimezone(UTC).replace(microsecond=0)
    end = start + timedelta(minutes=options.duration_minutes)
    # The roster and the course's host follow the seed alone; the instance also
    # its start, so every run with the same seed is a new meeting of the same class.
    course_rng = random.Random(options.seed)  # noqa: S311 - simulation, not security
    rng = random.Random(f"{options.seed}/{start.isoformat()}")  # noqa: S311
    profiles = _build_roster(options.students, course_rng)
    host_first, host_last = course_rng.choice(_HOSTS)
    host_id = _token(course_rng)
    account_id = _token(course_rng)
    timezone = course_rng.choice(_TIMEZONES)
    topic = options.topic or course_rng.choice(_TOPICS)
    host_email = f"{host_first[0].lower()}.{_ascii_slug(host_last)}@example.edu"
    host = _Conn(
        name=f"Prof. {host_first} {host_last}",
        email=host_email,
        zoom_user_id=host_id,
        join=start,
    )

    def at(minutes: float, jitter_seconds: int = 0) -> datetime:
        return start + timedelta(
            seconds=int(minutes * 60) + rng.randint(0, jitter_seconds)
        )

    def enter(conn: _Conn, arrive: datetime) -> _Conn:
        """Through the waiting room (admitted after a while) or straight in."""
        if options.waiting_room:
            conn.arrive = arrive
            conn.admitted = arrive + timedelta(seconds=rng.randint(3, 45))
            conn.join = conn.admitted + timedelta(seconds=rng.randint(1, 3))
        else:
            conn.join = arrive
        return conn

    def student_conn(p: _Profile, arrive: datetime) -> _Conn:
        conn = _Conn(
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
    conns: list[_Conn] = [host]
    main_of: dict[int, _Conn] = {}
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
        second = _Conn(
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
        rooms = [_zoom_uuid(rng) for _ in range(max(1, -(-options.breakout // 4)))]
        opened, closed = at(duration * 0.45), at(duration * 0.7)
        for number, index in enumerate(picked):
            main = main_of[index]
            main.leave = None  # present through the stretch and to the end
            conns.append(
                _Conn(
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
    guest_names = _guest_names(options.guests, profiles)
    guests = []
    for name in guest_names:
        conn = enter(_Conn(name=name), at(1, int(duration * 0.4 * 60)))
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
            conn.parent.participant_uuid if conn.parent else _uuid(rng).upper()
        )

    regulars = [main_of[i] for i in slices["on_time"]]
    co_host = guests[0] if guests else (rng.choice(regulars) if regulars else None)
    cast["guests"] = guest_names
    cast["co_host"] = [co_host.name] if co_host else []
    connections = {p.student_id: [] for p in profiles}
    for conn in conns:
        if conn.student_id and conn.parent is None:
            connections[conn.student_id].append(conn.user_id)

    meeting = _Meeting(
        number=options.meeting_number,
        uuid=_zoom_uuid(rng),
        host_id=host_id,
        account_id=account_id,
        topic=topic,
        timezone=timezone,
        start=start,
        end=end,
        duration=duration,
    )
    events = _events(meeting, host, conns, co_host, rng, host_email)
    return SimulatedClass(
        options=options,
        roster=[_roster_row(p) for p in profiles],
        events=events,
        meeting_uuid=meeting.uuid,
        meeting_number=meeting.number,
        host_id=host_id,
        start=start,
        end=end,
        cast=cast,
        connections=connections,
    )


def _roster_row(p: _Profile) -> dict[str, str]:
    return {
        "student_id": p.student_id,
        "first_name": p.first,
        "last_name": p.last,
        "email": p.email,
        "department": p.department,
        "aliases": ";".join(p.aliases),
    }


# -- the events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Meeting:
    number: int
    uuid: str
    host_id: str
    account_id: str
    topic: str
    timezone: str
    start: datetime
    end: datetime
    duration: int


def _iso(at: datetime) -> str:
    """Zoom's time format: ``2021-07-13T21:44:51Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object(m: _Meeting, *, numeric_id: bool = False, **extra: Any) -> dict[str, Any]:
    """``payload.object``: the id is a string in meeting events, a number in recording.*."""
    obj: dict[str, Any] = {
        "id": m.number if numeric_id else str(m.number),
        "uuid": m.uuid,
        "host_id": m.host_id,
        "topic": m.topic,
        "type": 8,
        "start_time": _iso(m.start),
        "timezone": m.timezone,
        "duration": m.duration,
    }
    obj.update(extra)
    return obj


def _participant(c: _Conn, **times: Any) -> dict[str, Any]:
    """``participant`` as Zoom sends it; ids and e-mail are "" when Zoom withholds them."""
    fields: dict[str, Any] = {"user_id": c.user_id, "user_name": c.name}
    if c.parent is not None:
        fields["parent_user_id"] = c.parent.user_id
    fields["id"] = c.zoom_user_id
    fields["participant_uuid"] = c.participant_uuid
    fields.update(times)
    fields.update(
        email=c.email,
        registrant_id="",
        participant_user_id=c.zoom_user_id,
        customer_key="",
        phone_number="",
    )
    return fields


class _Timeline:
    """Events with the time they happened; ``ordered`` gives them sorted with ``event_ts``."""

    def __init__(self, meeting: _Meeting) -> None:
        self.meeting = meeting
        self._items: list[tuple[datetime, int, int, dict[str, Any]]] = []

    def add(
        self, at: datetime, name: str, obj: dict[str, Any], rank: int = 1, **top: Any
    ) -> None:
        body: dict[str, Any] = {"event": name, "event_ts": 0, **top}
        body["payload"] = {"account_id": self.meeting.account_id, "object": obj}
        self._items.append((at, rank, len(self._items), body))

    def participant(
        self, at: datetime, name: str, c: _Conn, rank: int = 1, **times: Any
    ) -> None:
        extra = {"breakout_room_uuid": c.room} if c.parent is not None else {}
        obj = _object(self.meeting, **extra)
        if extra:  # the room's uuid sits next to the meeting's
            obj = {k: obj[k] for k in ("id", "uuid", "breakout_room_uuid")} | obj
        obj["participant"] = _participant(c, **times)
        self.add(at, name, obj, rank)

    def ordered(self, rng: random.Random) -> list[dict[str, Any]]:
        """The bodies in the order things happened; ``event_ts`` in ms, increasing."""
        last = 0
        bodies = []
        for at, _rank, _seq, body in sorted(self._items, key=lambda i: i[:3]):
            last = max(last + rng.randint(1, 40), int(at.timestamp() * 1000))
            last += rng.randint(0, 400)
            body["event_ts"] = last
            bodies.append(body)
        return bodies


def _events(
    m: _Meeting,
    host: _Conn,
    conns: Sequence[_Conn],
    co_host: _Conn | None,
    rng: random.Random,
    host_email: str,
) -> list[dict[str, Any]]:
    """Every webhook of the meeting, shaped as ZOOM.md §3, in the order it happened."""
    t = _Timeline(m)
    t.add(m.start, "meeting.started", _object(m), rank=0)
    for c in conns:
        if c.parent is not None:
            assert c.join is not None and c.leave is not None  # noqa: S101
            t.participant(
                c.join,
                "meeting.participant_joined_breakout_room",
                c,
                join_time=_iso(c.join),
            )
            t.participant(
                c.leave,
                "meeting.participant_left_breakout_room",
                c,
                leave_time=_iso(c.leave),
                leave_reason=f"{c.name} left the meeting.<br>Reason: {c.leave_reason}",
            )
            continue
        if c.arrive is not None and c.admitted is not None:
            stamp = {"date_time": _iso(c.arrive)}
            t.participant(
                c.arrive, "meeting.participant_joined_waiting_room", c, **stamp
            )
            stamp = {"date_time": _iso(c.admitted)}
            t.participant(c.admitted, "meeting.participant_admitted", c, **stamp)
            t.participant(
                c.admitted, "meeting.participant_left_waiting_room", c, **stamp
            )
        assert c.join is not None  # noqa: S101 - every main connection joins
        t.participant(c.join, "meeting.participant_joined", c, join_time=_iso(c.join))
        leave, reason, rank = c.leave, c.leave_reason, 1
        if leave is None:
            leave, reason, rank = m.end, "Host ended the meeting.", 3
        t.participant(
            leave,
            "meeting.participant_left",
            c,
            rank=rank,
            leave_time=_iso(leave),
            leave_reason=f"{c.name} left the meeting.<br>Reason: {reason}",
        )

    if co_host is not None and co_host.join is not None:
        changed = co_host.join + timedelta(seconds=rng.randint(60, 180))
        obj = _object(m)
        obj["participant"] = {
            "user_id": co_host.user_id,
            "user_name": co_host.name,
            "id": co_host.zoom_user_id,
            "participant_uuid": co_host.participant_uuid,
            "email": co_host.email,
            "participant_user_id": co_host.zoom_user_id,
            "date_time": _iso(changed),
            "old_role": "attendee",
            "new_role": "co-host",
        }
        t.add(changed, "meeting.participant_role_changed", obj)

    shared = m.start + timedelta(seconds=rng.randint(120, 300))
    unshared = shared + timedelta(minutes=m.duration // 4, seconds=rng.randint(0, 120))
    for name, when in (
        ("meeting.sharing_started", shared),
        ("meeting.sharing_ended", unshared),
    ):
        obj = _object(m)
        obj["participant"] = {
            "user_id": host.user_id,
            "user_name": host.name,
            "id": host.zoom_user_id,
            "sharing_details": {
                "content": "application",
                "link_source": "",
                "file_link": "",
                "date_time": _iso(when),
                "source": "",
            },
        }
        t.add(when, name, obj)

    _recording(t, m, rng, host_email)
    end_obj = _object(m, end_time=_iso(m.end))
    t.add(m.end, "meeting.ended", end_obj, rank=2)
    return t.ordered(rng)


def _recording(t: _Timeline, m: _Meeting, rng: random.Random, host_email: str) -> None:
    """recording.started / stopped / completed: numeric meeting id, files with ids."""
    began = m.start + timedelta(seconds=rng.randint(30, 90))
    stopped = m.end - timedelta(seconds=rng.randint(30, 90))
    t.add(
        began,
        "recording.started",
        _object(
            m,
            numeric_id=True,
            recording_file={"recording_start": _iso(began), "recording_end": ""},
        ),
    )
    t.add(
        stopped,
        "recording.stopped",
        _object(
            m,
            numeric_id=True,
            recording_file={
                "recording_start": _iso(began),
                "recording_end": _iso(stopped),
            },
        ),
    )
    files = []
    for file_type, extension, recording_type in (
        ("MP4", "MP4", "shared_screen_with_speaker_view"),
        ("M4A", "M4A", "audio_only"),
        ("TIMELINE", "JSON", "timeline"),
        ("CHAT", "TXT", "chat_file"),
    ):
        file_id = _uuid(rng)
        entry: dict[str, Any] = {
            "id": file_id,
            "meeting_id": m.uuid,
            "recording_start": _iso(began),
            "recording_end": _iso(stopped),
            "file_type": file_type,
            "file_extension": extension,
            "file_size": rng.randint(20_000, 400_000_000),
        }
        if file_type in ("MP4", "M4A"):
            entry["play_url"] = f"https://example.zoom.us/rec/play/{_token(rng, 40)}"
        entry["download_url"] = (
            f"https://example.zoom.us/rec/download/{_token(rng, 40)}"
        )
        entry.update(status="completed", recording_type=recording_type)
        files.append(entry)
    completed = m.end + timedelta(seconds=rng.randint(180, 480))
    obj = _object(
        m,
        numeric_id=True,
        account_id=m.account_id,
        host_email=host_email,
        total_size=sum(f["file_size"] for f in files),
        recording_count=len(files),
        share_url=f"https://example.zoom.us/rec/share/{_token(rng, 40)}",
        recording_files=files,
        participant_audio_files=[],
    )
    token = "eyJhbGciOiJIUzUxMiJ9." + _token(rng, 120)
    t.add(completed, "recording.completed", obj, download_token=token)


# -- delivery order -----------------------------------------------------------------


def _deliveries(
    events: Sequence[dict[str, Any]],
    rng: random.Random,
    disorder: float,
    duplicates: float,
) -> list[dict[str, Any]]:
    """Move ``disorder`` of the events later, re-deliver ``duplicates`` of them."""
    n = len(events)
    keys = [float(i) for i in range(n)]
    span = max(3.0, n / 5)
    moved = round(disorder * n)
    if moved:
        # Zoom's classic: a participant_left that overtakes its participant_joined.
        leaves = {
            _conn_key(e): i
            for i, e in enumerate(events)
            if e["event"] == "meeting.participant_left"
        }
        joins = [
            (i, leaves[_conn_key(e)])
            for i, e in enumerate(events)
            if e["event"] == "meeting.participant_joined" and _conn_key(e) in leaves
        ]
        chosen: set[int] = set()
        if joins:
            join, leave = rng.choice(joins)
            keys[join] = leave + rng.uniform(0.1, 3.0)
            chosen.add(join)
        others = [i for i in range(n) if i not in chosen]
        for i in rng.sample(others, min(len(others), moved - len(chosen))):
            keys[i] = i + rng.uniform(1.1, span)
    items: list[tuple[float, int, dict[str, Any]]] = [
        (keys[i], i, e) for i, e in enumerate(events)
    ]
    for i in rng.sample(range(n), round(duplicates * n)):
        items.append(
            (keys[i] + rng.uniform(1.1, span), n + i, copy.deepcopy(events[i]))
        )
    items.sort(key=lambda item: item[:2])
    return [e for _, _, e in items]


def _conn_key(event: Mapping[str, Any]) -> str:
    participant = event.get("payload", {}).get("object", {}).get("participant", {})
    return str(participant.get("user_id", ""))


# -- the expected result ---------------------------------------------------------


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
    from attendance.core.compute import compute_meeting

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


# -- delivery over the wire ---------------------------------------------------------


def encode(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as Zoom sends it (the signature covers these exact bytes)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def signed_headers(
    body: bytes, secret: str, now: float | None = None
) -> dict[str, str]:
    """The headers Zoom sends with a webhook (ZOOM.md §1), signed for ``body``."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Zoom Marketplace/1.0a",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(secret, timestamp, body),
        "x-zm-trackingid": f"v=2.0&s={uuid.uuid4().hex}",
    }


def _own_seconds(payload: Mapping[str, Any]) -> float | None:
    ts = payload.get("event_ts")
    return (
        ts / 1000 if isinstance(ts, int | float) and not isinstance(ts, bool) else None
    )


def _schedule(
    payloads: Sequence[Mapping[str, Any]], speed: float, start: datetime | None
) -> list[float]:
    """Wall-clock offsets (s) of each delivery: the timeline compressed ``speed`` times.

    A delivery goes out at the latest own time seen so far in delivery order, so an
    event moved later is sent late (with its new neighbours), not put back in place.
    """
    if speed <= 0:
        return [0.0] * len(payloads)
    own = [_own_seconds(p) for p in payloads]
    known = [s for s in own if s is not None]
    origin = start.timestamp() if start is not None else min(known, default=0.0)
    offsets, latest = [], origin
    for seconds in own:
        if seconds is not None:
            latest = max(latest, seconds)
        offsets.append((latest - origin) / speed)
    return offsets


def _answer(result: SendResult) -> tuple[int, str | None]:
    """(HTTP status, JSON ``status`` or None) from what ``send`` returned."""
    if isinstance(result, tuple):
        code, body = result
        word = body.get("status") if isinstance(body, Mapping) else None
        return int(code), word if isinstance(word, str) else None
    return int(result), None


def deliver(
    payloads: Sequence[Mapping[str, Any]],
    send: Send,
    *,
    secret: str,
    speed: float = 0.0,
    start: datetime | None = None,
    concurrency: int = 1,
    on_progress: Callable[[int], Any] | None = None,
    retries: int = 3,
    backoff: float = 0.5,
) -> DeliveryReport:
    """Sign and send each payload, paced along its own timeline; count the answers.

    ``send(body, headers)`` returns the HTTP status, or (status, decoded JSON).
    ``speed`` 0 sends as fast as possible; k compresses the timeline from ``start``
    (default: the first event) k times. A non-2xx answer is re-sent up to
    ``retries`` times with exponential backoff, freshly signed each time, as Zoom
    retries (ZOOM.md §2). With ``concurrency`` > 1 a thread pool sends; the server
    must not care about the order. ``on_progress(1)`` is called per payload done.
    Exceptions from ``send`` (say, the server went away) propagate.
    """
    report = DeliveryReport()
    lock = threading.Lock()

    def one(payload: Mapping[str, Any]) -> None:
        body = encode(payload)
        for attempt in range(retries + 1):
            code, word = _answer(send(body, signed_headers(body, secret)))
            with lock:
                report.attempts += 1
                report.retried += attempt > 0
                report.by_http[code] += 1
                if 200 <= code < 300:
                    report.by_status[word or "ok"] += 1
            if 200 <= code < 300:
                break
            if attempt < retries:
                time.sleep(backoff * 2**attempt)
        else:
            with lock:
                report.failed += 1
        with lock:
            report.sent += 1
            if on_progress is not None:
                on_progress(1)

    offsets = _schedule(payloads, speed, start)
    began = time.monotonic()

    def wait(offset: float) -> None:
        delay = began + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    if concurrency <= 1:
        for payload, offset in zip(payloads, offsets, strict=True):
            wait(offset)
            one(payload)
        return report
    if speed == 0:
        return _deliver_unpaced(payloads, one, concurrency, report)
    # At most two payloads per worker in flight: memory stays flat and a failed
    # send is noticed within a few deliveries, not at the end.
    slots = threading.BoundedSemaphore(concurrency * 2)
    pending: set[Future[None]] = set()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="simulate")
    try:
        for payload, offset in zip(payloads, offsets, strict=True):
            wait(offset)
            slots.acquire()
            finished = {f for f in pending if f.done()}
            pending -= finished
            for future in finished:
                future.result()  # re-raises what the send raised
            future = pool.submit(one, payload)
            future.add_done_callback(lambda _: slots.release())
            pending.add(future)
        for future in pending:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return report


def _deliver_unpaced(
    payloads: Sequence[Mapping[str, Any]],
    one: Callable[[Mapping[str, Any]], None],
    concurrency: int,
    report: DeliveryReport,
) -> DeliveryReport:
    """As fast as possible: worker threads pull from one queue (no per-payload Future).

    The first exception stops every worker and is raised here.
    """
    work: queue.SimpleQueue[Mapping[str, Any]] = queue.SimpleQueue()
    for payload in payloads:
        work.put(payload)
    errors: list[BaseException] = []

    def worker() -> None:
        while not errors:
            try:
                payload = work.get_nowait()
            except queue.Empty:
                return
            try:
                one(payload)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
                errors.append(exc)
                return

    threads = [
        threading.Thread(target=worker, name=f"simulate-{n}", daemon=True)
        for n in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return report


class Transport(Protocol):
    """What ``deliver_parallel`` needs of an HTTP transport."""

    def send(self, body: bytes, headers: dict[str, str]) -> Any: ...

    def close(self) -> None: ...


def _deliver_part(
    make_transport: Callable[[], Transport],
    payloads: Sequence[Mapping[str, Any]],
    secret: str,
    concurrency: int,
    done: Any,
) -> DeliveryReport:
    """One process's share: its own transport, its own thread pool."""
    transport = make_transport()
    try:

        def progress(n: int) -> None:
            with done.get_lock():
                done.value += n

        return deliver(
            payloads,
            transport.send,
            secret=secret,
            concurrency=concurrency,
            on_progress=progress,
        )
    finally:
        transport.close()


def deliver_parallel(
    payloads: Sequence[Mapping[str, Any]],
    make_transport: Callable[[], Transport],
    *,
    secret: str,
    concurrency: int = 8,
    processes: int = 1,
    on_progress: Callable[[int], Any] | None = None,
) -> DeliveryReport:
    """Deliver as fast as possible from ``processes`` processes of ``concurrency`` threads.

    One Python process tops out around 1,000-1,500 requests/s (the GIL); a load
    test of the intake needs more. Payloads are dealt round-robin (the server does
    not care about order); the reports are summed. Linux (fork) only when
    ``processes`` > 1.
    """
    ctx = multiprocessing.get_context("fork")
    done = ctx.Value("i", 0)
    if processes <= 1:
        report = _deliver_part(make_transport, payloads, secret, concurrency, done)
        if on_progress is not None:
            on_progress(done.value)
        return report
    shares = [list(payloads[i::processes]) for i in range(processes)]
    results = ctx.Queue()

    def run(share: list[Mapping[str, Any]]) -> None:
        # Forked: inherits make_transport and the payloads, nothing is pickled
        # but the report that comes back.
        try:
            results.put(_deliver_part(make_transport, share, secret, concurrency, done))
        except BaseException as exc:  # noqa: BLE001 - handed to the parent
            results.put(exc)

    workers = [ctx.Process(target=run, args=(share,), daemon=True) for share in shares]
    for worker in workers:
        worker.start()
    parts: list[DeliveryReport] = []
    reported = 0
    try:
        while len(parts) < len(workers):
            try:
                part = results.get(timeout=0.1)
            except queue.Empty:
                if not any(w.is_alive() for w in workers) and results.empty():
                    raise RuntimeError("a delivery process died") from None
            else:
                if isinstance(part, BaseException):
                    raise part
                parts.append(part)
            if on_progress is not None and done.value > reported:
                on_progress(done.value - reported)
                reported = done.value
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
    # A worker counts its last payloads just before handing its report over: the
    # loop may have ended before seeing them.
    if on_progress is not None and done.value > reported:
        on_progress(done.value - reported)
    total = DeliveryReport()
    for part in parts:
        total.sent += part.sent
        total.attempts += part.attempts
        total.retried += part.retried
        total.failed += part.failed
        total.by_http.update(part.by_http)
        total.by_status.update(part.by_status)
    return total
