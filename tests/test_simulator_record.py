"""The simulator's record of a class (Zoom's report of it), lost leaves, an offline
class, and the fake Zoom serving what was recorded, over real HTTP."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import Course, WebhookEvent
from attendance.simulator.cli import simulate_command
from attendance.simulator.record import (
    fake_data,
    lost_leaves,
    merged,
    report_rows,
    without_leaves,
)
from attendance.simulator.scenario import SimulatedClass, SimulationOptions, build_class
from tests.fake_zoom import (  # noqa: F401 - fixtures: the fake, the app on it
    FakeZoom,
    app_on_fake_zoom,
    fake_zoom,
    served,
)

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ACCOUNT = {"account_id": "acct-r", "client_id": "cid-r", "client_secret": "sec-r"}
JOINED, LEFT = "meeting.participant_joined", "meeting.participant_left"


def _sim(**overrides: Any) -> SimulatedClass:
    options: dict[str, Any] = {"start": START, "students": 30, "breakout": 4}
    options.update(overrides)
    return build_class(SimulationOptions(**options))


def _when(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _participant(event: dict[str, Any]) -> dict[str, Any]:
    return event["payload"]["object"]["participant"]


def _webhook_spans(events: list[dict[str, Any]], user_ids: list[str]) -> list[tuple]:
    """(joined, left) per connection, from the joins and leaves the webhooks carried."""
    joins: dict[str, datetime] = {}
    leaves: dict[str, datetime] = {}
    for event in events:
        p = _participant(event) if event["event"] in (JOINED, LEFT) else None
        if p is None or p["user_id"] not in user_ids:
            continue
        if event["event"] == JOINED:
            joins[p["user_id"]] = _when(p["join_time"])
        else:
            leaves[p["user_id"]] = _when(p["leave_time"])
    return sorted((joins[u], leaves[u]) for u in user_ids)


def _row_spans(rows: list[dict[str, Any]], user_ids: list[str]) -> list[tuple]:
    return sorted(
        (_when(r["join_time"]), _when(r["leave_time"]))
        for r in rows
        if r["user_id"] in user_ids
        and r["status"] == "in_meeting"
        and not r["bo_mtg_id"]
    )


# -- the record, pure ------------------------------------------------------------------


def test_record_gives_each_student_the_times_the_webhooks_carried() -> None:
    sim = _sim(drop_rejoin=3, two_device=2, late=3, left_early=2)
    rows = report_rows(sim)
    played = [s for s, ids in sim.connections.items() if ids]
    assert len(played) == 30 - 2  # everyone but the two absent
    for student_id in played:
        user_ids = sim.connections[student_id]
        assert _row_spans(rows, user_ids) == _webhook_spans(sim.events, user_ids), (
            student_id
        )
    for student_id in sim.cast["drop_rejoin"] + sim.cast["two_device"]:
        assert len(_row_spans(rows, sim.connections[student_id])) == 2
    for student_id in sim.cast["absent"]:
        assert sim.connections[student_id] == []


def test_record_rows_have_zoom_report_fields_and_hide_guest_ids() -> None:
    sim = _sim()
    rows = report_rows(sim)
    joined = [e for e in sim.events if e["event"] == JOINED]
    # One in-meeting row per connection that joined the main room.
    main = [r for r in rows if r["status"] == "in_meeting" and not r["bo_mtg_id"]]
    assert sorted(r["user_id"] for r in main) == sorted(
        _participant(e)["user_id"] for e in joined
    )
    for row in main:
        event = next(e for e in joined if _participant(e)["user_id"] == row["user_id"])
        p = _participant(event)
        assert (row["name"], row["user_email"]) == (p["user_name"], p["email"])
        assert row["id"] == row["participant_user_id"] == p["participant_user_id"]
        span = _when(row["leave_time"]) - _when(row["join_time"])
        assert row["duration"] == span.total_seconds() > 0
    guests = [r for r in main if r["name"] in sim.cast["guests"]]
    assert guests and all(r["id"] == r["participant_user_id"] == "" for r in guests)
    assert any(r["id"] for r in main if r["user_email"].endswith(".edu"))
    # A breakout visit is a row of its own, naming its room.
    rooms = [r for r in rows if r["bo_mtg_id"]]
    assert len(rooms) == 4 and all(r["status"] == "in_meeting" for r in rooms)
    times = [r["join_time"] for r in rows]
    assert times == sorted(times)


def test_record_has_waiting_room_rows_only_with_a_waiting_room() -> None:
    sim = _sim()
    rows = report_rows(sim)
    waiting = [r for r in rows if r["status"] == "in_waiting_room"]
    admitted = {
        _participant(e)["user_id"]: _when(_participant(e)["date_time"])
        for e in sim.events
        if e["event"] == "meeting.participant_admitted"
    }
    assert {r["user_id"] for r in waiting} == set(admitted)
    for row in waiting:
        assert _when(row["leave_time"]) == admitted[row["user_id"]]
    bare = report_rows(_sim(waiting_room=False))
    assert bare and all(r["status"] == "in_meeting" for r in bare)


def test_fake_data_lists_the_instance_and_merges_into_a_file() -> None:
    first, second = _sim(seed=1), _sim(seed=1, start=START.replace(day=9))
    data = fake_data(first)
    assert data["instances"] == {
        str(first.meeting_number): [
            {"uuid": first.meeting_uuid, "start_time": "2026-03-02T14:00:00Z"}
        ]
    }
    both = merged(merged({"accounts": [ACCOUNT]}, data), fake_data(second))
    again = merged(both, fake_data(second))  # recording twice lists it once
    assert again["accounts"] == [ACCOUNT]
    assert set(again["meetings"]) == {first.meeting_uuid, second.meeting_uuid}
    listed = again["instances"][str(first.meeting_number)]
    assert [i["uuid"] for i in listed] == [first.meeting_uuid, second.meeting_uuid]


def test_lost_leaves_are_the_earliest_final_leaves_and_only_those() -> None:
    sim = _sim(duplicates=0.3, disorder=0.2, left_early=2, drop_rejoin=2)
    lost = lost_leaves(sim, 3)
    assert len(lost) == 3
    # The two who left early lose theirs first; a drop-and-rejoin loses its last leave.
    assert set(sim.cast["left_early"]) <= set(lost)
    for student_id, conn in lost.items():
        assert conn.user_id == sim.connections[student_id][-1] or (
            student_id in sim.cast["two_device"]
        )
    payloads = sim.deliveries()
    gone = {c.user_id for c in lost.values()}
    kept = without_leaves(payloads, gone)
    removed = [p for p in payloads if p not in kept]
    assert removed and all(
        p["event"] == LEFT and _participant(p)["user_id"] in gone for p in removed
    )
    assert not any(
        p["event"] == LEFT and _participant(p)["user_id"] in gone for p in kept
    )
    # Their joins are still sent, and the record still has their real leave.
    rows = report_rows(sim)
    for conn in lost.values():
        assert any(
            p["event"] == JOINED and _participant(p)["user_id"] == conn.user_id
            for p in kept
        )
        (row,) = [
            r
            for r in rows
            if r["user_id"] == conn.user_id and r["status"] == "in_meeting"
        ]
        assert conn.leave is not None and _when(row["leave_time"]) == conn.leave
    assert len(lost_leaves(sim, 500)) == 30 - 2  # at most the students who joined


# -- the fake Zoom, over HTTP ---------------------------------------------------------


def _typed(row: dict[str, Any]) -> tuple:
    return (
        row["user_id"],
        row["id"],
        row["participant_user_id"],
        row["name"],
        row["user_email"],
        _when(row["join_time"]),
        _when(row["leave_time"]),
        row["duration"],
        row["status"],
        row["bo_mtg_id"],
    )


def test_fake_serves_a_recorded_file_paged(tmp_path) -> None:
    sim = _sim(students=200, guests=10, breakout=0, seed=8)
    path = tmp_path / "zoom.json"
    path.write_text(json.dumps(fake_data(sim)), encoding="utf-8")
    recorded = report_rows(sim)
    assert len(recorded) > 300  # more than one page of 300
    with served() as fake:
        # The file as `flask --app app zoom fake --data FILE` loads it.
        fake.state.load(json.loads(path.read_text(encoding="utf-8")))
        with fake.client() as client:
            rows = list(client.report_participants(sim.meeting_uuid))
            instances = client.past_instances(sim.meeting_number)
        pages = fake.calls("/v2/report/meetings/")
    assert [c["query"].get("page_size") for c in pages] == ["300", "300"]
    assert "next_page_token" in pages[1]["query"]
    got = [
        (
            r.user_id,
            r.id,
            r.participant_user_id,
            r.name,
            r.user_email,
            r.join_time,
            r.leave_time,
            r.duration,
            r.status,
            r.bo_mtg_id,
        )
        for r in rows
    ]
    assert got == [_typed(r) for r in recorded]
    assert [(i.uuid, i.start_time) for i in instances] == [(sim.meeting_uuid, START)]


# -- the CLI ----------------------------------------------------------------------------


class _ClientTransport:
    """The app's test client standing in for the server, on another thread (as a
    server would answer: not in the command's app context)."""

    def __init__(self, client) -> None:
        self.client = client
        self.sent: list[dict[str, Any]] = []

    def send(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        self.sent.append(json.loads(body))

        def post() -> tuple[int, Any]:
            answer = self.client.post("/api/zoom/webhook", data=body, headers=headers)
            return answer.status_code, answer.get_json(silent=True)

        with ThreadPoolExecutor(max_workers=1) as server:
            return server.submit(post).result()

    def check(self) -> None:
        pass

    def close(self) -> None:
        pass


class _NoTransport:
    def send(self, body: bytes, headers: dict[str, str]) -> int:
        raise AssertionError("an offline class sent a webhook")

    def check(self) -> None:
        raise AssertionError("an offline class looked for the server")

    def close(self) -> None:
        pass


_SMALL = ["--students", "12", "--guests", "2", "--late", "1", "--drop-rejoin", "1"]
_SMALL += ["--two-device", "1", "--left-early", "2", "--absent", "1", "--speed", "0"]
_SMALL += ["--concurrency", "1", "--seed", "6"]


def _stored_bodies(app) -> list[dict[str, Any]]:
    with app.app_context():
        return [
            json.loads(e.body) for e in db.session.scalars(select(WebhookEvent)).all()
        ]


def test_cli_lost_leaves_are_in_the_record_but_never_sent(
    app, runner, monkeypatch, tmp_path
) -> None:
    from attendance.simulator import cli as simulator_cli

    transport = _ClientTransport(app.test_client())
    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: transport)
    path = tmp_path / "zoom.json"
    args = [*_SMALL, "--lose-leaves", "2", "--record", str(path), "--duplicates", "0.2"]
    result = runner.invoke(simulate_command, args)
    assert result.exit_code == 0, result.output
    assert "the final leave of 2 students" in result.output
    assert "flask --app app zoom reconcile '" in result.output
    data = json.loads(path.read_text(encoding="utf-8"))
    ((uuid, rows),) = data["meetings"].items()
    sent_leaves = {
        _participant(b)["user_id"] for b in transport.sent if b["event"] == LEFT
    }
    stored_leaves = {
        _participant(b)["user_id"] for b in _stored_bodies(app) if b["event"] == LEFT
    }
    assert stored_leaves == sent_leaves
    main = [r for r in rows if r["status"] == "in_meeting" and not r["bo_mtg_id"]]
    never_sent = [r for r in main if r["user_id"] not in sent_leaves]
    # The two early leavers: in the record with their real leave, long before the end.
    assert len(never_sent) == 2
    end = max(_when(r["leave_time"]) for r in rows)
    for row in never_sent:
        assert (end - _when(row["leave_time"])).total_seconds() >= 15 * 60
        assert row["name"] in result.output
    # Everyone else's leave was sent with the time the record has.
    leave_times = {
        _participant(b)["user_id"]: _when(_participant(b)["leave_time"])
        for b in transport.sent
        if b["event"] == LEFT
    }
    for row in main:
        if row["user_id"] in leave_times:
            assert leave_times[row["user_id"]] == _when(row["leave_time"])
    assert data["instances"]["84712639219"][0]["uuid"] == uuid


