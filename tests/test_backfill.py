"""Missed meetings (CONTRACT §6): instances Zoom lists with no events here, from the fake Zoom."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from attendance.errors import NotFound, ZoomRateLimited
from attendance.extensions import db
from attendance.models import AttendanceRecord, Meeting, ReportRowRecord, ZoomConnection
from attendance.services.backfill import backfill
from tests.engine_support import (
    HOST,
    NUMBER,
    UUID,
    E,
    S,
    ended,
    iso,
    make_course,
    records,
    session,
    started,
)
from tests.fake_zoom import Fake, app_on_fake_zoom, fake_zoom  # noqa: F401

MIN = timedelta(minutes=1)
WEEK = timedelta(days=7)
#: A class held a week later while the server was down: Zoom has it, we have nothing.
MISSED = "missed/+week==="
OTHER_NUMBER = 98765432101


def _row(
    user_id: str,
    name: str,
    email: str,
    join: datetime,
    leave: datetime,
    zoom_id: str = "",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": zoom_id,
        "user_id": user_id,
        "participant_user_id": zoom_id,
        "name": name,
        "user_email": email,
        "join_time": iso(join),
        "leave_time": iso(leave),
        "duration": int((leave - join).total_seconds()),
        "failover": False,
        "status": "in_meeting",
        "customer_key": "",
        "registrant_id": "",
        "bo_mtg_id": "",
        **extra,
    }


def _missed_report(start: datetime) -> list[dict[str, Any]]:
    """Host, Ana all along, Ben leaving 20 minutes early, a guest; Chen, Dana absent."""
    end = start + timedelta(hours=1)
    return [
        _row("1001", "Teacher", "", start, end, zoom_id=HOST),
        _row("1002", "Ana Díaz", "ana@uni.edu", start + MIN, end),
        _row("1003", "Ben Okafor", "ben@uni.edu", start + 2 * MIN, end - 20 * MIN),
        _row("1004", "Visitor", "", start + 5 * MIN, start + 10 * MIN),
    ]


def _play(zoom, uuid: str = UUID) -> None:
    """A class whose webhooks arrived: Ana alone, all along."""
    events = [started(uuid=uuid, at=S)]
    events += session("Ana Díaz", S + MIN, E, email="ana@uni.edu", uuid=uuid)
    events.append(ended(uuid=uuid, at=E))
    for event in events:
        assert zoom.post(event).status_code == 200


def _run(app, connection_id: int | None = None, course: str | None = None):
    with app.app_context():
        return backfill(connection_id, course)


def _meetings(app) -> dict[str, dict[str, Any]]:
    with app.app_context():
        return {
            m.uuid: {
                "course_id": m.course_id,
                "zoom_meeting_id": m.zoom_meeting_id,
                "status": m.status,
                "backfilled": m.backfilled,
                "connection_id": m.connection_id,
                "start_time": m.start_time,
                "end_time": m.end_time,
                "host_id": m.host_id,
                "participant_count": m.participant_count,
                "rows": db.session.scalar(
                    select(func.count())
                    .select_from(ReportRowRecord)
                    .where(ReportRowRecord.meeting_id == m.id)
                ),
            }
            for m in db.session.scalars(select(Meeting))
        }


@pytest.fixture
def course(app, zoom, fake: Fake) -> int:
    """BIO-101 with a class played here (UUID) and one Zoom has that we missed."""
    course_id = make_course(app)
    _play(zoom)
    fake.instances(
        NUMBER,
        [
            {"uuid": UUID, "start_time": iso(S)},
            {"uuid": MISSED, "start_time": iso(S + WEEK)},
        ],
    )
    fake.participants(MISSED, _missed_report(S + WEEK))
    # Zoom's report of the played class differs from its webhooks: it must not be read.
    fake.participants(UUID, [_row("2001", "Chen Wei", "chen@uni.edu", S, E)])
    return course_id


def test_backfill_creates_a_missed_meeting_with_attendance(app, fake: Fake, course):
    result = _run(app)
    assert (result.fetched, result.changed, result.outcome) == (2, 1, "done")
    assert "1 meetings created" in result.summary
    assert "1 already here" in result.summary
    missed = _meetings(app)[MISSED]
    assert missed == {
        "course_id": course,
        "zoom_meeting_id": NUMBER,
        "status": "ended",
        "backfilled": True,
        "connection_id": None,
        "start_time": S + WEEK,
        "end_time": S + WEEK + timedelta(hours=1),  # the latest leave
        "host_id": HOST,  # the number's host, from the class played here
        "participant_count": 3,  # Ana, Ben and the visitor; the host is not counted
        "rows": 4,
    }
    got = records(app, MISSED)
    assert {sid: r["status"] for sid, r in got.items()} == {
        "S1": "Present",
        "S2": "Left Early",
        "S3": "Absent",
        "S4": "Absent",
    }
    assert got["S1"]["matched_by"] == "email"


def test_backfill_leaves_an_instance_with_events_here_alone(app, fake: Fake, course):
    before = records(app, UUID)
    _run(app)
    played = _meetings(app)[UUID]
    assert (played["backfilled"], played["rows"]) == (False, 0)
    assert records(app, UUID) == before
    assert fake.calls(f"/v2/report/meetings/{UUID}") == []
    assert not [c for c in fake.calls("/v2/") if "Ab3xY" in c["path"]]


def test_backfill_twice_creates_nothing_the_second_time(app, fake: Fake, course):
    assert _run(app).changed == 1
    first = _meetings(app)
    reports = len(fake.calls("/v2/report/"))
    again = _run(app)
    assert (again.fetched, again.changed) == (2, 0)
    assert "2 already here" in again.summary
    assert _meetings(app) == first
    assert len(fake.calls("/v2/report/")) == reports  # no report fetched again


def test_a_failed_instance_is_named_and_the_others_are_still_created(
    app, fake: Fake, course
):
    gone = "gone-instance=="
    fake.instances(
        NUMBER,
        [
            {"uuid": gone, "start_time": iso(S + 2 * WEEK)},  # Zoom has no report
            {"uuid": MISSED, "start_time": iso(S + WEEK)},
        ],
    )
    result = _run(app)
    assert result.changed == 1
    assert f"1 failed: {gone}: Zoom has no report for it" in result.summary
    assert _meetings(app)[MISSED]["backfilled"] is True
    assert gone not in _meetings(app)
    # Its report fell back to past participants before giving up.
    assert fake.calls("/v2/past_meetings/gone-instance")


def test_backfill_of_one_course_asks_only_for_its_numbers(app, fake: Fake, course):
    make_course(app, number=OTHER_NUMBER, code="CHEM-1")
    fake.instances(OTHER_NUMBER, [{"uuid": "chem-1==", "start_time": iso(S)}])
    fake.participants("chem-1==", _missed_report(S))
    result = _run(app, course="CHEM-1")
    assert (result.fetched, result.changed) == (1, 1)
    assert fake.calls(f"/v2/past_meetings/{NUMBER}/instances") == []
    assert MISSED not in _meetings(app)
    assert _meetings(app)["chem-1=="]["zoom_meeting_id"] == OTHER_NUMBER


def test_backfill_of_an_unknown_course_is_refused(app, fake: Fake) -> None:
    with pytest.raises(NotFound):
        _run(app, course="NOPE-1")
    assert fake.calls() == []


def test_a_daily_rate_limit_stops_the_run_and_keeps_what_was_created(
    app, fake: Fake, course
):
    make_course(app, number=OTHER_NUMBER, code="CHEM-1")
    fake.instances(OTHER_NUMBER, [{"uuid": "chem-1==", "start_time": iso(S)}])
    fake.participants("chem-1==", _missed_report(S))
    # BIO's instances and report pass; CHEM's instances call meets the daily limit.
    fake.post("/_fake/faults", {"kind": "sleep", "count": 2, "seconds": 0.0})
    fake.fault("429-daily", retry_after="iso", seconds=3600)
    with pytest.raises(ZoomRateLimited):
        _run(app)
    assert _meetings(app)[MISSED]["backfilled"] is True
    assert "chem-1==" not in _meetings(app)
    # The deferred rerun goes on from there.
    result = _run(app)
    assert result.changed == 1
    assert "chem-1==" in _meetings(app)


def test_backfill_without_credentials_calls_nobody(app, fake: Fake) -> None:
    make_course(app)
    result = _run(app, 999)
    assert (result.fetched, result.changed) == (0, 0)
    assert "no Zoom API credentials" in result.summary
    assert fake.calls() == []


# -- the command line ---------------------------------------------------------


def test_cli_backfill_of_a_course_through_a_connection(
    app, fake: Fake, course, runner
) -> None:
    fake.post(
        "/_fake/accounts",
        {"account_id": "acct-b", "client_id": "cid-b", "client_secret": "sec-b"},
    )
    with app.app_context():
        connection = ZoomConnection(
            name="Campus B",
            account_id="acct-b",
            client_id="cid-b",
            client_secret="sec-b",
        )
        db.session.add(connection)
        db.session.commit()
        pk = connection.id
    result = runner.invoke(
        args=["zoom", "backfill", "--course", "BIO-101", "--connection", str(pk)]
    )
    assert result.exit_code == 0, result.output
    assert f"connection {pk} (Campus B): 1 meeting numbers, 2 ended instances" in (
        result.output
    )
    assert "1 meetings created" in result.output
    assert _meetings(app)[MISSED]["connection_id"] == pk
    again = runner.invoke(args=["zoom", "backfill"])  # the environment's: same account
    assert again.exit_code == 0, again.output
    assert "environment: 1 meeting numbers, 2 ended instances: 0 meetings" in (
        again.output
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--course", "NOPE-1"], "no course 'NOPE-1'"),
        (["--connection", "999"], "no Zoom connection 999"),
    ],
)
def test_cli_backfill_refuses_what_does_not_exist(
    app, fake: Fake, runner, args: list[str], message: str
) -> None:
    make_course(app)
    result = runner.invoke(args=["zoom", "backfill", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert not fake.calls("/v2/")


def test_cli_backfill_without_credentials_exits_1(database_url, app) -> None:
    from tests.conftest import make_test_app

    plain = make_test_app(database_url)  # no ZOOM_* credentials, no connection
    result = plain.test_cli_runner().invoke(args=["zoom", "backfill"])
    assert result.exit_code == 1
    assert "no Zoom connection has API credentials" in result.output


def test_a_backfill_killed_before_its_attendance_is_finished_by_the_next(
    app, fake: Fake, course
):
    assert _run(app).changed == 1
    # As if the run died after apply_report stored the rows, before it computed.
    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == MISSED))
        db.session.execute(
            delete(AttendanceRecord).where(AttendanceRecord.meeting_id == meeting.id)
        )
        meeting.attendance_generated_at = None
        db.session.commit()
    assert records(app, MISSED) == {}
    again = _run(app)
    assert (again.changed, again.fetched) == (1, 2)
    assert records(app, MISSED)["S2"]["status"] == "Left Early"
    assert len([m for m in _meetings(app) if m == MISSED]) == 1
    assert _meetings(app)[MISSED]["rows"] == 4  # replaced, not added twice
    assert _run(app).changed == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["backfill", "--connection", "99999999999999999999"],
            2,
            "Invalid value for '--connection'",
        ),
        (
            ["sync-users", "--connection", str(2**31)],
            2,
            "Invalid value for '--connection'",
        ),
        (["backfill", "--course", "x\x00"], 2, "must not contain a NUL character"),
        (["backfill", "--course", "x" * 65], 2, "is longer than 64 characters"),
        (["reconcile", "a\x00b"], 2, "must not contain a NUL character"),
        (["reconcile", "u" * 256], 2, "is longer than 255 characters"),
        (["reconcile", "9" * 23], 1, "no meeting '99999999999999999999999'"),
        (["reconcile", str(2**63)], 1, "no meeting"),
    ],
    ids=[
        "huge-connection",
        "int32-connection",
        "nul-course",
        "long-course",
        "nul-meeting",
        "long-meeting",
        "huge-meeting",
        "int64-meeting",
    ],
)
def test_cli_zoom_commands_refuse_what_no_row_can_be(
    app, fake: Fake, runner, args: list[str], code: int, message: str
) -> None:
    make_course(app)
    result = runner.invoke(args=["zoom", *args])
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert message in result.output
    assert not fake.calls("/v2/")


def test_find_meeting_takes_no_reference_a_meeting_cannot_have(app, zoom) -> None:
    from attendance.services.meeting_inputs import find_meeting

    _play(zoom)
    with app.app_context():
        meeting_id = db.session.scalar(select(Meeting.id).where(Meeting.uuid == UUID))
        assert find_meeting(str(meeting_id)).uuid == UUID
        assert find_meeting(UUID).id == meeting_id
        for ref in (str(2**63 - 1), str(2**63), "9" * 40, f"{UUID}\x00", "x" * 256):
            with pytest.raises(NotFound):
                find_meeting(ref)


def test_backfill_of_a_course_code_no_course_can_have_is_refused(
    app, fake: Fake
) -> None:
    make_course(app)
    for code in ("BIO-101\x00", "B" * 65):
        with pytest.raises(NotFound):
            _run(app, course=code)
    assert fake.calls() == []


# -- webinars -----------------------------------------------------------------

WEBINAR_NUMBER = 91234567890
#: A webinar held while the server was down (a UUID Zoom double-encodes).
MISSED_WEBINAR = "/webinar//missed=="


def _webinar_held(fake: Fake, app) -> None:
    """WEB-1 lists a webinar number; Zoom has one ended instance of it, and its report."""
    make_course(app, number=WEBINAR_NUMBER, code="WEB-1")
    fake.post(
        "/_fake/instances",
        {
            "meeting_id": WEBINAR_NUMBER,
            "webinar": True,
            "webinars": [{"uuid": MISSED_WEBINAR, "start_time": iso(S)}],
        },
    )
    fake.post(
        "/_fake/participants",
        {"uuid": MISSED_WEBINAR, "participants": _missed_report(S), "webinar": True},
    )


def _is_webinar(app, uuid: str) -> bool:
    with app.app_context():
        return db.session.scalar(select(Meeting.is_webinar).where(Meeting.uuid == uuid))


def test_backfill_creates_a_missed_webinar_from_the_webinar_report(app, fake: Fake):
    _webinar_held(fake, app)
    result = _run(app, course="WEB-1")
    assert (result.fetched, result.changed, result.outcome) == (1, 1, "done")
    assert "1 of the numbers are webinars" in result.summary
    missed = _meetings(app)[MISSED_WEBINAR]
    assert (missed["backfilled"], missed["zoom_meeting_id"], missed["rows"]) == (
        True,
        WEBINAR_NUMBER,
        4,
    )
    assert _is_webinar(app, MISSED_WEBINAR) is True
    assert {sid: r["status"] for sid, r in records(app, MISSED_WEBINAR).items()} == {
        "S1": "Present",
        "S2": "Left Early",
        "S3": "Absent",
        "S4": "Absent",
    }
    # The meetings' list said no such meeting; the webinars' list and report answered.
    assert [c["path"] for c in fake.calls("/v2/")] == [
        f"/v2/past_meetings/{WEBINAR_NUMBER}/instances",
        f"/v2/past_webinars/{WEBINAR_NUMBER}/instances",
        "/v2/report/webinars/%252Fwebinar%252F%252Fmissed%253D%253D/participants",
    ]


def test_backfill_of_a_webinar_twice_creates_it_once(app, fake: Fake):
    _webinar_held(fake, app)
    assert _run(app, course="WEB-1").changed == 1
    first = _meetings(app)
    again = _run(app, course="WEB-1")
    assert (again.fetched, again.changed) == (1, 0)
    assert _meetings(app) == first
    assert len(fake.calls("/v2/report/webinars/")) == 1


def test_backfill_of_meetings_and_a_webinar_together(app, fake: Fake, course):
    _webinar_held(fake, app)
    result = _run(app)
    assert (result.fetched, result.changed) == (3, 2)
    assert _is_webinar(app, MISSED) is False
    assert _is_webinar(app, MISSED_WEBINAR) is True
    assert not fake.calls(f"/v2/past_webinars/{NUMBER}")  # a meeting's number: no


@pytest.mark.parametrize("webinars_answer", ["404", "400"])
def test_a_number_neither_meeting_nor_webinar_here_is_another_accounts(
    app, fake: Fake, webinars_answer: str
):
    make_course(app, number=OTHER_NUMBER, code="CHEM-1")
    fake.fault("404")  # the meetings' list
    fake.fault(webinars_answer)  # the webinars' list (400: no webinar add-on)
    result = _run(app, course="CHEM-1")
    assert (result.fetched, result.changed, result.outcome) == (0, 0, "done")
    assert "1 numbers unknown to this Zoom account" in result.summary
    assert "failed" not in result.summary
    assert len(fake.calls("/v2/")) == 2


def test_a_webinar_list_that_fails_is_named(app, fake: Fake):
    make_course(app, number=OTHER_NUMBER, code="CHEM-1")
    fake.fault("404")
    fake.fault("500", count=10)
    result = _run(app, course="CHEM-1")
    assert f"1 failed: meeting number {OTHER_NUMBER}: Zoom answered 500" in (
        result.summary
    )


def test_the_meeting_page_says_a_meeting_was_recovered_from_the_report(
    app, client, bearers, fake: Fake, course
):
    from tests.conftest import INSTRUCTOR_PASSWORD

    _run(app)
    bearers(root=True)
    client.post("/login", data={"email": "root@uni.edu", "password": INSTRUCTOR_PASSWORD})
    with app.app_context():
        ids = dict(db.session.execute(select(Meeting.uuid, Meeting.id)).all())
    missed = client.get(f"/meetings/{ids[MISSED]}").get_data(as_text=True)
    played = client.get(f"/meetings/{ids[UUID]}").get_data(as_text=True)
    assert 'data-testid="backfilled"' in missed
    assert 'data-testid="backfilled"' not in played
