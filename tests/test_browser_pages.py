"""Every dashboard page in headless Chromium against a real server with a simulated class.

Screenshots of each page go to test-artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import copy
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from attendance.services.reports import CSV_COLUMNS
from tests.browser import Api, login, screenshot, seed_class, send_webhook

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def api(live_server):
    client = Api.sign_in(live_server)
    yield client
    client.close()


def _lookalike(sim) -> dict[str, tuple[int, int]]:
    """A guest named like an absent student ("Kenji N."), and one with markup for a name."""
    absent_id = sim.cast["absent"][0]
    row = next(r for r in sim.roster if r["student_id"] == absent_id)
    return {f"{row['first_name']} {row['last_name'][0]}.": (1, 58), XSS: (5, 30)}


@pytest.fixture(scope="module")
def seeded(live_server, api):
    """BIO-101 with the simulator's roster, one ended class, and a failed event."""
    data = seed_class(live_server, api, extra_guests=_lookalike, history=3)
    sim = data["sim"]
    absent_id = sim.cast["absent"][0]
    data["absent"] = next(r for r in sim.roster if r["student_id"] == absent_id)
    # A second, empty course so the home page shows more than one card.
    api.post("/courses", {"code": "CHEM-210", "title": "Organic Chemistry"})
    # A malformed meeting.started: signed by "Zoom", kept, and marked failed.
    broken = copy.deepcopy(
        next(e for e in sim.events if e["event"] == "meeting.started")
    )
    broken["payload"]["object"]["start_time"] = "yesterday"
    broken["event_ts"] += 1
    assert send_webhook(live_server, broken) == 200
    # And the next class, live now: started ten minutes ago, one student in.
    data["live_uuid"] = _start_live_meeting(live_server, sim)
    return data


def _start_live_meeting(server, sim) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    uuid = "live+" + sim.meeting_uuid[5:]
    started = copy.deepcopy(
        next(e for e in sim.events if e["event"] == "meeting.started")
    )
    joined = copy.deepcopy(
        next(e for e in sim.events if e["event"] == "meeting.participant_joined")
    )
    for event, at in (
        (started, now - timedelta(minutes=10)),
        (joined, now - timedelta(minutes=9)),
    ):
        obj = event["payload"]["object"]
        obj["uuid"] = uuid
        obj["topic"] = "Cell Biology — Lecture 5"
        obj["start_time"] = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        event["event_ts"] = int(at.timestamp() * 1000)
    joined["payload"]["object"]["participant"]["join_time"] = (
        now - timedelta(minutes=9)
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    for event in (started, joined):
        assert send_webhook(server, event) == 200
    return uuid


def _visit(page, server, path: str, name: str) -> None:
    response = page.goto(f"{server.url}{path}")
    assert response is not None and response.status == 200, (path, response)
    page.wait_for_load_state("networkidle")
    screenshot(page, name)


def test_login_page(page, console, live_server):
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=email]", "admin@example.edu")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector(".flash.error")
    assert "wrong e-mail or password" in page.inner_text(".flash.error")
    screenshot(page, "login")
    # The 401 of the failed sign-in is the only failed response.
    assert [e for e in console.errors if "401" not in e] == []


def test_courses_and_course_page(page, console, live_server, seeded):
    login(page, live_server)
    _visit(page, live_server, "/", "courses")
    card = page.locator(".course-card", has_text="BIO-101")
    assert card.locator(".facts dd").all_inner_texts()[:2] == ["12", "4"]
    assert "Organic Chemistry" in page.inner_text(".course-grid")

    course_id = seeded["course"]["id"]
    _visit(page, live_server, f"/courses/{course_id}", "course")
    bars = page.evaluate(
        "() => Chart.getChart(document.getElementById('term-chart')).data.labels.length"
    )
    assert bars == 4
    summary = page.locator("#students tbody tr")
    assert summary.count() == 12
    roster = page.inner_text("#roster")
    assert seeded["absent"]["email"] in roster
    console.assert_clean()


