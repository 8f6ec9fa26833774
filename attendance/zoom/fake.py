"""A fake Zoom on a local port: the S2S token and the REST endpoints the client calls.

Its own small Flask app (not the attendance app), for tests, benchmarks and demos:
``flask --app app zoom fake --port N [--data FILE]``. It keeps its state in memory
(loaded from a JSON file, or set through ``/_fake/…``), answers faults on demand
(429 QPS or daily with Retry-After in seconds or as a date, an expired token, a
500, a 404 or 400, a slow answer, a 200 with a given body: a broken page) and
records every call it received.

UUIDs are read from the raw request path as Zoom reads them: a segment is decoded
once, and again when it was encoded twice; a UUID that begins with ``/`` or holds
``//`` encoded only once is not found, as on Zoom (ZOOM-REST.md §0.1).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

#: The address the fake binds: never anything but this machine.
HOST = "127.0.0.1"
#: The fault kinds ``POST /_fake/faults`` accepts.
FAULTS = frozenset(
    {"429-qps", "429-daily", "429", "401", "400", "404", "500", "sleep", "body"}
)


@dataclass
class _Fault:
    kind: str
    count: int
    #: ``seconds``, ``date`` (HTTP), ``iso`` or ``none``: how Retry-After is written (429s).
    retry_after: str = "seconds"
    #: The Retry-After's seconds, or how long ``sleep`` sleeps.
    seconds: float = 1.0
    #: ``api`` (``/v2/…``) or ``token`` (``/oauth/token``): which calls it answers.
    on: str = "api"
    #: What a ``body`` fault answers with status 200, verbatim (a malformed page).
    body: Any = None


@dataclass
class FakeState:
    """What the fake Zoom holds: accounts, reports, users, faults and the calls received."""

    #: account id -> (client id, client secret).
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    token_lifetime: int = 3600
    #: token -> time.time() it expires.
    tokens: dict[str, float] = field(default_factory=dict)
    #: uuid -> report rows (past participants are the same rows, fewer fields).
    meetings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    webinars: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: meeting number -> [{"uuid", "start_time"}].
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: webinar number -> [{"uuid", "start_time"}]; the meetings' list answers 404 for one.
    webinar_instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    users: list[dict[str, Any]] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: next_page_token -> (what is paged, offset).
    page_tokens: dict[str, tuple[str, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, data: dict[str, Any]) -> None:
        """Take the accounts, reports, instances and users of a data file's object."""
        for account in data.get("accounts", []):
            self.accounts[str(account["account_id"])] = (
                str(account["client_id"]),
                str(account["client_secret"]),
            )
        if "token_lifetime" in data:
            self.token_lifetime = int(data["token_lifetime"])
        self.meetings.update(data.get("meetings", {}))
        self.webinars.update(data.get("webinars", {}))
        self.instances.update({str(k): v for k, v in data.get("instances", {}).items()})
        self.webinar_instances.update(
            {str(k): v for k, v in data.get("webinar_instances", {}).items()}
        )
        self.users.extend(data.get("users", []))


_PAST_FIELDS = (
    "id",
    "name",
    "user_id",
    "registrant_id",
    "user_email",
    "join_time",
    "leave_time",
    "duration",
    "failover",
    "status",
    "internal_user",
)