def test_cli_without_the_new_options_sends_every_leave(
    app, runner, monkeypatch, tmp_path
) -> None:
    from attendance.simulator import cli as simulator_cli

    transport = _ClientTransport(app.test_client())
    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: transport)
    result = runner.invoke(simulate_command, _SMALL)
    assert result.exit_code == 0, result.output
    assert "reconcile" not in result.output and "lost" not in result.output
    joined = {
        _participant(b)["user_id"] for b in transport.sent if b["event"] == JOINED
    }
    left = {_participant(b)["user_id"] for b in transport.sent if b["event"] == LEFT}
    assert len(joined) > 12 and left == joined


def test_cli_offline_sends_nothing_and_records_the_class(
    app, runner, monkeypatch, tmp_path
) -> None:
    from attendance.simulator import cli as simulator_cli

    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: _NoTransport())
    path = tmp_path / "zoom.json"
    path.write_text(json.dumps({"accounts": [ACCOUNT]}), encoding="utf-8")
    args = [*_SMALL, "--offline", "--record", str(path), "--course", "OFF-1"]
    first = runner.invoke(simulate_command, args)
    assert first.exit_code == 0, first.output
    assert "offline: no webhook sent" in first.output
    assert "flask --app app zoom backfill --course OFF-1" in first.output
    # Another class (a new seed: two runs in one second would be one instance).
    second = runner.invoke(simulate_command, [*args, "--seed", "7"])
    assert second.exit_code == 0, second.output
    assert _stored_bodies(app) == []
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.code == "OFF-1"))
        assert [n.zoom_meeting_id for n in course.meeting_numbers] == [84712639219]
        assert len(course.students) == 12
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["accounts"] == [ACCOUNT]  # what the file held is kept
    assert len(data["meetings"]) == 2
    assert [i["uuid"] for i in data["instances"]["84712639219"]] == list(
        data["meetings"]
    )
    for rows in data["meetings"].values():
        assert {r["status"] for r in rows} == {"in_meeting", "in_waiting_room"}