def test_meetings_list(page, console, live_server, seeded):
    login(page, live_server)
    _visit(page, live_server, "/meetings", "meetings")
    rows = page.locator("table.meetings tbody tr")
    live, ended = rows.nth(0), rows.nth(1)
    assert "Live" in live.inner_text() and "Open live room" in live.inner_text()
    assert live.locator("a", has_text="Open live room").get_attribute("href") == (
        f"/live/{seeded['sim'].meeting_number}"
    )
    assert "Cell Biology" in ended.inner_text() and "Ended" in ended.inner_text()
    page.select_option("#course-filter", label="CHEM-210 · Organic Chemistry")
    page.wait_for_url(re.compile(r"course=\d+"))
    assert "CHEM-210 has had no Zoom meeting yet" in page.inner_text("main")
    console.assert_clean()


def test_meeting_report_override_match_and_csv(page, console, live_server, seeded, api):
    meeting_id = seeded["meeting"]["id"]
    absent = seeded["absent"]
    login(page, live_server)
    _visit(page, live_server, f"/meetings/{meeting_id}", "meeting")
    assert page.evaluate("() => !!Chart.getChart(document.getElementById('timeline'))")
    # The markup in a display name is text, and nothing ran.
    assert page.locator(".guest-name", has_text=XSS).count() == 1
    assert console.dialogs == []

    # Filter chips: the server filters (the students table is paginated).
    with page.expect_navigation():
        page.click(".chip[data-filter='Absent']")
    shown = page.locator("#records tbody tr")
    assert shown.count() >= 1
    assert set(shown.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {
        "Absent"
    }
    with page.expect_navigation():
        page.click(".chip[data-filter='']")

    # Inline override of the first late student: Excused, with a note.
    first_late = page.locator("#records tbody tr[data-status='Late']").first
    student_pk = int(first_late.get_attribute("data-student-pk"))
    row = page.locator(f"#records tbody tr[data-student-pk='{student_pk}']")
    row.locator("summary", has_text="Edit").click()
    row.locator("select[name=status]").select_option("Excused")
    row.locator("input[name=note]").fill("Doctor's note")
    row.locator("button", has_text="Save").click()
    page.wait_for_selector(f"tr[data-student-pk='{student_pk}'][data-status='Excused']")
    assert row.locator(".tag.manual").is_visible()
    records = api.get(f"/meetings/{meeting_id}/attendance")["records"]
    record = next(r for r in records if r["student_pk"] == student_pk)
    assert (record["status"], record["source"], record["note"]) == (
        "Excused",
        "manual",
        "Doctor's note",
    )
    screenshot(page, "meeting-override")

    # One-click match of the look-alike guest to the suggested (absent) student.
    guest_name = f"{absent['first_name']} {absent['last_name'][0]}."
    card = page.locator(".guest-card", has_text=guest_name)
    suggestion = card.locator("button.suggestion").first
    assert f"{absent['first_name']} {absent['last_name']}" in suggestion.inner_text()
    with page.expect_navigation():
        suggestion.click()
    assert "Matched" in page.inner_text(".flashes")
    assert page.locator(".guest-card", has_text=guest_name).count() == 0
    body = api.get(f"/meetings/{meeting_id}/attendance")
    matched = next(
        r for r in body["records"] if r["student_id"] == absent["student_id"]
    )
    assert matched["matched_by"] == "manual" and matched["status"] != "Absent"
    assert guest_name not in {g["name"] for g in body["guests"]}
    screenshot(page, "meeting-matched")

    # The CSV link downloads the contract's CSV, with the override in it.
    with page.expect_download() as info:
        page.click("a[data-testid=csv]")
    text = Path(info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_pk_status = {r[0]: r[4] for r in rows[1:]}
    student_id = next(r["student_id"] for r in records if r["student_pk"] == student_pk)
    assert by_pk_status[student_id] == "Excused"
    assert by_pk_status[absent["student_id"]] != "Absent"

    # The shared student picker: a name not on the list is refused in place, one
    # from it matches the guest.
    other = next(
        r
        for r in seeded["sim"].roster
        if r["student_id"] == seeded["sim"].cast["absent"][1]
    )
    card = page.locator(".guest-card", has_text=XSS)
    card.locator("input[name=student]").fill("Nobody, Really")
    card.locator("button", has_text="Match").click()
    assert "from the list" in card.locator(".form-error").inner_text()
    label = f"{other['last_name']}, {other['first_name']} ({other['student_id']})"
    card.locator("input[name=student]").fill(label)
    with page.expect_navigation():
        card.locator("button", has_text="Match").click()
    assert page.locator(".guest-card", has_text=XSS).count() == 0
    body = api.get(f"/meetings/{meeting_id}/attendance")
    matched = next(r for r in body["records"] if r["student_id"] == other["student_id"])
    assert matched["matched_by"] == "manual"
    assert console.dialogs == []
    console.assert_clean()


def test_event_log_tokens_and_instructors(page, console, live_server, seeded):
    login(page, live_server)
    _visit(page, live_server, "/events", "events")
    assert "1 event failed." in page.inner_text(".callout")
    failed = page.locator("tr.ev-failed")
    assert failed.count() == 1 and "yesterday" in failed.inner_text()
    failed.locator("button", has_text="Replay").click()
    page.wait_for_load_state("networkidle")
    assert "failed again" in page.inner_text(".flashes")

    _visit(page, live_server, "/tokens", "tokens-empty")
    page.fill("input[name=name]", "grading script")
    page.click("button:has-text('Create token')")
    token = page.input_value("#new-token")
    assert token.startswith("att_")
    screenshot(page, "tokens")
    page.goto(f"{live_server.url}/tokens")
    assert token not in page.content() and "grading script" in page.inner_text("main")

    _visit(page, live_server, "/admin/instructors", "instructors")
    page.fill("#new-instructor input[name=email]", "grace@example.edu")
    page.fill("#new-instructor input[name=name]", "Grace Hopper")
    page.fill("#new-instructor input[name=password]", "cobol-forever-1959")
    page.click("#new-instructor button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Created grace@example.edu" in page.inner_text(".flashes")
    page.select_option(
        "#assign select[name=instructor]", label="Grace Hopper (grace@example.edu)"
    )
    page.select_option("#assign select[name=course]", label="BIO-101 · Cell Biology")
    page.click("#assign button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "grace@example.edu now teaches BIO-101" in page.inner_text(".flashes")
    screenshot(page, "instructors-assigned")
    console.assert_clean()


def test_instructor_sees_only_their_course(page, console, live_server, seeded, api):
    person = api.post(
        "/instructors",
        {"email": "linus@example.edu", "name": "Linus", "password": "penguins-1991"},
    )
    api.post(
        f"/courses/{seeded['course']['id']}/instructors",
        {"instructor_id": person["id"]},
    )
    login(page, live_server, "linus@example.edu", "penguins-1991")
    home = page.inner_text("main")
    assert "BIO-101" in home and "CHEM-210" not in home
    assert page.locator("nav.mainnav a", has_text="Event log").count() == 0
    console.assert_clean()
    # The 403 itself is logged by Chromium as a failed resource: checked above.
    response = page.goto(f"{live_server.url}/events")
    assert response.status == 403
    screenshot(page, "forbidden")


def test_narrow_screens_do_not_scroll_sideways(page, console, live_server, seeded):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server)
    for path, name in (
        ("/", "mobile-courses"),
        (f"/meetings/{seeded['meeting']['id']}", "mobile-meeting"),
    ):
        _visit(page, live_server, path, name)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    console.assert_clean()