def create_fake(state: FakeState | None = None) -> Flask:
    """The fake Zoom's WSGI app around ``state`` (a new empty one when None)."""
    app = Flask(__name__)
    # A UUID encoded once that begins with / must reach _route as Zoom sees it, not
    # be redirected to a path with one slash.
    app.url_map.merge_slashes = False
    fake = state or FakeState()
    app.extensions["fake_zoom"] = fake

    @app.before_request
    def _record() -> Response | None:
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
        path = urlsplit(raw).path if raw else request.path
        fault = None
        with fake.lock:
            if not request.path.startswith("/_fake/"):
                fake.calls.append(
                    {
                        "method": request.method,
                        "path": path,
                        "query": request.args.to_dict(),
                        "at": time.time(),
                    }
                )
                on = "token" if request.path == "/oauth/token" else "api"
                fault = _take_fault(fake, on)
        return None if fault is None else _fault_answer(fault)

    @app.post("/oauth/token")
    def token() -> Any:
        account = request.args.get("account_id") or request.form.get("account_id", "")
        grant = request.args.get("grant_type") or request.form.get("grant_type", "")
        if grant != "account_credentials":
            return _oauth_error("unsupported_grant_type", "Unsupported grant type", 400)
        if request.authorization is None or request.authorization.type != "basic":
            return _oauth_error("invalid_client", "Invalid client_id or client_secret")
        given = (request.authorization.username, request.authorization.password)
        with fake.lock:
            expected = fake.accounts.get(account)
            if expected is None:
                return _oauth_error("invalid_request", "Invalid account_id", 400)
            if not secrets.compare_digest(
                repr(given).encode(), repr(expected).encode()
            ):
                return _oauth_error(
                    "invalid_client", "Invalid client_id or client_secret"
                )
            access = secrets.token_urlsafe(24)
            fake.tokens[access] = time.time() + fake.token_lifetime
            lifetime = fake.token_lifetime
        return jsonify(
            access_token=access,
            token_type="bearer",  # noqa: S106 (a kind of token, not a secret)
            expires_in=lifetime,
            scope="report:read:admin meeting:read:admin user:read:admin",
        )

    @app.get("/v2/<path:rest>")
    def api(rest: str) -> Any:
        refused = _check_bearer(fake)
        if refused is not None:
            return refused
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
        segments = (urlsplit(raw).path if raw else request.path).split("/")[2:]
        return _route(fake, segments)

    @app.post("/_fake/participants")
    def set_participants() -> Any:
        body = request.get_json(force=True)
        target = fake.webinars if body.get("webinar") else fake.meetings
        with fake.lock:
            target[str(body["uuid"])] = list(body.get("participants", []))
        return jsonify(ok=True)

    @app.post("/_fake/instances")
    def set_instances() -> Any:
        """A number's ended instances; ``"webinar": true`` makes them a webinar's."""
        body = request.get_json(force=True)
        webinar = bool(body.get("webinar"))
        given = list(body.get("webinars") or body.get("meetings") or [])
        target = fake.webinar_instances if webinar else fake.instances
        with fake.lock:
            listed = target.setdefault(str(body["meeting_id"]), [])
            if body.get("append"):  # one more class (the simulator's), once per uuid
                known = {item.get("uuid") for item in listed}
                listed.extend(item for item in given if item.get("uuid") not in known)
            else:
                listed[:] = given
        return jsonify(ok=True)

    @app.post("/_fake/users")
    def set_users() -> Any:
        body = request.get_json(force=True)
        with fake.lock:
            fake.users[:] = list(body.get("users", []))
        return jsonify(ok=True)

    @app.post("/_fake/accounts")
    def add_account() -> Any:
        body = request.get_json(force=True)
        with fake.lock:
            fake.load({"accounts": [body], **_lifetime(body)})
        return jsonify(ok=True)

    @app.post("/_fake/faults")
    def add_fault() -> Any:
        body = request.get_json(force=True)
        kind = str(body.get("kind", ""))
        if kind not in FAULTS:
            return jsonify(error=f"kind must be one of {sorted(FAULTS)}"), 400
        fault = _Fault(
            kind=kind,
            count=int(body.get("count", 1)),
            retry_after=str(body.get("retry_after", "seconds")),
            seconds=float(body.get("seconds", 1.0)),
            on="token" if body.get("on") == "token" else "api",
            body=body.get("body"),
        )
        with fake.lock:
            fake.faults.append(fault)
        return jsonify(ok=True)

    @app.get("/_fake/calls")
    def calls() -> Any:
        with fake.lock:
            return jsonify(calls=list(fake.calls))

    @app.delete("/_fake/calls")
    def clear_calls() -> Any:
        with fake.lock:
            fake.calls.clear()
        return jsonify(ok=True)

    return app


def serve(port: int, data_file: Path | None = None, **account: str) -> None:
    """Serve the fake Zoom on 127.0.0.1:``port`` until interrupted.

    ``account`` (account_id, client_id, client_secret) is one more account it accepts.
    """
    state = FakeState()
    if data_file is not None:
        state.load(json.loads(data_file.read_text(encoding="utf-8")))
    if account:
        state.load({"accounts": [account]})
    make_server(HOST, port, create_fake(state), threaded=True).serve_forever()


def _lifetime(body: dict[str, Any]) -> dict[str, Any]:
    return (
        {"token_lifetime": body["token_lifetime"]} if "token_lifetime" in body else {}
    )


def _oauth_error(error: str, reason: str, status: int = 401) -> Any:
    return jsonify(reason=reason, error=error), status


def _zoom_error(status: int, code: int, message: str) -> Response:
    response = jsonify(code=code, message=message)
    response.status_code = status
    return response


def _take_fault(fake: FakeState, on: str) -> _Fault | None:
    """The next pending fault for these calls, counted down (called under the lock)."""
    for index, fault in enumerate(fake.faults):
        if fault.on == on:
            fault.count -= 1
            if fault.count <= 0:
                fake.faults.pop(index)
            return fault
    return None


