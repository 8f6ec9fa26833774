"""A bearer token's ``last_used_at``: looked up without a write, recorded after the request."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from attendance import auth
from attendance.extensions import db, socketio
from attendance.models import ApiToken, Instructor
from attendance.models.types import utcnow
from attendance.services.accounts import token_owner


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _last_used(app):
    with app.app_context():
        return db.session.scalar(select(ApiToken.last_used_at))


def test_token_owner_commits_nothing(app, bearers):
    """The lookup writes nothing: what the caller had pending stays uncommitted."""
    token = _token(bearers(ada=False)["ada"])
    with app.app_context():
        ada = db.session.scalar(select(Instructor))
        ada.name = "pending"
        assert token_owner(token) is ada
        db.session.rollback()
        assert db.session.scalar(select(Instructor.name)) == "ada"
    assert _last_used(app) is None


def test_token_use_is_recorded_after_the_request_once_a_minute(app, client, bearers):
    ada = bearers(ada=False)["ada"]
    assert _last_used(app) is None
    assert client.get("/api/v1/me", headers=ada).status_code == 200
    first = _last_used(app)
    assert first is not None
    listed = client.get("/api/v1/tokens", headers=ada).get_json()
    assert listed[0]["last_used_at"] is not None
    # Within the minute: no new write.
    assert _last_used(app) == first
    with app.app_context():
        row = db.session.scalar(select(ApiToken))
        row.last_used_at = first - timedelta(minutes=2)
        db.session.commit()
    client.get("/api/v1/me", headers=ada)
    assert first < _last_used(app) <= utcnow()


def test_a_socket_signed_in_by_token_records_its_use(app, bearers):
    token = _token(bearers(ada=False)["ada"])
    sock = socketio.test_client(app, auth={"token": token})
    assert sock.is_connected()
    assert _last_used(app) is not None
    sock.disconnect()


def test_an_unrecordable_use_does_not_fail_the_request(
    app, client, bearers, monkeypatch, caplog
):
    ada = bearers(ada=False)["ada"]

    def locked() -> None:
        raise OperationalError("UPDATE api_tokens", {}, Exception("database is locked"))

    monkeypatch.setattr(auth, "record_token_uses", locked)
    with caplog.at_level(logging.WARNING, logger="attendance.auth"):
        assert client.get("/api/v1/me", headers=ada).status_code == 200
    assert "last use was not recorded" in caplog.text
    assert _last_used(app) is None
