"""The class simulator: realistic payloads, delivery, the expected result, the CLI."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from attendance.core.model import Policy, Student
from attendance.core.sightings import fold
from attendance.core.status import Status
from attendance.extensions import db
from attendance.models import Course, CourseMeetingNumber, WebhookEvent
from attendance.models import Student as StudentRow
from attendance.simulator.cli import simulate_command
from attendance.simulator.delivery import deliver
from attendance.simulator.expected import expected_result
from attendance.simulator.payloads import encode
from attendance.simulator.scenario import SimulatedClass, SimulationOptions, build_class
from attendance.zoom import signature
from attendance.zoom.events import parse_event
from attendance.zoom.sightings import sighting
from tests.conftest import make_test_app
from tests.support import SECRET

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ZULU = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PARTICIPANT_FIELDS = {
    "user_id",
    "user_name",
    "id",
    "participant_uuid",
    "email",
    "registrant_id",
    "participant_user_id",
    "customer_key",
    "phone_number",
}
MEETING_FIELDS = {
    "id",
    "uuid",
    "host_id",
    "topic",
    "type",
    "start_time",
    "timezone",
    "duration",
}


#: A small class with one of everything, for tests that send it somewhere.
SMALL = {"students": 6, "guests": 1, "late": 1, "drop_rejoin": 1, "two_device": 1}
SMALL |= {"left_early": 1, "absent": 1}


def _sim(**overrides: Any) -> SimulatedClass:
    return build_class(SimulationOptions(**{"start": START, **overrides}))


@pytest.fixture(scope="module")
def sim() -> SimulatedClass:
    """A default 30-student class with breakout rooms."""
    return _sim(breakout=4)


def _named(sim: SimulatedClass, name: str) -> list[dict[str, Any]]:
    return [e for e in sim.events if e["event"] == name]


def _participant(event: dict[str, Any]) -> dict[str, Any]:
    return event["payload"]["object"]["participant"]


def _by_user(sim: SimulatedClass, name: str) -> dict[str, dict[str, Any]]:
    return {_participant(e)["user_id"]: _participant(e) for e in _named(sim, name)}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- building ---------------------------------------------------------------------


def test_build_class_same_seed_same_events() -> None:
    one, two = _sim(seed=7), _sim(seed=7)
    assert one.events == two.events
    assert one.roster == two.roster
    assert one.deliveries() == two.deliveries()
    other = _sim(seed=8)
    assert other.events != one.events
    assert other.roster != one.roster


def test_build_class_same_roster_new_instance_per_start() -> None:
    monday, tuesday = _sim(seed=3), _sim(seed=3, start=START + timedelta(days=1))
    assert monday.roster == tuesday.roster
    assert monday.host_id == tuesday.host_id
    assert monday.meeting_uuid != tuesday.meeting_uuid


def test_build_class_roster_is_realistic(sim: SimulatedClass) -> None:
    assert len(sim.roster) == 30
    assert {tuple(row) for row in sim.roster} == {
        ("student_id", "first_name", "last_name", "email", "department", "aliases")
    }
    assert len({row["student_id"] for row in sim.roster}) == 30
    assert ("José", "Núñez") in {(r["first_name"], r["last_name"]) for r in sim.roster}
    with_email = [r for r in sim.roster if r["email"]]
    assert 15 <= len(with_email) < 30
    assert any(r["aliases"] for r in sim.roster)
    names = {
        _participant(e)["user_name"] for e in _named(sim, "meeting.participant_joined")
    }
    assert any(re.search(r"\((she/her|he/him|they/them)\)$", n) for n in names)


def test_build_class_rejects_impossible_options() -> None:
    with pytest.raises(ValueError, match="exceed students"):
        _sim(students=5, late=3, absent=3)
    with pytest.raises(ValueError, match="duration"):
        _sim(duration_minutes=10)
    with pytest.raises(ValueError, match="disorder"):
        _sim(disorder=1.5)
    with pytest.raises(ValueError, match="timezone-aware"):
        _sim(start=datetime(2026, 3, 2, 14, 0))  # noqa: DTZ001 - the point of the test


# -- payload shapes ---------------------------------------------------------------


def test_events_parse_and_have_zoom_shapes(sim: SimulatedClass) -> None:
    previous = 0
    for event in sim.events:
        assert set(event) - {"download_token"} == {"event", "event_ts", "payload"}
        assert isinstance(event["event_ts"], int) and event["event_ts"] > previous
        previous = event["event_ts"]
        assert set(event["payload"]) == {"account_id", "object"}
        obj = event["payload"]["object"]
        assert MEETING_FIELDS <= set(obj)
        assert obj["uuid"] == sim.meeting_uuid
        if event["event"].startswith("recording."):
            assert obj["id"] == sim.meeting_number  # a number in recording.*
        else:
            assert obj["id"] == str(sim.meeting_number)  # a string elsewhere
        parse_event(event)  # the app's own parser accepts every one


def test_event_ts_is_milliseconds_of_the_timeline(sim: SimulatedClass) -> None:
    first, last = sim.events[0]["event_ts"], sim.events[-1]["event_ts"]
    assert sim.start.timestamp() * 1000 <= first < sim.start.timestamp() * 1000 + 1000
    assert last > sim.end.timestamp() * 1000  # recording.completed comes after the end


def test_times_are_zulu_seconds(sim: SimulatedClass) -> None:
    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif key.endswith(("_time", "date_time", "recording_start")):
            assert ZULU.match(value), (key, value)
        elif key == "recording_end" and value:
            assert ZULU.match(value), (key, value)

    for event in sim.events:
        walk(event)


def test_participant_events_carry_every_field(sim: SimulatedClass) -> None:
    times = {
        "meeting.participant_joined": {"join_time"},
        "meeting.participant_left": {"leave_time", "leave_reason"},
        "meeting.participant_joined_waiting_room": {"date_time"},
        "meeting.participant_admitted": {"date_time"},
        "meeting.participant_left_waiting_room": {"date_time"},
        "meeting.participant_joined_breakout_room": {"join_time", "parent_user_id"},
        "meeting.participant_left_breakout_room": {
            "leave_time",
            "leave_reason",
            "parent_user_id",
        },
    }
    for name, extra in times.items():
        events = _named(sim, name)
        assert events, name
        for event in events:
            p = _participant(event)
            assert set(p) == PARTICIPANT_FIELDS | extra, name
            assert p["user_id"].isdigit()
            assert p["id"] == p["participant_user_id"]
            if "leave_reason" in p:
                assert "<br>Reason: " in p["leave_reason"]


def test_meeting_starts_with_the_host(sim: SimulatedClass) -> None:
    assert sim.events[0]["event"] == "meeting.started"
    started = sim.events[0]["payload"]["object"]
    assert started["start_time"] == "2026-03-02T14:00:00Z"
    assert started["host_id"] == sim.host_id
    first_join = _participant(_named(sim, "meeting.participant_joined")[0])
    assert first_join["participant_user_id"] == sim.host_id
    assert first_join["join_time"] == started["start_time"]


def test_meeting_ends_and_everyone_still_in_leaves(sim: SimulatedClass) -> None:
    (ended,) = _named(sim, "meeting.ended")
    end_time = ended["payload"]["object"]["end_time"]
    assert end_time == "2026-03-02T15:00:00Z"
    joined = _by_user(sim, "meeting.participant_joined")
    left = _by_user(sim, "meeting.participant_left")
    assert set(joined) == set(left)  # every connection leaves, once
    at_end = [p for p in left.values() if p["leave_time"] == end_time]
    assert at_end and all(
        p["leave_reason"].endswith("Reason: Host ended the meeting.") for p in at_end
    )
    assert sim.host_id in {p["participant_user_id"] for p in at_end}


def test_waiting_room_precedes_every_join_but_the_hosts(sim: SimulatedClass) -> None:
    waiting = _by_user(sim, "meeting.participant_joined_waiting_room")
    admitted = _by_user(sim, "meeting.participant_admitted")
    left_waiting = _by_user(sim, "meeting.participant_left_waiting_room")
    for user_id, p in _by_user(sim, "meeting.participant_joined").items():
        if p["participant_user_id"] == sim.host_id:
            assert user_id not in waiting
            continue
        assert _when(waiting[user_id]["date_time"]) <= _when(
            admitted[user_id]["date_time"]
        )
        assert admitted[user_id]["date_time"] == left_waiting[user_id]["date_time"]
        assert _when(admitted[user_id]["date_time"]) <= _when(p["join_time"])


def test_no_waiting_room_when_disabled() -> None:
    names = Counter(e["event"] for e in _sim(waiting_room=False).events)
    assert not any("waiting_room" in n or n.endswith("admitted") for n in names)
    assert names["meeting.participant_joined"] > 0


def test_rejoin_gets_a_new_user_id(sim: SimulatedClass) -> None:
    joined = _by_user(sim, "meeting.participant_joined")
    left = _by_user(sim, "meeting.participant_left")
    for student_id in sim.cast["drop_rejoin"]:
        first, again = sim.connections[student_id]
        assert first != again
        assert _when(left[first]["leave_time"]) < _when(joined[again]["join_time"])
        assert left[first]["leave_reason"].endswith("Network connection error.")


def test_two_devices_overlap_and_share_an_identifier(sim: SimulatedClass) -> None:
    joined = _by_user(sim, "meeting.participant_joined")
    left = _by_user(sim, "meeting.participant_left")
    shared = []
    for student_id in sim.cast["two_device"]:
        laptop, phone = (joined[u] for u in sim.connections[student_id])
        assert laptop["user_id"] != phone["user_id"]
        assert _when(phone["join_time"]) < _when(left[laptop["user_id"]]["leave_time"])
        same_account = phone["participant_user_id"] and (
            phone["participant_user_id"] == laptop["participant_user_id"]
        )
        same_email = phone["email"] and phone["email"] == laptop["email"]
        email_on_one = bool(laptop["email"]) != bool(phone["email"])
        assert same_account or same_email or email_on_one
        shared.append(bool(same_account or same_email))
    assert any(shared)


def test_breakout_rooms_name_their_parent(sim: SimulatedClass) -> None:
    main_ids = {u for ids in sim.connections.values() for u in ids}
    joined_main = _by_user(sim, "meeting.participant_joined")
    left_main = _by_user(sim, "meeting.participant_left")
    joins = _named(sim, "meeting.participant_joined_breakout_room")
    leaves = {
        _participant(e)["user_id"]: e
        for e in _named(sim, "meeting.participant_left_breakout_room")
    }
    assert len(joins) == len(leaves) == 4
    parents = set()
    for event in joins:
        obj, p = event["payload"]["object"], _participant(event)
        assert obj["breakout_room_uuid"] and obj["breakout_room_uuid"] != obj["uuid"]
        assert p["user_id"] not in main_ids and p["parent_user_id"] in main_ids
        parents.add(p["parent_user_id"])
        parent = joined_main[p["parent_user_id"]]
        assert p["user_name"] == parent["user_name"]
        leave = leaves[p["user_id"]]
        room = leave["payload"]["object"]["breakout_room_uuid"]
        assert room == obj["breakout_room_uuid"]
        # the main-room connection stays open around the breakout stretch
        assert _when(parent["join_time"]) < _when(p["join_time"])
        main_leave = _when(left_main[p["parent_user_id"]]["leave_time"])
        assert main_leave >= _when(_participant(leave)["leave_time"])
    assert parents == {sim.connections[s][0] for s in sim.cast["breakout"]}


def test_role_change_sharing_and_recording(sim: SimulatedClass) -> None:
    (role,) = _named(sim, "meeting.participant_role_changed")
    p = _participant(role)
    assert (p["old_role"], p["new_role"]) == ("attendee", "co-host")
    assert [p["user_name"]] == sim.cast["co_host"]
    assert "registrant_id" not in p and ZULU.match(p["date_time"])
    (shared,) = _named(sim, "meeting.sharing_started")
    (unshared,) = _named(sim, "meeting.sharing_ended")
    details = _participant(shared)["sharing_details"]
    assert details["content"] == "application"
    assert _when(details["date_time"]) < _when(
        _participant(unshared)["sharing_details"]["date_time"]
    )
    (started,) = _named(sim, "recording.started")
    (stopped,) = _named(sim, "recording.stopped")
    (completed,) = _named(sim, "recording.completed")
    assert started["payload"]["object"]["recording_file"]["recording_start"]
    assert stopped["payload"]["object"]["recording_file"]["recording_end"]
    assert completed["download_token"]
    files = completed["payload"]["object"]["recording_files"]
    assert len({f["id"] for f in files}) == len(files) == 4
    assert {f["meeting_id"] for f in files} == {sim.meeting_uuid}
    assert all(f["download_url"].startswith("https://") for f in files)
    assert completed["payload"]["object"]["recording_count"] == len(files)


# -- options honored --------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"students": 12, "guests": 0, "late": 1, "drop_rejoin": 0, "two_device": 1},
        {"students": 40, "guests": 6, "late": 5, "drop_rejoin": 4, "breakout": 9},
        {"students": 8, "late": 0, "absent": 0, "left_early": 0, "waiting_room": False},
    ],
)
def test_options_are_honored(options: dict[str, Any]) -> None:
    sim = _sim(**options)
    o = sim.options
    start, end = sim.start, sim.end
    joined = _by_user(sim, "meeting.participant_joined")
    left = _by_user(sim, "meeting.participant_left")
    assert len(sim.roster) == o.students
    attending = o.students - o.absent
    assert len(joined) == 1 + attending + o.drop_rejoin + o.two_device + o.guests
    for role in ("late", "drop_rejoin", "two_device", "left_early", "absent"):
        assert len(sim.cast[role]) == getattr(o, role), role
    assert len(sim.cast["breakout"]) == o.breakout
    assert len(sim.cast["guests"]) == o.guests
    for student_id in sim.cast["absent"]:
        assert sim.connections[student_id] == []
    for student_id in sim.cast["late"]:
        (user_id,) = sim.connections[student_id]
        late_by = _when(joined[user_id]["join_time"]) - start
        assert timedelta(minutes=12) <= late_by <= timedelta(minutes=25)
    for student_id in sim.cast["left_early"]:
        (user_id,) = sim.connections[student_id]
        assert end - _when(left[user_id]["leave_time"]) >= timedelta(minutes=15)
    for student_id in sim.cast["on_time"]:
        assert len(sim.connections[student_id]) == 1
    guests = [p for p in joined.values() if p["user_name"] in sim.cast["guests"]]
    assert len(guests) == o.guests
    assert all(p["email"] == "" and p["participant_user_id"] == "" for p in guests)
    breakout = _named(sim, "meeting.participant_joined_breakout_room")
    assert len(breakout) == o.breakout


# -- delivery order -----------------------------------------------------------------


def _bodies(payloads: list[dict[str, Any]]) -> list[bytes]:
    return [encode(p) for p in payloads]


def test_deliveries_without_disorder_are_the_events() -> None:
    sim = _sim()
    assert sim.deliveries() == sim.events


def test_disorder_and_duplicates_keep_the_set_of_events() -> None:
    sim = _sim(disorder=0.3, duplicates=0.2)
    deliveries = sim.deliveries()
    n = len(sim.events)
    assert len(deliveries) == n + round(0.2 * n)
    assert set(_bodies(deliveries)) == set(_bodies(sim.events))
    assert _bodies(deliveries) != _bodies(sim.events)
    copies = Counter(_bodies(deliveries))
    assert sum(c - 1 for c in copies.values()) == round(0.2 * n)
    # at least one participant_left is delivered before its participant_joined
    position: dict[tuple[str, str], int] = {}
    for index, event in enumerate(deliveries):
        if event["event"] in ("meeting.participant_joined", "meeting.participant_left"):
            key = (event["event"], _participant(event)["user_id"])
            position.setdefault(key, index)
    assert any(
        position[("meeting.participant_left", user)] < index
        for (name, user), index in position.items()
        if name == "meeting.participant_joined"
    )


def test_deliveries_fold_to_the_same_connections() -> None:
    sim = _sim(disorder=0.5, duplicates=0.5)

    def connections(events: list[dict[str, Any]]):
        return fold(s for e in events if (s := sighting(parse_event(e))) is not None)

    assert connections(sim.deliveries()) == connections(sim.events)


# -- deliver() --------------------------------------------------------------------


def _verifying_sender(answers: list[int] | None = None):
    """A fake ``send`` that checks every signature and answers from ``answers``."""
    received: list[bytes] = []
    lock = threading.Lock()
    script = list(answers or [])

    def send(body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        signature.verify(
            [SECRET],
            headers["x-zm-signature"],
            headers["x-zm-request-timestamp"],
            body,
            now=time.time(),
            max_skew=300,
        )
        assert headers["content-type"].startswith("application/json")
        with lock:
            received.append(body)
            code = script.pop(0) if script else 200
        return code, {"status": "processed"}

    return send, received


def test_deliver_signs_compact_json_and_counts() -> None:
    sim = _sim(**SMALL, topic="Biología 101 — Sección Ñ")
    send, received = _verifying_sender()
    progress: list[int] = []
    report = deliver(sim.events, send, secret=SECRET, on_progress=progress.append)
    assert received == _bodies(sim.events)
    assert b'":"' in received[0] and b'": ' not in received[0]  # compact
    assert "Sección Ñ".encode() in received[0]  # raw UTF-8, signed as such
    assert report.sent == report.attempts == len(sim.events) == len(progress)
    assert report.by_http == {200: len(sim.events)}
    assert report.by_status == {"processed": len(sim.events)}
    assert report.failed == report.retried == 0


def test_deliver_retries_non_2xx_with_backoff() -> None:
    events = _sim(**SMALL).events[:3]
    send, received = _verifying_sender([503, 500, 200])
    report = deliver(events, send, secret=SECRET, backoff=0.001)
    assert report.sent == 3 and report.failed == 0
    assert report.retried == 2 and report.attempts == 5
    assert report.by_http == {503: 1, 500: 1, 200: 3}
    assert received[0] == received[1] == received[2]

    send, _ = _verifying_sender([401] * 10)
    report = deliver(events[:1], send, secret=SECRET, retries=2, backoff=0.001)
    assert report.failed == 1 and report.attempts == 3 and report.by_http == {401: 3}


def test_deliver_with_a_thread_pool_sends_everything_once() -> None:
    sim = _sim(**SMALL, duplicates=0.2)
    deliveries = sim.deliveries()
    send, received = _verifying_sender()
    progress: list[int] = []
    report = deliver(
        deliveries, send, secret=SECRET, concurrency=6, on_progress=progress.append
    )
    assert Counter(received) == Counter(_bodies(deliveries))
    assert report.sent == len(deliveries) == len(progress)


def test_deliver_surfaces_a_failing_send() -> None:
    def send(body: bytes, headers: dict[str, str]) -> int:
        raise ConnectionError("server went away")

    events = _sim(**SMALL).events
    for concurrency in (1, 4):
        with pytest.raises(ConnectionError):
            deliver(events, send, secret=SECRET, concurrency=concurrency)


def test_deliver_paces_along_the_timeline() -> None:
    base = int(START.timestamp() * 1000)
    payloads = [
        {"event": "x", "event_ts": base + offset, "payload": {}}
        for offset in (0, 3000, 1000, 6000)  # the third arrives late: sent at once
    ]
    sent_at: list[float] = []

    def send(body: bytes, headers: dict[str, str]) -> int:
        sent_at.append(time.monotonic())
        return 204

    began = time.monotonic()
    deliver(payloads, send, secret=SECRET, speed=30, start=START)
    offsets = [at - began for at in sent_at]
    assert offsets[0] < 0.08
    assert 0.09 <= offsets[1] < 0.3 and offsets[2] - offsets[1] < 0.05
    assert 0.19 <= offsets[3] < 0.5


# -- through the real route ----------------------------------------------------------


def _client_sender(client):
    def send(body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = client.post("/api/zoom/webhook", data=body, headers=headers)
        return response.status_code, response.get_json(silent=True)

    return send


def test_every_delivery_verifies_through_the_route(app, client) -> None:
    sim = _sim(students=14, breakout=3, disorder=0.3, duplicates=0.15)
    deliveries = sim.deliveries()
    report = deliver(deliveries, _client_sender(client), secret=SECRET)
    assert report.by_http == {200: len(deliveries)}
    assert report.failed == 0
    # distinct events are kept once each; identical re-deliveries are recognized
    assert report.by_status["duplicate"] == len(deliveries) - len(sim.events)
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(WebhookEvent))
    assert stored == len(sim.events)


# -- the expected result ------------------------------------------------------------


def _records(sim: SimulatedClass, result) -> dict[str, Any]:
    by_pk = {r.student_pk: r for r in result.records}
    return {row["student_id"]: by_pk[pk] for pk, row in enumerate(sim.roster, 1)}


def test_expected_result_statuses(sim: SimulatedClass) -> None:
    pytest.importorskip("attendance.core.compute")
    result = expected_result(sim)
    records = _records(sim, result)
    assert len(result.records) == len(sim.roster)
    for student_id in sim.cast["on_time"] + sim.cast["drop_rejoin"]:
        assert records[student_id].status is Status.PRESENT, student_id
    for student_id in sim.cast["late"]:
        assert records[student_id].status is Status.LATE, student_id
        assert records[student_id].late
    for student_id in sim.cast["left_early"]:
        assert records[student_id].status is Status.LEFT_EARLY, student_id
    for student_id in sim.cast["absent"]:
        record = records[student_id]
        assert record.status is Status.ABSENT and record.attended_seconds == 0
    for student_id in sim.cast["drop_rejoin"] + sim.cast["two_device"]:
        assert records[student_id].sessions == 2, student_id
    assert sorted(g.name for g in result.guests) == sorted(sim.cast["guests"])
    roles = {g.name: g.role for g in result.guests}
    assert roles[sim.cast["co_host"][0]] == "co-host"
    assert result.start == sim.start and result.end == sim.end
    assert result.participant_count == len(sim.roster) - len(sim.cast["absent"]) + len(
        sim.cast["guests"]
    )


def test_expected_result_with_a_given_roster_and_policy() -> None:
    pytest.importorskip("attendance.core.compute")
    sim = _sim(students=10, absent=0, guests=1)
    row = sim.roster[0]
    roster = [
        Student(
            pk=101,
            student_id=row["student_id"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row["email"],
            alias_emails=tuple(a for a in row["aliases"].split(";") if "@" in a),
            alias_names=tuple(
                a for a in row["aliases"].split(";") if a and "@" not in a
            ),
        ),
        Student(pk=102, student_id="X-404", first_name="Nadie", last_name="Nunca"),
    ]
    result = expected_result(sim, Policy(late_after_minutes=30), roster)
    first, never = result.records
    assert first.student_pk == 101 and first.status is not Status.ABSENT
    assert never.student_pk == 102 and never.status is Status.ABSENT
    assert never.first_join is None and never.sessions == 0
    # a looser late threshold turns the late joiners Present
    late = [r for r in _records(sim, expected_result(sim)).values() if r.late]
    relaxed = _records(sim, expected_result(sim, Policy(late_after_minutes=30)))
    assert late and all(relaxed[r_id].status is not Status.LATE for r_id in relaxed)


# -- the CLI -----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_unreachable_server_is_a_clear_error(app, runner) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = runner.invoke(simulate_command, ["--url", url])
    assert result.exit_code == 1
    assert "not reachable" in result.output and url in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert (
            db.session.scalar(select(Course).where(Course.code == "DEMO-101")) is None
        )


def test_cli_without_a_secret_says_how_to_set_one(database_url) -> None:
    bare = make_test_app(database_url, ZOOM_WEBHOOK_SECRETS=())
    result = bare.test_cli_runner().invoke(simulate_command, ["--students", "5"])
    assert result.exit_code == 1
    assert "set ZOOM_WEBHOOK_SECRET_TOKEN or pass --secret" in result.output


def test_cli_rejects_options_that_do_not_fit(runner) -> None:
    result = runner.invoke(simulate_command, ["--students", "3", "--late", "4"])
    assert result.exit_code == 2
    assert "exceed students" in result.output


class _ClientTransport:
    """Stands in for the HTTP transport: the app's test client answers.

    Requests run on another thread, as in a server: on the command's own thread
    they would share its app context, and so its database session.
    """

    def __init__(self, client) -> None:
        self._send = _client_sender(client)
        self.checked = False

    def send(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        with ThreadPoolExecutor(max_workers=1) as server:
            return server.submit(self._send, body, headers).result()

    def check(self) -> None:
        self.checked = True

    def close(self) -> None:
        pass


def test_cli_creates_the_course_imports_and_delivers(app, runner, monkeypatch) -> None:
    from attendance.simulator import cli as simulator_cli

    transport = _ClientTransport(app.test_client())
    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: transport)
    with app.app_context():
        course = Course(code="BIO-7", title="Biology", timezone="UTC")
        course.meeting_numbers.append(CourseMeetingNumber(zoom_meeting_id=987654321))
        db.session.add(course)
        db.session.commit()
    args = ["--course", "BIO-7", "--students", "12", "--guests", "1", "--speed", "0"]
    args += ["--concurrency", "1", "--duplicates", "0.1", "--seed", "5"]
    result = runner.invoke(simulate_command, args)
    assert result.exit_code == 0, result.output
    assert transport.checked
    assert "BIO-7: 12 students (12 new, 0 updated)" in result.output
    assert "HTTP 200:" in result.output and "duplicate:" in result.output
    assert re.search(
        r"attendance: flask --app app attendance recompute '\S+'", result.output
    )
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.code == "BIO-7"))
        assert [n.zoom_meeting_id for n in course.meeting_numbers] == [
            987654321,
            84712639219,
        ]
        count = select(func.count()).select_from(StudentRow)
        assert db.session.scalar(count.where(StudentRow.course_id == course.id)) == 12
        stored = db.session.scalar(select(func.count()).select_from(WebhookEvent))
        assert stored > 12
    # Again: the course has a roster now, so it plays it (a new meeting
    # instance) and adds no one, whatever --students says.
    again = runner.invoke(simulate_command, [*args, "--students", "20"])
    assert again.exit_code == 0, again.output
    assert "BIO-7: 12 students (its own roster, none added)" in again.output
    assert "--students is ignored" in again.output
    with app.app_context():
        assert db.session.scalar(count.where(StudentRow.course_id == course.id)) == 12


def test_cli_creates_a_demo_course_by_default(app, runner, monkeypatch) -> None:
    from attendance.simulator import cli as simulator_cli

    transport = _ClientTransport(app.test_client())
    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: transport)
    args = ["--students", "5", "--speed", "0", "--concurrency", "1", "--guests", "0"]
    args += ["--late", "1", "--drop-rejoin", "1", "--two-device", "1", "--absent", "1"]
    args += ["--left-early", "0", "--no-waiting-room", "--meeting-number", "123456789"]
    result = runner.invoke(simulate_command, args)
    assert result.exit_code == 0, result.output
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.code == "DEMO-101"))
        assert (course.title, course.timezone) == ("Demo course", "UTC")
        assert [n.zoom_meeting_id for n in course.meeting_numbers] == [123456789]
    bodies = [json.loads(e.body) for e in _stored(app)]
    assert not any("waiting_room" in b["event"] for b in bodies)


def _stored(app) -> list[WebhookEvent]:
    with app.app_context():
        rows = db.session.scalars(select(WebhookEvent)).all()
        db.session.expunge_all()
        return list(rows)


def _small_class():
    return build_class(
        SimulationOptions(
            students=12,
            guests=1,
            late=1,
            drop_rejoin=1,
            two_device=1,
            left_early=1,
            absent=1,
            seed=4,
        )
    )


class _CountingTransport:
    """A transport that answers 200 and writes each body it gets to a shared file."""

    def __init__(self, path):
        self.path = path

    def send(self, body, headers):
        assert headers["x-zm-signature"].startswith("v0=")
        with open(self.path, "ab") as fh:
            fh.write(body + b"\n")
        return 200, {"status": "queued"}

    def close(self):
        pass


def test_deliver_parallel_splits_across_processes_and_sums_reports(tmp_path):
    from attendance.simulator.delivery import deliver_parallel

    sim = _small_class()
    sink = tmp_path / "bodies"
    progress = []
    report = deliver_parallel(
        sim.events,
        lambda: _CountingTransport(sink),
        secret="s",
        concurrency=3,
        processes=3,
        on_progress=progress.append,
    )
    assert report.sent == len(sim.events) == sum(progress)
    assert report.by_http == {200: len(sim.events)}
    delivered = sink.read_bytes().splitlines()
    assert sorted(delivered) == sorted(
        json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode()
        for e in sim.events
    )


def test_deliver_unpaced_raises_the_first_send_error():
    from attendance.simulator.delivery import deliver

    sim = _small_class()

    def broken(body, headers):
        raise ConnectionRefusedError("server went away")

    with pytest.raises(ConnectionRefusedError):
        deliver(sim.events, broken, secret="s", concurrency=4)


# -- a course's own roster ------------------------------------------------------------

_OWN_ROSTER = [
    {
        "student_id": "H1",
        "first_name": "Hana",
        "last_name": "Ito",
        "email": "hana@u.edu",
    },
    {
        "student_id": "H2",
        "first_name": "Iker",
        "last_name": "Sanz",
        "email": "iker@u.edu",
    },
    {"student_id": "H3", "first_name": "Jon", "last_name": "Oyelaran", "email": ""},
    {
        "student_id": "H4",
        "first_name": "Kim",
        "last_name": "Lund",
        "email": "kim@u.edu",
    },
]


def test_build_class_plays_a_given_roster_and_fits_the_roles() -> None:
    sim = build_class(
        SimulationOptions(start=START, students=30, late=3, absent=2, two_device=2),
        roster=_OWN_ROSTER,
    )
    assert [r["student_id"] for r in sim.roster] == ["H1", "H2", "H3", "H4"]
    assert sim.options.students == 4
    # absent 2, late 2, then nothing left for the other roles
    assert (len(sim.cast["absent"]), len(sim.cast["late"])) == (2, 2)
    assert sim.cast["drop_rejoin"] == sim.cast["two_device"] == []
    joined = {
        _participant(e)["email"]
        for e in _named(sim, "meeting.participant_joined")
        if _participant(e)["participant_user_id"] != sim.host_id
    }
    # No invented student: only the roster's e-mails (or none: a name, a guest).
    assert joined - {""} <= {"hana@u.edu", "iker@u.edu", "kim@u.edu"}
    played = {sid for role in ("late", "on_time") for sid in sim.cast[role]}
    assert played <= {"H1", "H2", "H3", "H4"} and len(played) == 2


def test_cli_plays_an_existing_roster_and_adds_no_student(
    app, runner, monkeypatch
) -> None:
    from datetime import date

    from attendance.models import AttendanceRecord, Meeting
    from attendance.services.roster import import_rows
    from attendance.simulator import cli as simulator_cli

    transport = _ClientTransport(app.test_client())
    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: transport)
    with app.app_context():
        course = Course(code="HIST-9", title="History", timezone="Europe/Madrid")
        db.session.add(course)
        db.session.flush()
        rows = [
            *_OWN_ROSTER,
            {
                **_OWN_ROSTER[0],
                "student_id": "H5",
                "first_name": "Lea",
                "last_name": "Gone",
                "email": "lea@u.edu",
                "withdrawn_on": "2020-01-01",
            },
        ]
        import_rows(course, list(enumerate(rows, start=2)))
        db.session.commit()
    args = ["--course", "HIST-9", "--speed", "0", "--concurrency", "1"]
    args += ["--absent", "0", "--late", "1", "--drop-rejoin", "0", "--two-device", "1"]
    args += ["--left-early", "0", "--guests", "1", "--meeting-number", "123456789"]
    result = runner.invoke(simulate_command, args)
    assert result.exit_code == 0, result.output
    assert (
        "HIST-9: 4 students (its own roster, none added; 1 withdrawn left out)"
        in result.output
    )
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.code == "HIST-9"))
        students = db.session.scalars(
            select(StudentRow).where(StudentRow.course_id == course.id)
        ).all()
        assert sorted(s.student_id for s in students) == ["H1", "H2", "H3", "H4", "H5"]
        assert [n.zoom_meeting_id for n in course.meeting_numbers] == [123456789]
        meeting = db.session.scalar(
            select(Meeting).where(Meeting.course_id == course.id)
        )
        records = {
            db.session.get(StudentRow, r.student_id).student_id: r
            for r in db.session.scalars(
                select(AttendanceRecord).where(
                    AttendanceRecord.meeting_id == meeting.id
                )
            )
        }
        # Every enrolled student joined and was matched; the withdrawn one is
        # on no roster of this meeting and never came.
        assert sorted(records) == ["H1", "H2", "H3", "H4"]
        assert all(r.effective_status != Status.ABSENT.value for r in records.values())
        assert {records[s].matched_by for s in ("H1", "H2", "H4")} == {"email"}
        assert records["H3"].matched_by == "name"
        lea = next(s for s in students if s.student_id == "H5")
        assert lea.withdrawn_on == date(2020, 1, 1)
