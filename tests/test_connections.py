"""Zoom connections (CONTRACT §6): encrypted secrets, key rotation, per-connection
webhook URLs, the admin API and page; secrets never answered nor logged."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Text, select, type_coerce

from attendance.config import ConfigError, encryption_keys
from attendance.extensions import db
from attendance.models import WebhookEvent, ZoomConnection
from attendance.services.connections import create_connection
from tests.conftest import make_test_app
from tests.support import SECRET, encode, fixture, signed_headers

ALPHA_SECRET = "alpha-secret-token-1"
BETA_SECRET = "beta-secret-token-2"
CLIENT_SECRET = "s2s-client-secret-xyz"
PLAIN = "qgg8vlvZRS6UYooatFL8Aw"


def _hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _make(app, name: str, secret: str, **extra) -> tuple[int, str]:
    with app.app_context():
        connection = create_connection(name, [secret], **extra)
        db.session.commit()
        return connection.id, connection.webhook_key


def _post(client, path: str, event, secret: str):
    body = encode(event)
    return client.post(path, data=body, headers=signed_headers(body, secret=secret))


@pytest.fixture
def two(app):
    """Two connections, alpha and beta, each with its own secret: (id, key) each."""
    return {
        "alpha": _make(app, "Alpha", ALPHA_SECRET, account_id="acc-a"),
        "beta": _make(app, "Beta", BETA_SECRET),
    }


# -- encryption at rest --------------------------------------------------------------


def test_encrypted_columns_round_trip_and_are_not_plain_in_the_database(app):
    cid, _key = _make(
        app, "Alpha", ALPHA_SECRET, client_id="cid", client_secret=CLIENT_SECRET
    )
    with app.app_context():
        table = ZoomConnection.__table__
        raw = db.session.execute(
            select(
                type_coerce(table.c.webhook_secrets, Text),
                type_coerce(table.c.client_secret, Text),
            )
        ).one()
        assert ALPHA_SECRET not in raw[0] and CLIENT_SECRET not in raw[1]
        cipher = Fernet(app.config["ENCRYPTION_KEYS"][0])
        assert cipher.decrypt(raw[1].encode()).decode() == CLIENT_SECRET
        db.session.expire_all()
        connection = db.session.get(ZoomConnection, cid)
        assert connection.secrets == (ALPHA_SECRET,)
        assert connection.client_secret == CLIENT_SECRET
        assert connection.has_credentials is False  # no account id
        assert len(connection.webhook_key) >= 22


def test_encryption_key_setting_is_validated():
    key = Fernet.generate_key().decode()
    other = Fernet.generate_key().decode()
    assert encryption_keys(f" {key} , {other} ", "s") == (key, other)
    with pytest.raises(ConfigError, match="key 2 is not a Fernet key"):
        encryption_keys(f"{key},not-a-key", "s")
    # Unset: derived from SECRET_KEY, stable, and a valid Fernet key.
    derived = encryption_keys(None, "secret")
    assert derived == encryption_keys("", "secret") != encryption_keys(None, "other")
    Fernet(derived[0])


def test_app_refuses_a_garbage_encryption_key(database_url):
    with pytest.raises(ConfigError, match="ATTENDANCE_ENCRYPTION_KEY"):
        make_test_app(database_url, ATTENDANCE_ENCRYPTION_KEY="garbage")


def test_keys_rotate_reencrypts_under_the_first_key(database_url):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = make_test_app(database_url, ATTENDANCE_ENCRYPTION_KEY=old)
    try:
        _make(first, "Alpha", ALPHA_SECRET, client_id="c", client_secret=CLIENT_SECRET)
        _make(first, "Beta", BETA_SECRET)
        both = make_test_app(database_url, ATTENDANCE_ENCRYPTION_KEY=f"{new},{old}")
        result = both.test_cli_runner().invoke(args=["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "re-encrypted 2 rows" in result.output
        only_new = make_test_app(database_url, ATTENDANCE_ENCRYPTION_KEY=new)
        with only_new.app_context():
            rows = db.session.scalars(select(ZoomConnection).order_by("name")).all()
            assert [r.secrets for r in rows] == [(ALPHA_SECRET,), (BETA_SECRET,)]
            assert rows[0].client_secret == CLIENT_SECRET
        with first.app_context():  # the old key alone opens nothing any more
            rows = db.session.scalars(select(ZoomConnection)).all()
            # Unreadable reads as no secret: the URL refuses all, no credentials.
            assert [(r.secrets, r.client_secret) for r in rows] == [
                ((), None),
                ((), None),
            ]
            assert not any(r.has_credentials for r in rows)
        # A key that opens nothing: rotation refuses, clearly, and changes nothing.
        stranger = make_test_app(
            database_url, ATTENDANCE_ENCRYPTION_KEY=Fernet.generate_key().decode()
        )
        refused = stranger.test_cli_runner().invoke(args=["keys", "rotate"])
        assert refused.exit_code == 1 and "none of the keys" in refused.output
    finally:
        from tests.conftest import _truncate

        _truncate(first)


def test_keys_generate_prints_a_fernet_key(runner):
    result = runner.invoke(args=["keys", "generate"])
    assert result.exit_code == 0
    Fernet(result.output.strip())


# -- per-connection webhook URLs -------------------------------------------------------


def test_connection_url_accepts_its_own_secret_only(app, client, two):
    alpha_id, alpha_key = two["alpha"]
    _beta_id, beta_key = two["beta"]
    started = fixture("meeting.started")
    url = f"/api/zoom/webhook/{alpha_key}"
    assert _post(client, url, started, BETA_SECRET).status_code == 401
    assert _post(client, url, started, SECRET).status_code == 401  # the env's
    assert (
        _post(
            client, f"/api/zoom/webhook/{beta_key}", started, ALPHA_SECRET
        ).status_code
        == 401
    )
    ok = _post(client, url, started, ALPHA_SECRET)
    assert ok.status_code == 200 and ok.get_json()["status"] in {"processed", "queued"}
    with app.app_context():
        (event,) = db.session.scalars(select(WebhookEvent)).all()
        assert event.connection_id == alpha_id
        assert db.session.get(ZoomConnection, alpha_id).last_event_at is not None
        assert db.session.get(ZoomConnection, two["beta"][0]).last_event_at is None


def test_plain_url_accepts_only_the_environments_secrets(app, client, two):
    started = fixture("meeting.started")
    assert _post(client, "/api/zoom/webhook", started, ALPHA_SECRET).status_code == 401
    assert _post(client, "/api/zoom/webhook", started, SECRET).status_code == 200
    with app.app_context():
        (event,) = db.session.scalars(select(WebhookEvent)).all()
        assert event.connection_id is None


@pytest.mark.parametrize(
    "suffix", ["not-a-connection-key-at-all", "", "a/b", "x" * 300]
)
def test_unknown_connection_key_is_404(client, two, suffix):
    response = _post(
        client, f"/api/zoom/webhook/{suffix}", fixture("meeting.started"), ALPHA_SECRET
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_url_validation_per_connection(client, two):
    validation = fixture("endpoint.url_validation")
    for name, secret in (("alpha", ALPHA_SECRET), ("beta", BETA_SECRET)):
        response = _post(
            client, f"/api/zoom/webhook/{two[name][1]}", validation, secret
        )
        assert response.status_code == 200
        assert response.get_json() == {
            "plainToken": PLAIN,
            "encryptedToken": _hmac_hex(secret, PLAIN),
        }
    wrong = _post(client, f"/api/zoom/webhook/{two['alpha'][1]}", validation, SECRET)
    assert wrong.status_code == 401


def test_connection_url_follows_changes_at_once(app, client, bearers, two):
    headers = bearers(root=True)["root"]
    alpha_id, alpha_key = two["alpha"]
    url = f"/api/zoom/webhook/{alpha_key}"
    started = fixture("meeting.started")
    assert _post(client, url, started, ALPHA_SECRET).status_code == 200
    changed = client.patch(
        f"/api/v1/connections/{alpha_id}",
        json={"secrets": ["rotated-secret"]},
        headers=headers,
    )
    assert changed.status_code == 200
    assert _post(client, url, fixture("meeting.ended"), ALPHA_SECRET).status_code == 401
    assert (
        _post(client, url, fixture("meeting.ended"), "rotated-secret").status_code
        == 200
    )
    assert (
        client.delete(f"/api/v1/connections/{alpha_id}", headers=headers).status_code
        == 204
    )
    assert _post(client, url, started, "rotated-secret").status_code == 404
    with app.app_context():  # its events stay, no longer linked
        events = db.session.scalars(select(WebhookEvent)).all()
        assert len(events) == 2 and {e.connection_id for e in events} == {None}


# -- the admin API -----------------------------------------------------------------------

_FIELDS = {
    "id",
    "name",
    "account_id",
    "webhook_url",
    "has_credentials",
    "secrets_configured",
    "created_at",
    "last_event_at",
    "last_reconcile_at",
    "status",
    "error",
}


def test_api_crud(client, bearers):
    headers = bearers(root=True)["root"]
    created = client.post(
        "/api/v1/connections",
        json={
            "name": "Main campus",
            "account_id": "acc-1",
            "secrets": [ALPHA_SECRET, BETA_SECRET],
            "client_id": "cid-1",
            "client_secret": CLIENT_SECRET,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert set(body) == _FIELDS
    assert body["has_credentials"] is True and body["secrets_configured"] == 2
    assert body["status"] == "ok" and body["error"] is None
    assert body["last_event_at"] is None and body["last_reconcile_at"] is None
    prefix = "http://localhost/api/zoom/webhook/"
    assert body["webhook_url"].startswith(prefix)
    assert len(body["webhook_url"][len(prefix) :]) >= 22
    cid = body["id"]

    assert client.get("/api/v1/connections", headers=headers).get_json() == [body]
    assert client.get(f"/api/v1/connections/{cid}", headers=headers).get_json() == body

    taken = client.post(
        "/api/v1/connections",
        json={"name": "Main campus", "secrets": ["x"]},
        headers=headers,
    )
    assert taken.status_code == 409
    no_secret = client.post(
        "/api/v1/connections", json={"name": "Other", "secrets": []}, headers=headers
    )
    assert no_secret.status_code == 422
    extra = client.post(
        "/api/v1/connections",
        json={"name": "Other", "secrets": ["x"], "webhook_key": "mine"},
        headers=headers,
    )
    assert extra.status_code == 422

    patched = client.patch(
        f"/api/v1/connections/{cid}",
        json={"name": "Renamed", "client_secret": None},
        headers=headers,
    ).get_json()
    assert patched["name"] == "Renamed" and patched["has_credentials"] is False
    assert patched["secrets_configured"] == 2
    assert patched["webhook_url"] == body["webhook_url"]

    assert (
        client.delete(f"/api/v1/connections/{cid}", headers=headers).status_code == 204
    )
    assert client.get(f"/api/v1/connections/{cid}", headers=headers).status_code == 404
    assert (
        client.delete(f"/api/v1/connections/{cid}", headers=headers).status_code == 404
    )


def test_api_is_for_admins_only(client, bearers):
    headers = bearers(ada=False)["ada"]
    assert client.get("/api/v1/connections").status_code == 401
    assert client.get("/api/v1/connections", headers=headers).status_code == 403
    refused = client.post(
        "/api/v1/connections", json={"name": "X", "secrets": ["s"]}, headers=headers
    )
    assert refused.status_code == 403


def test_secrets_are_never_answered_nor_logged(app, client, bearers, caplog):
    caplog.set_level(logging.DEBUG)
    headers = bearers(root=True)["root"]
    answers = []
    created = client.post(
        "/api/v1/connections",
        json={
            "name": "Logged",
            "account_id": "acc",
            "secrets": [ALPHA_SECRET],
            "client_id": "cid",
            "client_secret": CLIENT_SECRET,
        },
        headers=headers,
    )
    answers.append(created.get_data(as_text=True))
    cid = created.get_json()["id"]
    key = created.get_json()["webhook_url"].rsplit("/", 1)[1]
    changed = client.patch(
        f"/api/v1/connections/{cid}",
        json={"secrets": [BETA_SECRET], "client_secret": "another-client-secret"},
        headers=headers,
    )
    answers.append(changed.get_data(as_text=True))
    answers.append(
        client.get("/api/v1/connections", headers=headers).get_data(as_text=True)
    )
    url = f"/api/zoom/webhook/{key}"
    answers.append(
        _post(client, url, fixture("meeting.started"), BETA_SECRET).get_data(
            as_text=True
        )
    )
    answers.append(
        _post(client, url, fixture("meeting.ended"), ALPHA_SECRET).get_data(
            as_text=True
        )
    )
    answers.append(
        _post(client, url, fixture("endpoint.url_validation"), BETA_SECRET).get_data(
            as_text=True
        )
    )
    answers.append(client.get("/api/zoom/health").get_data(as_text=True))
    logged = "\n".join([r.getMessage() for r in caplog.records] + [caplog.text])
    assert "webhook event=" in logged  # the log was captured
    for secret in (ALPHA_SECRET, BETA_SECRET, CLIENT_SECRET, "another-client-secret"):
        assert secret not in logged
        for answer in answers:
            assert secret not in answer


# -- the admin page ------------------------------------------------------------------


def _sign_in(app, client, admin: bool = True) -> None:
    from tests.conftest import INSTRUCTOR_PASSWORD

    with app.app_context():
        from attendance.services.accounts import create_instructor

        create_instructor("page@uni.edu", "Page", INSTRUCTOR_PASSWORD, admin=admin)
        db.session.commit()
    response = client.post(
        "/login", data={"email": "page@uni.edu", "password": INSTRUCTOR_PASSWORD}
    )
    assert response.status_code in (302, 303)


def test_page_lists_connections_and_escapes_them(app, client):
    _, key = _make(
        app, "<script>alert(1)</script>", ALPHA_SECRET, client_secret=CLIENT_SECRET
    )
    _sign_in(app, client)
    html = client.get("/admin/connections").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f"http://localhost/api/zoom/webhook/{key}" in html
    assert 'data-copy="#url-' in html
    assert "meeting.participant_joined" in html and "meeting.ended" in html
    assert ALPHA_SECRET not in html and CLIENT_SECRET not in html
    assert "<script>" not in html.split("<main>", 1)[1].split("</main>")[0]


def test_page_creates_edits_and_deletes(app, client):
    _sign_in(app, client)
    created = client.post(
        "/admin/connections",
        data={"name": "North", "account_id": "acc", "secrets": f"{ALPHA_SECRET}\n"},
    )
    assert created.status_code == 303
    with app.app_context():
        connection = db.session.scalars(select(ZoomConnection)).one()
        cid, key = connection.id, connection.webhook_key
    url = f"/api/zoom/webhook/{key}"
    assert (
        _post(client, url, fixture("meeting.started"), ALPHA_SECRET).status_code == 200
    )

    taken = client.post(
        "/admin/connections",
        data={"name": "North", "secrets": BETA_SECRET, "client_secret": CLIENT_SECRET},
    )
    assert taken.status_code == 409 and "exists already" in taken.get_data(as_text=True)
    assert BETA_SECRET not in taken.get_data(as_text=True)
    assert CLIENT_SECRET not in taken.get_data(as_text=True)
    missing = client.post("/admin/connections", data={"name": "South"})
    assert missing.status_code == 422

    form = client.get(f"/admin/connections/{cid}").get_data(as_text=True)
    assert "Edit North" in form and ALPHA_SECRET not in form
    # Blank secrets keep the stored ones.
    kept = client.post(f"/admin/connections/{cid}", data={"name": "North 2"})
    assert kept.status_code == 303
    with app.app_context():
        assert db.session.get(ZoomConnection, cid).secrets == (ALPHA_SECRET,)
    changed = client.post(
        f"/admin/connections/{cid}",
        data={
            "name": "North 2",
            "secrets": BETA_SECRET,
            "client_id": "c",
            "client_secret": "k",
        },
    )
    assert changed.status_code == 303
    assert _post(client, url, fixture("meeting.ended"), BETA_SECRET).status_code == 200
    with app.app_context():
        row = db.session.get(ZoomConnection, cid)
        assert (row.name, row.secrets, row.client_secret) == (
            "North 2",
            (BETA_SECRET,),
            "k",
        )

    assert client.post(f"/admin/connections/{cid}/delete").status_code == 303
    assert _post(client, url, fixture("meeting.ended"), BETA_SECRET).status_code == 404
    assert client.get(f"/admin/connections/{cid}").status_code == 404


def test_page_is_for_admins(app, client):
    assert client.get("/admin/connections").status_code in (302, 303)
    _sign_in(app, client, admin=False)
    assert client.get("/admin/connections").status_code == 403
    assert client.post("/admin/connections", data={"name": "X"}).status_code == 403


def test_page_forms_need_a_csrf_token(database_url):
    from tests.conftest import _truncate

    csrf_app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    try:
        client = csrf_app.test_client()
        refused = client.post("/admin/connections", data={"name": "X", "secrets": "s"})
        assert refused.status_code == 400
        with csrf_app.app_context():
            assert db.session.scalars(select(ZoomConnection)).all() == []
    finally:
        _truncate(csrf_app)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ([" a,b ", "a,b", "c\nd"], ("a,b", "c\nd")),  # API items are taken whole
        ("one\n two \n\none", ("one", "two")),  # form text: one per line
        ('["x", "y"]', ("x", "y")),  # or a JSON list
    ],
)
def test_secrets_are_stored_as_given(app, given, kept):
    with app.app_context():
        connection = create_connection("Kept", given)
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(ZoomConnection, connection.id).secrets == kept


def test_connection_url_in_a_database_outage(app, client, two, monkeypatch):
    """Read once, the secrets stay in memory: URL validation answers without the database."""
    import attendance.services.connections as connections

    url = f"/api/zoom/webhook/{two['alpha'][1]}"
    validation = fixture("endpoint.url_validation")
    assert _post(client, url, validation, ALPHA_SECRET).status_code == 200

    def down(*_args, **_kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(connections, "select", down)
    monkeypatch.setattr(connections, "CACHE_SECONDS", -1.0)
    again = _post(client, url, validation, ALPHA_SECRET)
    assert again.status_code == 200
    assert again.get_json()["encryptedToken"] == _hmac_hex(ALPHA_SECRET, PLAIN)
    # A process that never read them cannot tell: 503, so Zoom tries again.
    fresh = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"])
    refused = _post(fresh.test_client(), url, validation, ALPHA_SECRET)
    assert refused.status_code == 503


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ([f"token-{n}" for n in range(11)], "at most 10"),
        (["x" * 501], "at most 500 characters"),
        ("\n".join(f"t{n}" for n in range(1667)), "at most 10"),  # the web's textarea
    ],
)
def test_a_connection_keeps_at_most_ten_secrets_of_500_characters(
    app, secrets, message
):
    """Every webhook on the URL is checked against every token: bounded for every caller."""
    from attendance.errors import ValidationFailed
    from attendance.services.connections import create_connection

    with app.app_context():
        with pytest.raises(ValidationFailed, match=message):
            create_connection("Many", secrets)
        db.session.rollback()
