"""The live room in headless Chromium against a real ``python app.py`` (eventlet).

Webhooks go to the server the way Zoom sends them; the page must show each
change within a second, keep display names as text, and reload its snapshot
when the connection comes back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser import Api, login, screenshot, send_webhook, wait_until
from tests.engine_support import NUMBER, participant_event, started

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
ROSTER = [
    {
        "student_id": f"S{n}",
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}@uni.edu",
    }
    for n, (first, last) in enumerate(
        [
            ("Ana", "Díaz"),
            ("Ben", "Okafor"),
            ("Chen", "Wei"),
            ("Dana", "Smith"),
            ("Eli", "Cohen"),
        ],
        start=1,
    )
]
UUID = "live-room-test=="


@pytest.fixture(scope="module")
def room(live_server):
    api = Api.sign_in(live_server)
    course = api.post(
        "/courses",
        {"code": "LIVE-1", "title": "Live Biology", "zoom_meeting_ids": [str(NUMBER)]},
    )
    api.post(f"/courses/{course['id']}/students", ROSTER)
    yield live_server, api
    api.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _event(
    name: str, kind: str, user_id: str, user_name: str, email: str = "", at=None
):
    return participant_event(
        name,
        kind,
        at or _now(),
        user_id=user_id,
        user_name=user_name,
        email=email,
        uuid=UUID,
    )


def _row(page, name: str, group: str):
    return page.locator(f"#list-{group} li.person").filter(has_text=name)


def _timed(page, server, event, locator) -> float:
    """Seconds from the webhook's answer until ``locator`` is visible in the page."""
    assert send_webhook(server, event) == 200
    answered = time.monotonic()
    locator.wait_for(state="visible", timeout=5000)
    return time.monotonic() - answered


def test_live_room_shows_the_class_as_it_happens(room, page, console):
    server, api = room
    assert send_webhook(server, started(UUID, _now() - timedelta(minutes=5))) == 200
    login(page, server)
    page.goto(f"{server.url}/live/{NUMBER}")
    page.wait_for_selector("#live[data-ready=true]")
    assert page.locator("#conn").get_attribute("data-state") == "live"
    assert page.locator("[data-stat=roster_size]").inner_text() == "5"

    # A student joins: in the meeting within a second, matched, counted.
    took = _timed(
        page,
        server,
        _event(
            "meeting.participant_joined", "joined", "101", "Ana Díaz", "ana@uni.edu"
        ),
        _row(page, "Ana Díaz", "in_meeting"),
    )
    assert took < 1.0, took
    assert "S1" in _row(page, "Ana Díaz", "in_meeting").inner_text()
    wait_until(lambda: page.locator("[data-stat=students_present]").inner_text() == "1")
    assert page.locator("#list-unseen li").count() == 4

    # A guest with a hostile name waits, is admitted, leaves: shown as text throughout.
    took = _timed(
        page,
        server,
        _event("meeting.participant_joined_waiting_room", "waiting", "202", XSS),
        _row(page, XSS, "in_waiting_room"),
    )
    assert took < 1.0, took
    assert page.locator("#live img").count() == 0
    for name, kind in (
        ("meeting.participant_admitted", "admitted"),
        ("meeting.participant_joined", "joined"),
    ):
        assert send_webhook(server, _event(name, kind, "202", XSS)) == 200
    _row(page, XSS, "in_meeting").wait_for(timeout=2000)
    assert "Guest" in _row(page, XSS, "in_meeting").inner_text()
    took = _timed(
        page,
        server,
        _event("meeting.participant_left", "left", "202", XSS),
        _row(page, XSS, "left"),
    )
    assert took < 1.0, took
    assert _row(page, XSS, "in_meeting").count() == 0
    screenshot(page, "live-room")

    # Time attended ticks while Ana is in the meeting.
    before = _row(page, "Ana Díaz", "in_meeting").locator(".person-time").inner_text()
    page.wait_for_timeout(2100)
    after = _row(page, "Ana Díaz", "in_meeting").locator(".person-time").inner_text()
    assert before != after

    # Events missed while offline are there after reconnecting (the snapshot reloads).
    page.context.set_offline(True)
    wait_until(lambda: page.locator("#conn").get_attribute("data-state") == "lost", 15)
    assert (
        send_webhook(
            server,
            _event(
                "meeting.participant_joined",
                "joined",
                "103",
                "Ben Okafor",
                "ben@uni.edu",
            ),
        )
        == 200
    )
    page.context.set_offline(False)
    _row(page, "Ben Okafor", "in_meeting").wait_for(timeout=15000)
    assert page.locator("#conn").get_attribute("data-state") == "live"
    _assert_clean(console)