def test_cli_offline_needs_somewhere_to_keep_the_class(runner) -> None:
    result = runner.invoke(simulate_command, [*_SMALL, "--offline"])
    assert result.exit_code == 2
    assert "--record FILE" in result.output


def test_cli_gives_a_running_fake_the_class(
    app, runner, monkeypatch, fake: FakeZoom
) -> None:
    from attendance.simulator import cli as simulator_cli

    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: _NoTransport())
    args = [*_SMALL, "--offline", "--fake-url", fake.base + "/"]
    for seed in ("6", "7"):
        result = runner.invoke(simulate_command, [*args, "--seed", seed])
        assert result.exit_code == 0, result.output
        assert f"served by the fake Zoom at {fake.base}" in result.output
    uuids = list(fake.state.meetings)
    assert len(uuids) == 2
    with fake.client() as client:
        listed = client.past_instances(84712639219)
        rows = list(client.report_participants(uuids[1]))
    assert [i.uuid for i in listed] == uuids  # appended, not replaced
    assert [r.user_id for r in rows] == [
        r["user_id"] for r in fake.state.meetings[uuids[1]]
    ]
    assert len(rows) > 12


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("fake_url", "code", "message"),
    [
        ("ftp://127.0.0.1:1", 2, "must be an http(s) URL"),
        ("127.0.0.1:9100", 2, "must be an http(s) URL"),
        (None, 1, "did not take the class"),
    ],
)
def test_cli_bad_or_unreachable_fake_is_a_clear_error(
    app, runner, monkeypatch, fake_url: str | None, code: int, message: str
) -> None:
    from attendance.simulator import cli as simulator_cli

    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: _NoTransport())
    url = fake_url or f"http://127.0.0.1:{_closed_port()}"
    result = runner.invoke(simulate_command, [*_SMALL, "--offline", "--fake-url", url])
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output
    with app.app_context():
        assert db.session.scalar(select(Course)) is None


