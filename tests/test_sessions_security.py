"""Sessions end when they should, CSRF is skipped only for real tokens, sign-in limits
count the right address and hold under concurrency (issue 10, security 3, 5 and 6)."""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest
from sqlalchemy import select, text

from attendance.errors import InvalidCredentials, RateLimited
from attendance.extensions import db
from attendance.models import ApiToken, Instructor
from attendance.services.accounts import (
    MAX_FAILURES,
    authenticate,
    create_instructor,
    issue_token,
    update_instructor,
)
from attendance.signals import access_changed
from tests.conftest import _truncate, make_test_app

PASSWORD = "correct horse battery"


@pytest.fixture
def csrf_app(database_url):
    """The suite's app with CSRF checking on, as in production."""
    application = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    yield application
    _truncate(application)


def _people(app) -> dict[str, int]:
    """An admin and an instructor; their ids."""
    with app.app_context():
        root = create_instructor("root@uni.edu", "Root", PASSWORD, admin=True)
        ada = create_instructor("ada@uni.edu", "Ada", PASSWORD)
        db.session.commit()
        return {"root": root.id, "ada": ada.id}


def _csrf(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _sign_in(client, email: str = "ada@uni.edu", *, remember: bool = False, **kw):
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    if kw.get("csrf", False):
        data["csrf_token"] = _csrf(client)
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.status_code
    return response


def _cookie(client, name: str) -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _signed_in(app, cookies: dict[str, str]) -> bool:
    """Whether a fresh client holding only ``cookies`` reaches the dashboard."""
    fresh = app.test_client()
    for name, value in cookies.items():
        fresh.set_cookie(name, value)
    return fresh.get("/").status_code == 200


# -- item 3: sessions and remember-me cookies die ---------------------------------------


def test_session_cookie_replayed_after_sign_out_is_refused(app, client):
    _people(app)
    _sign_in(client)
    stolen = {"session": _cookie(client, "session")}
    assert _signed_in(app, stolen)
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302
    assert not _signed_in(app, stolen)


def test_remember_cookie_replayed_after_sign_out_is_refused(app, client):
    _people(app)
    _sign_in(client, remember=True)
    remembered = {"remember_token": _cookie(client, "remember_token")}
    assert _signed_in(app, remembered)
    client.post("/logout")
    assert not _signed_in(app, remembered)


def test_password_change_ends_sessions_and_remember_cookies(app, client):
    ids = _people(app)
    _sign_in(client, remember=True)
    session_only = {"session": _cookie(client, "session")}
    remembered = {"remember_token": _cookie(client, "remember_token")}
    assert _signed_in(app, session_only) and _signed_in(app, remembered)
    with app.app_context():
        update_instructor(db.session.get(Instructor, ids["ada"]), password="new " * 3)
        db.session.commit()
    assert client.get("/").status_code == 302
    assert not _signed_in(app, session_only)
    assert not _signed_in(app, remembered)
    # The new password works, and gives a working session again.
    again = app.test_client()
    again.post("/login", data={"email": "ada@uni.edu", "password": "new " * 3})
    assert again.get("/").status_code == 200


def test_name_change_keeps_sessions(app, client):
    ids = _people(app)
    _sign_in(client)
    with app.app_context():
        update_instructor(db.session.get(Instructor, ids["ada"]), name="Ada L.")
        db.session.commit()
    assert client.get("/").status_code == 200


def test_sign_out_elsewhere_ends_every_session_of_the_account(app):
    _people(app)
    laptop, phone = app.test_client(), app.test_client()
    _sign_in(laptop)
    _sign_in(phone)
    laptop.post("/logout")
    assert phone.get("/").status_code == 302


@pytest.mark.parametrize("user_id", ["1", "1:x", "x:0", ":", "1:0:0", "9" * 40 + ":0"])
def test_session_user_id_of_another_shape_is_anonymous(app, user_id):
    _people(app)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_sign_in_rotates_the_session(csrf_app):
    _people(csrf_app)
    client = csrf_app.test_client()
    before = _csrf(client)  # issued to the anonymous session
    response = client.post(
        "/login",
        data={"email": "ada@uni.edu", "password": PASSWORD, "csrf_token": before},
    )
    assert response.status_code == 302
    # A token planted or read before sign-in is worthless after it.
    assert (
        client.post("/tokens", data={"name": "x", "csrf_token": before}).status_code
        == 400
    )
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    after = _csrf(client, "/tokens")
    assert after != before
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302


# -- item 5: CSRF is skipped only for a request a valid token authenticated --------------


def test_junk_bearer_header_does_not_skip_csrf_on_a_session(csrf_app):
    ids = _people(csrf_app)
    client = csrf_app.test_client()
    _sign_in(client, csrf=True)
    with csrf_app.app_context():
        issue_token(db.session.get(Instructor, ids["ada"]), "script")
        db.session.commit()
        token_id = db.session.scalar(select(ApiToken.id))
    junk = {"Authorization": "Bearer att_not-a-real-token"}
    revoke = client.delete(f"/api/v1/tokens/{token_id}", headers=junk)
    assert revoke.status_code == 400
    page = client.post("/tokens", data={"name": "forged"}, headers=junk)
    assert page.status_code == 400
    with csrf_app.app_context():
        assert db.session.scalar(select(ApiToken.revoked_at)) is None
        assert db.session.scalar(select(db.func.count(ApiToken.id))) == 1


def test_valid_token_writes_need_no_csrf(csrf_app):
    ids = _people(csrf_app)
    with csrf_app.app_context():
        person = db.session.get(Instructor, ids["ada"])
        token = issue_token(person, "script")
        issue_token(person, "other")
        db.session.commit()
        other_id = db.session.scalar(
            select(ApiToken.id).where(ApiToken.name == "other")
        )
    response = csrf_app.test_client().delete(
        f"/api/v1/tokens/{other_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 204


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer att_junk"}, {"Authorization": "Basic x"}]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/courses"),
        ("delete", "/api/v1/tokens/1"),
        ("patch", "/api/v1/instructors/1"),
    ],
)
def test_unauthenticated_api_writes_are_json_401(csrf_app, headers, method, path):
    response = getattr(csrf_app.test_client(), method)(
        path, json={"code": "X"}, headers=headers
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_api_write_on_a_session_still_needs_csrf(csrf_app):
    ids = _people(csrf_app)
    client = csrf_app.test_client()
    _sign_in(client, csrf=True)
    with csrf_app.app_context():
        issue_token(db.session.get(Instructor, ids["ada"]), "script")
        db.session.commit()
        token_id = db.session.scalar(select(ApiToken.id))
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 400
    token = _csrf(client, "/tokens")
    ok = client.delete(f"/api/v1/tokens/{token_id}", headers={"X-CSRFToken": token})
    assert ok.status_code == 204


# -- access_changed: sent after the change is committed ---------------------------------


@pytest.fixture
def announced(app):
    """The instructor ids ``access_changed`` was sent for, each with what another
    connection saw in the database at that moment (committed or not)."""
    seen: list[tuple[int, dict]] = []

    def receiver(_sender, instructor_id: int, **_kw) -> None:
        with db.engine.connect() as conn:
            row = conn.execute(
                text("SELECT is_admin, auth_version FROM instructors WHERE id = :id"),
                {"id": instructor_id},
            ).first()
            revoked = conn.execute(
                text(
                    "SELECT count(*) FROM api_tokens "
                    "WHERE instructor_id = :id AND revoked_at IS NOT NULL"
                ),
                {"id": instructor_id},
            ).scalar()
        state = (
            {"exists": False}
            if row is None
            else {
                "exists": True,
                "is_admin": bool(row[0]),
                "auth_version": row[1],
                "revoked": revoked,
            }
        )
        seen.append((instructor_id, state))

    access_changed.connect(receiver)
    yield seen
    access_changed.disconnect(receiver)


def _distinct(announced: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """Each announcement once: a change may be announced by its service and again by
    the ORM watcher (``attendance.access``); receivers re-check, so repeats are fine."""
    out: list[tuple[int, dict]] = []
    for item in announced:
        if item not in out:
            out.append(item)
    return out


def _bearer(app, person_id: int, name: str = "cli") -> dict[str, str]:
    with app.app_context():
        token = issue_token(db.session.get(Instructor, person_id), name)
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_sign_out_announces_after_commit(app, client, announced):
    ids = _people(app)
    _sign_in(client)
    client.post("/logout")
    assert _distinct(announced) == [
        (
            ids["ada"],
            {"exists": True, "is_admin": False, "auth_version": 1, "revoked": 0},
        )
    ]


def test_password_change_and_demotion_announce_after_commit(app, client, announced):
    ids = _people(app)
    root = _bearer(app, ids["root"])
    cy = client.post(
        "/api/v1/instructors",
        json={
            "email": "cy@uni.edu",
            "name": "Cy",
            "password": PASSWORD,
            "is_admin": True,
        },
        headers=root,
    ).get_json()["id"]
    _bearer(app, cy)
    assert announced == []  # creating and promoting take nothing away
    client.patch(f"/api/v1/instructors/{cy}", json={"name": "Cy Y."}, headers=root)
    assert announced == []
    client.patch(f"/api/v1/instructors/{cy}", json={"is_admin": False}, headers=root)
    demoted = (
        cy,
        {"exists": True, "is_admin": False, "auth_version": 0, "revoked": 0},
    )
    assert _distinct(announced) == [demoted]
    client.patch(
        f"/api/v1/instructors/{cy}", json={"password": "another one!"}, headers=root
    )
    assert _distinct(announced) == [
        demoted,
        (cy, {"exists": True, "is_admin": False, "auth_version": 1, "revoked": 1}),
    ]


def test_token_revocation_announces_after_commit(app, client, announced):
    ids = _people(app)
    ada = _bearer(app, ids["ada"])
    _bearer(app, ids["ada"], "second")
    listed = client.get("/api/v1/tokens", headers=ada).get_json()
    second = next(t["id"] for t in listed if t["name"] == "second")
    assert client.delete(f"/api/v1/tokens/{second}", headers=ada).status_code == 204
    assert _distinct(announced) == [
        (
            ids["ada"],
            {"exists": True, "is_admin": False, "auth_version": 0, "revoked": 1},
        )
    ]
    # The dashboard's revoke button too.
    _sign_in(client)
    first = next(t["id"] for t in listed if t["name"] == "cli")
    assert client.post(f"/tokens/{first}/revoke").status_code == 303
    assert announced[-1][1]["revoked"] == 2


def test_deletion_announces_after_commit(app, client, announced):
    ids = _people(app)
    root = _bearer(app, ids["root"])
    assert (
        client.delete(f"/api/v1/instructors/{ids['ada']}", headers=root).status_code
        == 204
    )
    assert _distinct(announced) == [(ids["ada"], {"exists": False})]


# -- item 6: the right address, and an atomic count --------------------------------------


def _login_from(app, client_address: str, password: str, *, proxy="10.0.0.1"):
    return app.test_client().post(
        "/login",
        data={"email": "ada@uni.edu", "password": password},
        headers={"X-Forwarded-For": client_address},
        environ_base={"REMOTE_ADDR": proxy},
    )


def test_behind_a_trusted_proxy_failures_count_per_client(database_url):
    app = make_test_app(database_url, TRUSTED_PROXY_HOPS=1)
    try:
        with app.app_context():
            create_instructor("ada@uni.edu", "Ada", PASSWORD)
            create_instructor("bob@uni.edu", "Bob", PASSWORD)
            db.session.commit()
        for n in range(MAX_FAILURES):
            response = app.test_client().post(
                "/login",
                data={"email": f"nobody{n}@uni.edu", "password": "wrong"},
                headers={"X-Forwarded-For": "203.0.113.7"},
                environ_base={"REMOTE_ADDR": "10.0.0.1"},
            )
            assert response.status_code == 401
        # Another user behind the same proxy is not locked out by the first one's typos.
        assert _login_from(app, "198.51.100.2", PASSWORD).status_code == 302
        # The address that failed is.
        blocked = app.test_client().post(
            "/login",
            data={"email": "bob@uni.edu", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.7"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        )
        assert blocked.status_code == 429
    finally:
        _truncate(app)


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app):
    _people(app)
    for n in range(MAX_FAILURES):
        # A client cannot dodge the per-address limit by inventing addresses.
        app.test_client().post(
            "/login",
            data={"email": f"nobody{n}@uni.edu", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        )
    assert _login_from(app, "198.51.100.99", PASSWORD).status_code == 429


def test_trusted_proxy_hops_setting(monkeypatch, database_url):
    from attendance.config import ConfigError

    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "2")
    assert make_test_app(database_url).config["TRUSTED_PROXY_HOPS"] == 2
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "-1")
    with pytest.raises(ConfigError):
        make_test_app(database_url)


def _race(app, who) -> Counter:
    """Wrong sign-ins all at once, each on its own thread and connection.

    ``who`` lists each attempt's (e-mail, address).
    """
    outcomes: Counter = Counter()
    barrier = threading.Barrier(len(who))
    lock = threading.Lock()

    def attempt(email: str, address: str) -> None:
        with app.app_context():
            barrier.wait()
            try:
                authenticate(email, "wrong password", address)
                outcome = "signed in"
            except InvalidCredentials:
                outcome = "checked"
            except RateLimited:
                outcome = "limited"
            finally:
                db.session.remove()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=attempt, args=pair) for pair in who]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


