"""The fake Zoom served over real HTTP for service tests, and an app pointed at it.

A test module imports ``fake_zoom`` and ``app_on_fake_zoom``: they are the fixtures
``fake`` and ``app`` there (the latter in place of conftest's).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from attendance.zoom import rest
from attendance.zoom.fake import FakeState, create_fake

#: The environment's S2S app (connection None), as the fake knows it.
ACCOUNT = {"account_id": "acct-env", "client_id": "cid-env", "client_secret": "sec-env"}


class Fake:
    """A fake Zoom served in a thread, with helpers for its control API."""

    def __init__(self, state: FakeState, base: str) -> None:
        self.state, self.base = state, base

    def post(self, path: str, body: dict[str, Any]) -> None:
        requests.post(self.base + path, json=body, timeout=5).raise_for_status()

    def fault(self, kind: str, count: int = 1, **extra: Any) -> None:
        self.post("/_fake/faults", {"kind": kind, "count": count, **extra})

    def users(self, users: list[dict[str, Any]]) -> None:
        self.post("/_fake/users", {"users": users})

    def instances(self, number: int, meetings: list[dict[str, Any]]) -> None:
        self.post("/_fake/instances", {"meeting_id": number, "meetings": meetings})

    def participants(self, uuid: str, rows: list[dict[str, Any]]) -> None:
        self.post("/_fake/participants", {"uuid": uuid, "participants": rows})

    def calls(self, prefix: str = "") -> list[dict[str, Any]]:
        found = requests.get(self.base + "/_fake/calls", timeout=5).json()["calls"]
        return [c for c in found if c["path"].startswith(prefix)]

    def settings(self) -> dict[str, Any]:
        """The app settings that make the environment's connection this fake's account."""
        return {
            "ZOOM_API_BASE_URL": self.base + "/v2",
            "ZOOM_OAUTH_BASE_URL": self.base,
            "ZOOM_ACCOUNT_ID": ACCOUNT["account_id"],
            "ZOOM_CLIENT_ID": ACCOUNT["client_id"],
            "ZOOM_CLIENT_SECRET": ACCOUNT["client_secret"],
            # Retries of a 5xx without waiting: the tests need no backoff.
            "ZOOM_RETRY_BACKOFF": 0.0,
        }


@pytest.fixture(name="fake")
def fake_zoom() -> Iterator[Fake]:
    """A fresh fake Zoom on a free local port, knowing the environment's account."""
    rest.forget_tokens()
    state = FakeState()
    state.load({"accounts": [ACCOUNT]})
    server = make_server("127.0.0.1", 0, create_fake(state), threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Fake(state, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        rest.forget_tokens()


@pytest.fixture(name="app")
def app_on_fake_zoom(database_url: str, fake: Fake):
    """The test app with the environment's Zoom credentials pointing at the fake."""
    from tests.conftest import _truncate, make_test_app

    application = make_test_app(database_url, **fake.settings())
    yield application
    _truncate(application)