def test_cli_refuses_a_record_file_that_is_not_a_data_file(
    runner, monkeypatch, tmp_path
) -> None:
    from attendance.simulator import cli as simulator_cli

    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: _NoTransport())
    path = tmp_path / "zoom.json"
    path.write_text("[1, 2]", encoding="utf-8")
    result = runner.invoke(
        simulate_command, [*_SMALL, "--offline", "--record", str(path)]
    )
    assert result.exit_code == 1
    assert "cannot record the class" in result.output
    assert path.read_text(encoding="utf-8") == "[1, 2]"


def test_cli_offline_needs_no_webhook_secret(app, database_url, tmp_path) -> None:
    from tests.conftest import make_test_app

    bare = make_test_app(database_url, ZOOM_WEBHOOK_SECRETS=())
    path = tmp_path / "zoom.json"
    args = [*_SMALL, "--offline", "--record", str(path)]
    result = bare.test_cli_runner().invoke(simulate_command, args)
    assert result.exit_code == 0, result.output
    assert path.exists()


def test_cli_started_ago_plays_a_class_that_has_just_ended(
    app, runner, monkeypatch, tmp_path
) -> None:
    from attendance.simulator import cli as simulator_cli

    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: _NoTransport())
    path = tmp_path / "zoom.json"
    args = [*_SMALL, "--offline", "--record", str(path), "--started-ago", "60"]
    before = datetime.now(UTC).replace(microsecond=0)
    result = runner.invoke(simulate_command, args)
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    data = json.loads(path.read_text(encoding="utf-8"))
    (instance,) = data["instances"]["84712639219"]
    started = _when(instance["start_time"])
    assert before - timedelta(minutes=60) <= started <= after - timedelta(minutes=60)
    (rows,) = data["meetings"].values()
    ended = max(_when(r["leave_time"]) for r in rows)
    assert ended == started + timedelta(minutes=60) and ended <= after