def _assert_clean(console) -> None:
    # Going offline on purpose logs the websocket's failed reconnects; nothing else may.
    errors = [
        e
        for e in console.errors
        if "WebSocket" not in e and "ERR_INTERNET_DISCONNECTED" not in e
    ]
    assert errors == [], errors
    assert console.dialogs == []


def test_live_room_is_404_for_other_instructors(room, page):
    server, api = room
    api.post(
        "/instructors",
        {"email": "other@uni.edu", "name": "Other", "password": "other-password"},
    )
    login(page, server, "other@uni.edu", "other-password")
    response = page.goto(f"{server.url}/live/{NUMBER}")
    assert response.status == 404


# -- a Redis outage between two processes ---------------------------------------------


@pytest.fixture(scope="module")
def outage_pair(server_factory):
    """Two processes sharing Redis through a proxy the test can cut."""
    from urllib.parse import urlparse

    from tests.support import redis_url, require
    from tests.tcp_proxy import TcpProxy

    require("redis")
    target = urlparse(redis_url())
    proxy = TcpProxy((target.hostname or "127.0.0.1", target.port or 6379))
    proxy.start()
    env = {"REDIS_URL": proxy.url}
    database = server_factory.database(env)
    a = server_factory.start(database_url=database, env=env)
    b = server_factory.start(database_url=database, env=env)
    api = Api.sign_in(a)
    course = api.post(
        "/courses",
        {"code": "LIVE-R", "title": "Redis", "zoom_meeting_ids": [str(NUMBER)]},
    )
    api.post(f"/courses/{course['id']}/students", ROSTER)
    yield a, b, proxy
    api.close()
    proxy.stop()


def _queue_state(server) -> str | None:
    import requests

    try:
        return requests.get(f"{server.url}/api/zoom/health", timeout=5).json()[
            "checks"
        ]["message_queue"]
    except (requests.RequestException, ValueError, KeyError):
        return None


def test_live_room_reloads_what_a_redis_outage_lost(outage_pair, page, console):
    """The page is on B; during an outage A applies a join whose emit is lost; once
    Redis is back the room shows it within seconds, without reloading the page."""
    a, b, proxy = outage_pair
    uuid = "live-room-outage=="
    assert send_webhook(a, started(uuid, _now() - timedelta(minutes=5))) == 200
    login(page, b)
    page.goto(f"{b.url}/live/{NUMBER}")
    page.wait_for_selector("#live[data-ready=true]")
    page.evaluate("() => { window.__sameDocument = true; }")

    proxy.stop()
    wait_until(lambda: _queue_state(b) == "degraded", 10, "B sees the outage")
    joined = participant_event(
        "meeting.participant_joined",
        "joined",
        _now(),
        user_id="301",
        user_name="Chen Wei",
        email="chen@uni.edu",
        uuid=uuid,
    )
    assert send_webhook(a, joined) == 200
    page.wait_for_timeout(500)
    assert _row(page, "Chen Wei", "in_meeting").count() == 0  # the emit was lost

    proxy.start()
    _row(page, "Chen Wei", "in_meeting").wait_for(timeout=10_000)
    assert page.evaluate("() => window.__sameDocument === true")
    assert page.locator("#conn").get_attribute("data-state") == "live"
    _assert_clean(console)


def test_live_room_of_an_unassigned_instructor_stops(room, page, console):
    """Unassigned while watching: the server ends the connection, the page
    reconnects, asks again, and says no; nothing more arrives."""
    server, api = room
    (course,) = [c for c in api.get("/courses") if c["code"] == "LIVE-1"]
    person = api.post(
        "/instructors",
        {"email": "moved@uni.edu", "name": "Moved", "password": "moved-password"},
    )
    api.post(f"/courses/{course['id']}/instructors", {"instructor_id": person["id"]})
    login(page, server, "moved@uni.edu", "moved-password")
    page.goto(f"{server.url}/live/{NUMBER}")
    page.wait_for_selector("#live[data-ready=true]")

    api.call("DELETE", f"/courses/{course['id']}/instructors/{person['id']}")
    wait_until(lambda: page.locator("#conn").get_attribute("data-state") == "error", 10)
    assert page.locator("#conn-text").inner_text() == "no such meeting"
    before = page.locator("#live li.person").count()
    event = _event(
        "meeting.participant_joined", "joined", "909", "Dana Smith", "dana@uni.edu"
    )
    assert send_webhook(server, event) == 200
    page.wait_for_timeout(1000)
    assert page.locator("#live li.person").count() == before
    _assert_clean(console)
