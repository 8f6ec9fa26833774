"""The fake Zoom served in a thread on a free local port, for tests that call it over HTTP.

A test module uses ``served()`` directly, or imports the fixtures ``fake_zoom``
(named ``fake``) and ``app_on_fake_zoom`` (named ``app``, in place of conftest's:
the test app with the environment's Zoom credentials pointing at the fake).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from attendance.zoom import rest
from attendance.zoom.fake import FakeState, create_fake
from attendance.zoom.rest import ZoomClient

#: The environment's S2S app (connection None), as the fake knows it.
ACCOUNT = {"account_id": "acct-1", "client_id": "cid-1", "client_secret": "sec-1"}


class FakeZoom:
    """A running fake Zoom and its control API."""

    def __init__(self, state: FakeState, base: str) -> None:
        self.state, self.base = state, base

    def post(self, path: str, body: Any) -> None:
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

    def client(self, account: dict[str, str] = ACCOUNT, **kwargs: Any) -> ZoomClient:
        """A REST client of ``account`` pointed at the fake."""
        return ZoomClient(
            account["account_id"],
            account["client_id"],
            account["client_secret"],
            api_base_url=self.base + "/v2",
            oauth_base_url=self.base,
            **kwargs,
        )

    def settings(self, account: dict[str, str] = ACCOUNT) -> dict[str, Any]:
        """The app settings that make the environment's connection this account here."""
        return {
            "ZOOM_ACCOUNT_ID": account["account_id"],
            "ZOOM_CLIENT_ID": account["client_id"],
            "ZOOM_CLIENT_SECRET": account["client_secret"],
            "ZOOM_API_BASE_URL": self.base + "/v2",
            "ZOOM_OAUTH_BASE_URL": self.base,
            # Retries of a 5xx without waiting: the tests need no backoff.
            "ZOOM_RETRY_BACKOFF": 0.0,
        }


#: The name older tests use.
Fake = FakeZoom


@contextmanager
def served(*accounts: dict[str, str]) -> Iterator[FakeZoom]:
    """A fake Zoom knowing these accounts (``ACCOUNT`` by default), stopped after."""
    rest.forget_tokens()
    state = FakeState()
    state.load({"accounts": list(accounts or (ACCOUNT,))})
    server = make_server("127.0.0.1", 0, create_fake(state), threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield FakeZoom(state, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        rest.forget_tokens()


@pytest.fixture(name="fake")
def fake_zoom() -> Iterator[FakeZoom]:
    """A fresh fake Zoom on a free local port, knowing the environment's account."""
    with served() as running:
        yield running


@pytest.fixture(name="app")
def app_on_fake_zoom(database_url: str, fake: FakeZoom):
    """The test app with the environment's Zoom credentials pointing at the fake."""
    from tests.conftest import _truncate, make_test_app

    application = make_test_app(database_url, **fake.settings())
    yield application
    _truncate(application)
