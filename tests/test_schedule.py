"""A course's weekly schedule through the API (CONTRACT §3, §5.9): classes, office hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api_support import create_course
from tests.conftest import INSTRUCTOR_PASSWORD
from tests.engine_support import NUMBER, ended, session, started

MIN = timedelta(minutes=1)
ROSTER = [
    {"student_id": "S1", "first_name": "Ana", "last_name": "Abel", "email": "a@u.edu"},
    {"student_id": "S2", "first_name": "Ben", "last_name": "Bolt", "email": "b@u.edu"},
]
#: Mondays 09:00-10:00 in New York: 14:00-15:00 UTC in November (EST).
MONDAY_9 = {"weekday": 0, "start": "09:00", "minutes": 60}
#: Monday 2026-11-23: the room opens ten minutes before the class.
CLASS_OPENS = datetime(2026, 11, 23, 13, 50, tzinfo=UTC)
#: Wednesday 2026-11-25, 13:00 in New York: office hours on the same number.
OFFICE_HOURS = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def _meeting(zoom, uuid: str, start: datetime, minutes: int, attendees) -> None:
    """A meeting of ``minutes`` with ``email -> (minutes in, minutes out)``."""
    events = [started(uuid, start)]
    for email, (join, leave) in attendees.items():
        events += session(
            email, start + join * MIN, start + leave * MIN, email=email, uuid=uuid
        )
    events.append(ended(uuid, start + minutes * MIN))
    for event in events:
        assert zoom.post(event).status_code == 200


@pytest.fixture
def term(app, bearers, client, zoom):
    """A course with no schedule yet, a class opened early and an office hour."""
    headers = bearers(ada=False, bob=False)
    course = create_course(
        client,
        app,
        headers["ada"],
        code="BIO 101",
        timezone="America/New_York",
        zoom_meeting_ids=[NUMBER],
    )
    client.post(
        f"/api/v1/courses/{course['id']}/students", json=ROSTER, headers=headers["ada"]
    )
    # Ana is there from the opening; Ben comes 5 minutes after the class starts
    # (15 after the host pressed Start); both stay until the class ends at 10:00.
    _meeting(
        zoom, "class==", CLASS_OPENS, 75, {"a@u.edu": (0, 70), "b@u.edu": (15, 70)}
    )
    _meeting(zoom, "office==", OFFICE_HOURS, 30, {"a@u.edu": (0, 30)})
    return headers, course


def _meetings(client, headers) -> dict[str, dict]:
    found = client.get("/api/v1/meetings", headers=headers).get_json()
    return {m["uuid"]: m for m in found}


def _records(client, headers, meeting_id: int) -> dict[str, dict]:
    body = client.get(
        f"/api/v1/meetings/{meeting_id}/attendance", headers=headers
    ).get_json()
    return {r["student_id"]: r for r in body["records"]}


def _set_schedule(client, headers, course, schedule):
    return client.patch(
        f"/api/v1/courses/{course['id']}", json={"schedule": schedule}, headers=headers
    )


def test_schedule_defaults_to_none_and_every_meeting_counts(client, term):
    headers, course = term
    assert course["schedule"] == []
    meetings = _meetings(client, headers["ada"])
    office = meetings["office=="]
    assert (office["scheduled"], office["counts"]) == (True, True)
    assert (office["window_start"], office["window_end"]) == (
        office["start_time"],
        office["end_time"],
    )
    # Late against S: Ben came 15 minutes after the host pressed Start.
    ben = _records(client, headers["ada"], meetings["class=="]["id"])["S2"]
    assert (ben["status"], ben["late"]) == ("Late", True)


def test_schedule_late_against_the_window_when_the_host_opened_early(client, term):
    headers, course = term
    answer = _set_schedule(client, headers["ada"], course, [MONDAY_9])
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["schedule"] == [MONDAY_9]
    meetings = _meetings(client, headers["ada"])
    lesson = meetings["class=="]
    assert (lesson["scheduled"], lesson["counts"]) == (True, True)
    assert (lesson["window_start"], lesson["window_end"]) == (
        "2026-11-23T14:00:00Z",
        "2026-11-23T15:00:00Z",
    )
    records = _records(client, headers["ada"], lesson["id"])
    ben, ana = records["S2"], records["S1"]
    assert (ben["status"], ben["late"], ben["left_early"]) == ("Present", False, False)
    assert ben["attended_seconds"] == 55 * 60 and ben["attended_percent"] == 91.7
    assert (ana["first_join"], ana["last_leave"]) == (
        "2026-11-23T14:00:00Z",
        "2026-11-23T15:00:00Z",
    )
    assert ana["attended_percent"] == 100.0


def test_schedule_unscheduled_meeting_is_listed_but_out_of_the_term(client, term):
    headers, course = term
    _set_schedule(client, headers["ada"], course, [MONDAY_9])
    office = _meetings(client, headers["ada"])["office=="]
    assert (office["scheduled"], office["counts"]) == (False, False)
    assert (office["window_start"], office["window_end"]) == (
        "2026-11-25T18:00:00Z",
        "2026-11-25T18:30:00Z",
    )
    # Its own report is generated with S and E.
    ana = _records(client, headers["ada"], office["id"])["S1"]
    assert (ana["status"], ana["attended_seconds"]) == ("Present", 30 * 60)
    body = client.get(
        f"/api/v1/courses/{course['id']}/attendance", headers=headers["ada"]
    ).get_json()
    assert [m["uuid"] for m in body["meetings"]] == ["class=="]
    rows = {s["student_id"]: s for s in body["students"]}
    assert (rows["S1"]["meetings"], rows["S1"]["present"]) == (1, 1)
    assert rows["S1"]["attended_seconds"] == 60 * 60
    assert (rows["S2"]["meetings"], rows["S2"]["absent"]) == (1, 0)
    csv_text = client.get(
        f"/api/v1/courses/{course['id']}/attendance.csv",
        query_string={"layout": "wide"},
        headers=headers["ada"],
    ).get_data(as_text=True)
    assert csv_text.splitlines()[0].endswith(",2026-11-23")


def test_schedule_counts_toggle(client, term):
    headers, course = term
    _set_schedule(client, headers["ada"], course, [MONDAY_9])
    meetings = _meetings(client, headers["ada"])
    office, lesson = meetings["office=="], meetings["class=="]
    url = f"/api/v1/meetings/{office['id']}"
    # Another instructor's meeting is not found; a scheduled class always counts.
    assert (
        client.patch(url, json={"counts": True}, headers=headers["bob"]).status_code
        == 404
    )
    refused = client.patch(
        f"/api/v1/meetings/{lesson['id']}",
        json={"counts": False},
        headers=headers["ada"],
    )
    assert refused.status_code == 409
    for bad in ({"counts": "yes"}, {}, {"counts": True, "scheduled": True}):
        assert client.patch(url, json=bad, headers=headers["ada"]).status_code == 422
    answer = client.patch(url, json={"counts": True}, headers=headers["ada"])
    assert answer.status_code == 200
    assert (answer.get_json()["scheduled"], answer.get_json()["counts"]) == (
        False,
        True,
    )
    body = client.get(
        f"/api/v1/courses/{course['id']}/attendance", headers=headers["ada"]
    ).get_json()
    assert [m["uuid"] for m in body["meetings"]] == ["class==", "office=="]
    rows = {s["student_id"]: s for s in body["students"]}
    assert (rows["S1"]["meetings"], rows["S1"]["present"]) == (2, 2)
    assert (rows["S2"]["meetings"], rows["S2"]["absent"]) == (2, 1)
    back = client.patch(url, json={"counts": False}, headers=headers["ada"])
    assert back.get_json()["counts"] is False
    body = client.get(
        f"/api/v1/courses/{course['id']}/attendance", headers=headers["ada"]
    ).get_json()
    assert [m["uuid"] for m in body["meetings"]] == ["class=="]


def test_schedule_change_keeps_manual_statuses_and_time_zone_moves_slots(client, term):
    headers, course = term
    lesson = _meetings(client, headers["ada"])["class=="]
    ben_pk = _records(client, headers["ada"], lesson["id"])["S2"]["student_pk"]
    client.patch(
        f"/api/v1/meetings/{lesson['id']}/attendance/{ben_pk}",
        json={"status": "Excused"},
        headers=headers["ada"],
    )
    _set_schedule(client, headers["ada"], course, [MONDAY_9])
    assert _records(client, headers["ada"], lesson["id"])["S2"]["status"] == "Excused"
    # 09:00 in Halifax is 13:00 UTC: the room opened at 13:50, ten minutes before
    # the class's end.
    moved = client.patch(
        f"/api/v1/courses/{course['id']}",
        json={"timezone": "America/Halifax"},
        headers=headers["ada"],
    )
    assert moved.status_code == 200
    lesson = _meetings(client, headers["ada"])["class=="]
    assert (lesson["window_start"], lesson["window_end"]) == (
        "2026-11-23T13:50:00Z",
        "2026-11-23T14:00:00Z",
    )
    # Removing the schedule gives back [S, E].
    _set_schedule(client, headers["ada"], course, [])
    lesson = _meetings(client, headers["ada"])["class=="]
    assert lesson["window_start"] == lesson["start_time"] == "2026-11-23T13:50:00Z"


@pytest.mark.parametrize(
    "slot",
    [
        {"weekday": 7, "start": "09:00", "minutes": 60},
        {"weekday": -1, "start": "09:00", "minutes": 60},
        {"weekday": 0, "start": "24:00", "minutes": 60},
        {"weekday": 0, "start": "9:00", "minutes": 60},
        {"weekday": 0, "start": "09:60", "minutes": 60},
        {"weekday": 0, "start": "09:00", "minutes": 0},
        {"weekday": 0, "start": "09:00", "minutes": 721},
        {"weekday": 0, "start": "09:00", "minutes": 1.5},
        {"weekday": "0", "start": "09:00", "minutes": 60},
        {"weekday": 0, "start": "09:00"},
        {"weekday": 0, "start": "09:00", "minutes": 60, "room": "B"},
    ],
)
def test_schedule_slot_validation(client, term, slot):
    headers, course = term
    answer = _set_schedule(client, headers["ada"], course, [slot])
    assert answer.status_code == 422, answer.get_json()
    got = client.get(f"/api/v1/courses/{course['id']}", headers=headers["ada"])
    assert got.get_json()["schedule"] == []


def test_schedule_slot_edges_are_accepted(client, term):
    headers, course = term
    edges = [
        {"weekday": 0, "start": "00:00", "minutes": 1},
        {"weekday": 6, "start": "23:59", "minutes": 720},
    ]
    answer = _set_schedule(client, headers["ada"], course, edges)
    assert answer.status_code == 200
    assert answer.get_json()["schedule"] == edges


# ------------------------------------------------------------------------ pages


def _login(client, who: str) -> None:
    answer = client.post(
        "/login", data={"email": f"{who}@uni.edu", "password": INSTRUCTOR_PASSWORD}
    )
    assert answer.status_code == 302


def _slot_rows(*rows: tuple[int, str, str], remove: tuple[int, ...] = ()) -> dict:
    data = {}
    for n, (weekday, start, minutes) in enumerate(rows):
        data |= {
            f"slots-{n}-weekday": str(weekday),
            f"slots-{n}-start": start,
            f"slots-{n}-minutes": minutes,
        }
        if n in remove:
            data[f"slots-{n}-remove"] = "y"
    return data


def test_schedule_page_edits_the_weekly_slots(client, term):
    headers, course = term
    _login(client, "ada")
    url = f"/courses/{course['id']}/schedule"
    html = client.get(f"/courses/{course['id']}").get_data(as_text=True)
    assert "Class schedule" in html and 'name="slots-0-start"' in html
    # "Add a row" saves nothing and offers one more row.
    added = client.post(url, data={**_slot_rows((0, "09:00", "60")), "action": "add"})
    assert added.status_code == 200
    assert 'name="slots-1-start"' in added.get_data(as_text=True)
    assert (
        client.get(
            f"/api/v1/courses/{course['id']}", headers=headers["ada"]
        ).get_json()["schedule"]
        == []
    )
    bad = client.post(url, data={**_slot_rows((0, "09:00", "0")), "action": "save"})
    assert bad.status_code == 422
    saved = client.post(
        url,
        data={**_slot_rows((0, "09:00", "60"), (2, "", "")), "action": "save"},
    )
    assert saved.status_code == 302
    got = client.get(f"/api/v1/courses/{course['id']}", headers=headers["ada"])
    assert got.get_json()["schedule"] == [MONDAY_9]
    assert _meetings(client, headers["ada"])["office=="]["scheduled"] is False
    html = client.get(f"/courses/{course['id']}").get_data(as_text=True)
    assert 'value="09:00"' in html
    removed = client.post(
        url, data={**_slot_rows((0, "09:00", "60"), remove=(0,)), "action": "save"}
    )
    assert removed.status_code == 302
    got = client.get(f"/api/v1/courses/{course['id']}", headers=headers["ada"])
    assert got.get_json()["schedule"] == []


def test_schedule_page_is_404_for_another_instructor(client, term):
    _headers, course = term
    _login(client, "bob")
    answer = client.post(
        f"/courses/{course['id']}/schedule",
        data={**_slot_rows((0, "09:00", "60")), "action": "save"},
    )
    assert answer.status_code == 404


def test_meetings_page_flags_unscheduled_and_toggles_counting(client, term):
    headers, course = term
    _set_schedule(client, headers["ada"], course, [MONDAY_9])
    meetings = _meetings(client, headers["ada"])
    office, lesson = meetings["office=="], meetings["class=="]
    _login(client, "ada")
    html = client.get("/meetings").get_data(as_text=True)
    assert html.count("Unscheduled") == 1 and "Count in term" in html
    toggled = client.post(
        f"/meetings/{office['id']}/counts", data={"counts": "true", "next": "/meetings"}
    )
    assert toggled.status_code == 302 and toggled.headers["Location"] == "/meetings"
    assert _meetings(client, headers["ada"])["office=="]["counts"] is True
    assert "Leave out of term" in client.get("/meetings").get_data(as_text=True)
    refused = client.post(f"/meetings/{lesson['id']}/counts", data={"counts": "false"})
    assert refused.status_code == 409
    client.post("/logout")
    _login(client, "bob")
    other = client.post(f"/meetings/{office['id']}/counts", data={"counts": "false"})
    assert other.status_code == 404


def test_meeting_report_flags_unscheduled_and_shows_the_class_window(client, term):
    headers, course = term
    _set_schedule(client, headers["ada"], course, [MONDAY_9])
    meetings = _meetings(client, headers["ada"])
    _login(client, "ada")
    office = client.get(f"/meetings/{meetings['office==']['id']}").get_data(
        as_text=True
    )
    assert 'data-testid="unscheduled"' in office and "Count in term" in office
    lesson = client.get(f"/meetings/{meetings['class==']['id']}").get_data(as_text=True)
    assert 'data-testid="unscheduled"' not in lesson
    # 14:00-15:00 UTC is 09:00-10:00 in New York.
    assert "Class time 09:00 – 10:00" in lesson


def test_schedule_given_at_creation_places_meetings_already_received(
    app, bearers, client, zoom
):
    headers = bearers(ada=False)
    _meeting(zoom, "early==", CLASS_OPENS, 75, {})
    course = create_course(
        client,
        app,
        headers["ada"],
        code="CHEM 1",
        timezone="America/New_York",
        zoom_meeting_ids=[NUMBER],
        schedule=[MONDAY_9, {"weekday": 0, "start": "09:00", "minutes": 60}],
    )
    assert course["schedule"] == [MONDAY_9]
    early = _meetings(client, headers["ada"])["early=="]
    assert (early["scheduled"], early["window_start"]) == (
        True,
        "2026-11-23T14:00:00Z",
    )


def test_home_page_course_card_counts_only_the_term(app, client, term):
    """The home page's card says what the course page says: office hours are out."""
    from attendance.extensions import db
    from attendance.models import Course
    from attendance.web.queries import course_cards

    headers, course = term
    _set_schedule(client, headers["ada"], course, [MONDAY_9])
    with app.app_context():
        (card,) = course_cards([db.session.get(Course, course["id"])])
        assert card.meetings_held == 1
        # Ana and Ben were both on time for the class (Ben 5 minutes after it began).
        assert sum(card.counts.values()) == 2
        assert card.rate == 100.0


def test_course_page_flags_the_unscheduled_meeting(client, term):
    headers, course = term
    _set_schedule(client, headers["ada"], course, [MONDAY_9])
    _login(client, "ada")
    html = client.get(f"/courses/{course['id']}").get_data(as_text=True)
    meetings = html[html.index('id="meetings-title"') :]
    assert meetings.count("Unscheduled") == 1
