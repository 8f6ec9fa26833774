"""Matching a guest, and taking it back, in headless Chromium (CONTRACT §5.7)."""

from __future__ import annotations

import pytest

from tests.browser import Api, login, screenshot, seed_class

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def api(live_server):
    client = Api.sign_in(live_server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def seeded(live_server, api):
    """BIO-101 with one ended class and two more guests: a specific name, a device."""
    data = seed_class(
        live_server,
        api,
        extra_guests=lambda _sim: {"Dani Smithers": (1, 58), "iPhone": (2, 50)},
    )
    sim = data["sim"]
    absent = [r for r in sim.roster if r["student_id"] in sim.cast["absent"]]
    data["absent"] = absent
    return data


def _label(row) -> str:
    return f"{row['last_name']}, {row['first_name']} ({row['student_id']})"


def _record(api, meeting_id, student_id):
    body = api.get(f"/meetings/{meeting_id}/attendance")
    record = next(r for r in body["records"] if r["student_id"] == student_id)
    return record, {g["name"] for g in body["guests"]}


def test_match_asks_before_remembering_a_name_and_undo_brings_the_guest_back(
    page, console, live_server, seeded, api
):
    meeting_id = seeded["meeting"]["id"]
    course_id = seeded["course"]["id"]
    first, second = seeded["absent"][:2]
    login(page, live_server)
    page.goto(f"{live_server.url}/meetings/{meeting_id}")

    # A specific name with "remember": the page asks first, showing the name.
    card = page.locator(".guest-card", has_text="Dani Smithers")
    card.locator("input[name=student]").fill(_label(first))
    with page.expect_navigation():
        card.locator("button[type=submit]").click()
    assert len(console.dialogs) == 1 and "dani smithers" in console.dialogs[0]
    assert console.dialogs[0].startswith("confirm:")
    assert "Matched" in page.inner_text(".flashes")
    assert page.locator(".guest-card", has_text="Dani Smithers").count() == 0
    record, guests = _record(api, meeting_id, first["student_id"])
    assert record["matched_by"] == "manual" and "Dani Smithers" not in guests
    names = [k for k in api.get(f"/courses/{course_id}/links") if k["kind"] == "name"]
    assert [k["value"] for k in names] == ["dani smithers"]

    # A device name: matched here, never remembered, so nothing to ask.
    card = page.locator(".guest-card", has_text="iPhone")
    card.locator("input[name=student]").fill(_label(second))
    with page.expect_navigation():
        card.locator("button[type=submit]").click()
    assert len(console.dialogs) == 1
    assert "Nothing was remembered" in page.inner_text(".flashes")

    # Undo the first match from the student's row: the guest comes back.
    row = page.locator(f"#records tbody tr[data-student-pk='{record['student_pk']}']")
    if row.count() == 0:  # on another page of the table: filter to matched students
        page.goto(f"{live_server.url}/meetings/{meeting_id}?status={record['status']}")
        row = page.locator(
            f"#records tbody tr[data-student-pk='{record['student_pk']}']"
        )
    screenshot(page, "meeting-undo-match")
    with page.expect_navigation():
        row.locator("button.undo-match").click()
    assert "Match undone" in page.inner_text(".flashes")
    assert page.locator(".guest-card", has_text="Dani Smithers").count() == 1
    record, guests = _record(api, meeting_id, first["student_id"])
    assert record["status"] == "Absent" and "Dani Smithers" in guests
    assert all(
        k["value"] != "dani smithers" for k in api.get(f"/courses/{course_id}/links")
    )

    # The course's keys page lists what is left, each with a way to forget it.
    page.goto(f"{live_server.url}/courses/{course_id}/links")
    assert page.locator("#links tbody tr").count() == len(
        api.get(f"/courses/{course_id}/links")
    )
    screenshot(page, "course-links")
    console.assert_clean()