@pytest.fixture(params=["suite database", "postgresql"])
def racing_app(request, database_url):
    """The suite's database, and PostgreSQL always (a throw-away database)."""
    if request.param == "suite database":
        url, cleanup = database_url, None
    else:
        from flask_migrate import upgrade

        from tests.conftest import _create_postgres_database, _drop_postgres_database

        url, admin_url = _create_postgres_database()
        with make_test_app(url).app_context():
            upgrade()
            db.engine.dispose()
        cleanup = lambda: _drop_postgres_database(url, admin_url)  # noqa: E731
    app = make_test_app(url)
    with app.app_context():
        create_instructor("ada@uni.edu", "Ada", PASSWORD)
        db.session.commit()
    yield app
    _truncate(app)
    if cleanup:
        cleanup()


#: Three times the limit, and fewer than the pool's 15 connections.
_ATTEMPTS = 3 * MAX_FAILURES - 1


def test_concurrent_wrong_passwords_per_account_never_exceed_the_limit(racing_app):
    # Spread over addresses (at most MAX_FAILURES each): only the account's count
    # can stop them.
    who = [("ada@uni.edu", f"192.0.2.{n % 3}") for n in range(_ATTEMPTS)]
    outcomes = _race(racing_app, who)
    assert sum(outcomes.values()) == _ATTEMPTS
    assert outcomes["checked"] <= MAX_FAILURES, outcomes
    assert "signed in" not in outcomes


