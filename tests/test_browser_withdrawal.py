"""Withdrawing a student from the roster page, in headless Chromium (CONTRACT §5.8)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.browser import Api, login, screenshot, seed_class

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def api(live_server):
    client = Api.sign_in(live_server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def term(live_server, api):
    """HIST-101 (Europe/Madrid) with two classes a week apart."""
    return seed_class(live_server, api, code="HIST-101", title="History", history=1)


def _row_count(page, student_pk: int) -> int:
    return page.locator(f"#records tbody tr[data-student-pk='{student_pk}']").count()


def test_a_withdrawn_student_leaves_the_next_report_and_keeps_the_earlier(
    page, console, live_server, term, api
):
    course_id = term["course"]["id"]
    latest = term["meeting"]
    (earlier,) = [
        m
        for m in api.get("/meetings", params={"course_id": course_id})
        if m["id"] != latest["id"]
    ]
    student_id = term["sim"].cast["on_time"][0]
    (student,) = [
        s
        for s in api.get(f"/courses/{course_id}/students")
        if s["student_id"] == student_id
    ]
    pk = student["id"]
    # Withdrawn on the latest class's own date in the course's zone.
    start = datetime.fromisoformat(latest["start_time"].replace("Z", "+00:00"))
    day = start.astimezone(ZoneInfo("Europe/Madrid")).date()

    login(page, live_server)
    page.goto(f"{live_server.url}/meetings/{latest['id']}")
    assert _row_count(page, pk) == 1

    page.goto(f"{live_server.url}/courses/{course_id}")
    row = page.locator("#roster tbody tr", has_text=student_id)
    assert "Enrolled" in row.inner_text()
    row.locator("input[name=withdrawn_on]").fill(day.isoformat())
    with page.expect_navigation():
        row.locator("button", has_text="Withdraw").click()
    assert "withdrawn on" in page.inner_text(".flashes")
    row = page.locator("#roster tbody tr", has_text=student_id)
    assert f"Withdrawn {day:%d %b %Y}" in row.inner_text()
    screenshot(page, "course-roster-withdrawn")

    # The latest report has no row for them (they joined: a guest now) ...
    page.goto(f"{live_server.url}/meetings/{latest['id']}")
    assert _row_count(page, pk) == 0
    body = api.get(f"/meetings/{latest['id']}/attendance")
    assert pk not in {r["student_pk"] for r in body["records"]}
    assert len(body["guests"]) > len(
        api.get(f"/meetings/{earlier['id']}/attendance")["guests"]
    )
    # ... and the earlier class keeps theirs.
    page.goto(f"{live_server.url}/meetings/{earlier['id']}")
    assert _row_count(page, pk) == 1

    # Enrolled again from the roster: back on the latest report.
    page.goto(f"{live_server.url}/courses/{course_id}")
    row = page.locator("#roster tbody tr", has_text=student_id)
    with page.expect_navigation():
        row.locator("button", has_text="Re-enrol").click()
    assert "is enrolled" in page.inner_text(".flashes")
    page.goto(f"{live_server.url}/meetings/{latest['id']}")
    assert _row_count(page, pk) == 1
    console.assert_clean()


def test_the_roster_with_its_enrolment_forms_fits_a_phone(
    page, console, live_server, term
):
    """The enrolment column's screen-reader labels stay inside the scrolling table.

    Absolutely positioned, they took their place from the page, not the table,
    and pushed the whole page to 682 px on a 390 px phone.
    """
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server)
    page.goto(f"{live_server.url}/courses/{term['course']['id']}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    console.assert_clean()
