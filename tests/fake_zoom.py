"""The fake Zoom served in a thread on a free local port, for tests that call it over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from werkzeug.serving import make_server

from attendance.zoom import rest
from attendance.zoom.fake import FakeState, create_fake

ACCOUNT = {"account_id": "acct-1", "client_id": "cid-1", "client_secret": "sec-1"}


class FakeZoom:
    """A running fake Zoom and its control API."""

    def __init__(self, state: FakeState, base: str) -> None:
        self.state, self.base = state, base

    def post(self, path: str, body: Any) -> None:
        requests.post(self.base + path, json=body, timeout=5).raise_for_status()

    def fault(self, kind: str, count: int = 1, **extra: Any) -> None:
        self.post("/_fake/faults", {"kind": kind, "count": count, **extra})

    def calls(self, prefix: str = "") -> list[dict[str, Any]]:
        found = requests.get(self.base + "/_fake/calls", timeout=5).json()["calls"]
        return [c for c in found if c["path"].startswith(prefix)]

    def settings(self, account: dict[str, str] = ACCOUNT) -> dict[str, str]:
        """The app settings that make the environment's connection this account here."""
        return {
            "ZOOM_ACCOUNT_ID": account["account_id"],
            "ZOOM_CLIENT_ID": account["client_id"],
            "ZOOM_CLIENT_SECRET": account["client_secret"],
            "ZOOM_API_BASE_URL": self.base + "/v2",
            "ZOOM_OAUTH_BASE_URL": self.base,
            "ZOOM_RETRY_BACKOFF": 0.01,
        }


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