def test_concurrent_wrong_passwords_per_address_never_exceed_the_limit(racing_app):
    who = [(f"x{n}@uni.edu", "192.0.2.9") for n in range(_ATTEMPTS)]
    outcomes = _race(racing_app, who)
    assert sum(outcomes.values()) == _ATTEMPTS
    assert outcomes["checked"] <= MAX_FAILURES, outcomes


def test_failures_counted_under_concurrency_still_lock_the_account(racing_app):
    who = [("ada@uni.edu", f"192.0.2.{n}") for n in range(MAX_FAILURES)]
    first = _race(racing_app, who)
    # Whatever got checked was counted: enough of them lock the right password out.
    with racing_app.app_context():
        if first["checked"] == MAX_FAILURES:
            with pytest.raises(RateLimited):
                authenticate("ada@uni.edu", PASSWORD, "192.0.2.200")
        else:
            assert authenticate("ada@uni.edu", PASSWORD, "192.0.2.200")


# -- /login?next= with control characters ------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/%0d%0aSet-Cookie:%20x=1",
        "/%0aLocation:%20https://evil.example",
        "/%00",
        "/%e2%80%8b//evil.example",
        "/%09/evil.example",
    ],
)
def test_login_next_with_control_characters_redirects_home(app, client, target):
    _people(app)
    signed_out = client.post(
        f"/login?next={target}", data={"email": "ada@uni.edu", "password": PASSWORD}
    )
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == "/"
    signed_in = client.get(f"/login?next={target}")
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