def test_a_played_class_with_lost_leaves_is_corrected_from_the_fake(
    app, runner, monkeypatch, fake: FakeZoom
) -> None:
    """End to end: the lost leaves keep two students in; the fake's report corrects them."""
    from attendance.models import AttendanceRecord, Meeting
    from attendance.models import Student as StudentRow
    from attendance.services.reconciliation import reconcile_now
    from attendance.simulator import cli as simulator_cli

    transport = _ClientTransport(app.test_client())
    monkeypatch.setattr(simulator_cli, "_open_transport", lambda url: transport)
    args = [*_SMALL, "--lose-leaves", "2", "--started-ago", "60"]
    result = runner.invoke(simulate_command, [*args, "--fake-url", fake.base])
    assert result.exit_code == 0, result.output
    ((uuid, rows),) = fake.state.meetings.items()
    sent = {_participant(b)["user_id"] for b in transport.sent if b["event"] == LEFT}
    lost = sorted(
        f"{_when(r['leave_time']):%H:%M:%S}"
        for r in rows
        if r["status"] == "in_meeting" and r["user_id"] not in sent
    )
    assert len(lost) == 2

    def records() -> dict[str, tuple[str, str]]:
        found = db.session.execute(
            select(StudentRow.student_id, AttendanceRecord)
            .join(AttendanceRecord, AttendanceRecord.student_id == StudentRow.id)
            .join(Meeting, Meeting.id == AttendanceRecord.meeting_id)
            .where(Meeting.uuid == uuid)
        ).all()
        return {
            sid: (r.status, f"{r.last_leave:%H:%M:%S}" if r.last_leave else "")
            for sid, r in found
        }

    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == uuid))
        end = f"{meeting.end_time:%H:%M:%S}"
        before = records()
        reconciled = reconcile_now(meeting)
        assert reconciled.fetched == len(rows)
        after = records()
    changed = {sid for sid in after if after[sid] != before[sid]}
    # The two whose leave was lost: in to the end from the webhooks alone, then
    # out when Zoom's report says, and no one else moved.
    assert len(changed) == 2
    assert all(before[sid] == ("Present", end) for sid in changed)
    assert sorted(after[sid][1] for sid in changed) == lost
    assert all(after[sid][0] == "Left Early" for sid in changed)