def _fault_answer(fault: _Fault) -> Response | None:
    """A fault's answer; ``sleep`` only delays the real one."""
    if fault.kind == "sleep":
        time.sleep(fault.seconds)
        return None
    if fault.kind == "500":
        return _zoom_error(500, 500, "Internal server error")
    if fault.kind == "401":
        return _zoom_error(401, 124, "Access token is expired.")
    if fault.kind == "body":
        return jsonify(fault.body)
    if fault.kind == "404":
        return _zoom_error(404, 3001, "Meeting does not exist.")
    if fault.kind == "400":  # e.g. webinars asked of an account without the add-on
        return _zoom_error(400, 200, "No permission.")
    response = _zoom_error(
        429, 429, "You have reached the maximum per-second rate limit"
    )
    if fault.retry_after == "date":
        when = datetime.now(UTC) + timedelta(seconds=fault.seconds)
        response.headers["Retry-After"] = format_datetime(when, usegmt=True)
    elif fault.retry_after == "iso":  # as in Zoom's documented example (ZOOM.md §5)
        when = datetime.now(UTC) + timedelta(seconds=fault.seconds)
        response.headers["Retry-After"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif fault.retry_after == "seconds":
        response.headers["Retry-After"] = str(int(fault.seconds))
    if fault.kind == "429-qps":
        response.headers["X-RateLimit-Type"] = "QPS"
    elif fault.kind == "429-daily":
        response.headers["X-RateLimit-Type"] = "Daily-limit"
        response.headers["X-RateLimit-Remaining"] = "0"
    return response


def _check_bearer(fake: FakeState) -> Response | None:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
    with fake.lock:
        expires = fake.tokens.get(token)
    if expires is None:
        return _zoom_error(401, 124, "Invalid access token.")
    if expires <= time.time():
        return _zoom_error(401, 124, "Access token is expired.")
    return None


def _uuid_of(segment: str) -> str | None:
    """A UUID from its raw path segment as Zoom decodes it; None when Zoom would not find it."""
    once = unquote(segment)
    if "%" in once:
        return unquote(once)
    if once.startswith("/") or "//" in once:
        return None
    return once


def _route(fake: FakeState, segments: list[str]) -> Any:
    """Answer ``/v2/…`` from its raw path segments (UUIDs still encoded)."""
    match segments:
        case ["report", "meetings" | "webinars" as kind, uuid, "participants"]:
            source = fake.meetings if kind == "meetings" else fake.webinars
            return _participants(fake, source, _uuid_of(uuid), report=True)
        case ["past_meetings", number, "instances"] if number.isdigit():
            with fake.lock:
                meetings = fake.instances.get(number)
                webinar = number in fake.webinar_instances
            if meetings is None and webinar:  # as Zoom: a webinar is no meeting
                return _zoom_error(404, 3001, f"Meeting does not exist: {number}.")
            return jsonify(meetings=list(meetings or []))
        case ["past_webinars", number, "instances"] if number.isdigit():
            with fake.lock:
                webinars = fake.webinar_instances.get(number)
            if webinars is None:
                return _zoom_error(404, 3001, f"Webinar does not exist: {number}.")
            return jsonify(webinars=list(webinars))
        case ["past_meetings", uuid, "participants"]:
            return _participants(fake, fake.meetings, _uuid_of(uuid), report=False)
        case ["users"]:
            with fake.lock:
                users = list(fake.users)
            return _page(fake, "users", users, "users")
    return _zoom_error(404, 404, "Not found")


def _participants(
    fake: FakeState,
    source: dict[str, list[dict[str, Any]]],
    uuid: str | None,
    *,
    report: bool,
) -> Any:
    with fake.lock:
        rows = None if uuid is None else source.get(uuid)
    if rows is None:
        return _zoom_error(404, 3001, f"Meeting does not exist: {uuid or ''}.")
    if not report:
        rows = [{k: row[k] for k in _PAST_FIELDS if k in row} for row in rows]
    return _page(fake, f"participants:{uuid}", rows, "participants")


def _page(fake: FakeState, what: str, rows: list[dict[str, Any]], key: str) -> Any:
    """One page of ``rows`` as Zoom pages: page_size (≤ 300), an opaque next_page_token."""
    try:
        size = min(max(int(request.args.get("page_size", "30")), 1), 300)
    except ValueError:
        size = 30
    offset = 0
    given = request.args.get("next_page_token", "")
    if given:
        with fake.lock:
            entry = fake.page_tokens.get(given)
        if entry is None or entry[0] != what:
            return _zoom_error(400, 300, "The next page token is invalid or expired.")
        offset = entry[1]
    following = ""
    if offset + size < len(rows):
        following = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode()
        with fake.lock:
            fake.page_tokens[following] = (what, offset + size)
    return jsonify(
        {
            "page_count": -(-len(rows) // size),
            "page_size": size,
            "total_records": len(rows),
            "next_page_token": following,
            key: rows[offset : offset + size],
        }
    )
