"""Instructor accounts: CLI, bootstrap, sign-in with CSRF and a rate limit, API tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import ApiToken, Course, Instructor
from attendance.services.accounts import bootstrap_admin, create_instructor
from tests.conftest import make_test_app

PASSWORD = "correct horse battery"


@pytest.fixture
def instructor(app):
    with app.app_context():
        person = create_instructor("Prof@Uni.edu", "Prof. Ada", PASSWORD)
        course = Course(code="BIO-101", title="Biology")
        course.instructors.append(person)
        db.session.add(course)
        other = Course(code="CHEM-1", title="Chemistry")
        db.session.add(other)
        db.session.commit()
        return person.id


@pytest.fixture
def csrf_app(database_url):
    """The suite's app with CSRF checking on, as in production."""
    from tests.conftest import _truncate

    application = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    yield application
    _truncate(application)


def _csrf(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_instructor_create_cli(app, runner):
    result = runner.invoke(
        args=[
            "instructor",
            "create",
            "T@Uni.edu",
            "--name",
            "Tee",
            "--admin",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "created admin t@uni.edu" in result.output
    again = runner.invoke(
        args=["instructor", "create", "t@uni.edu", "--password", PASSWORD]
    )
    assert again.exit_code == 1 and "exists already" in again.output
    short = runner.invoke(
        args=["instructor", "create", "u@uni.edu", "--password", "short"]
    )
    assert short.exit_code == 1 and "at least 8" in short.output
    prompted = runner.invoke(
        args=["instructor", "create", "v@uni.edu"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert prompted.exit_code == 0, prompted.output
    with app.app_context():
        row = db.session.scalar(
            select(Instructor).where(Instructor.email == "v@uni.edu")
        )
        assert row.password_hash != PASSWORD and row.check_password(PASSWORD)


def test_bootstrap_admin_only_when_there_is_no_instructor(app):
    with app.app_context():
        assert bootstrap_admin(None, None) is None
        admin = bootstrap_admin("Root@Uni.edu", PASSWORD)
        assert admin.is_admin and admin.email == "root@uni.edu"
        assert bootstrap_admin("second@uni.edu", PASSWORD) is None


def test_pages_require_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/")


def test_login_flow_with_csrf_and_safe_next(csrf_app, instructor):
    client = csrf_app.test_client()
    no_token = client.post(
        "/login", data={"email": "prof@uni.edu", "password": PASSWORD}
    )
    assert no_token.status_code == 400
    token = _csrf(client)
    wrong = client.post(
        "/login",
        data={"email": "prof@uni.edu", "password": "nope", "csrf_token": token},
    )
    assert wrong.status_code == 401 and "wrong e-mail or password" in wrong.get_data(
        as_text=True
    )
    evil = client.post(
        "/login?next=https://evil.example/x",
        data={"email": " PROF@uni.edu ", "password": PASSWORD, "csrf_token": token},
    )
    assert evil.status_code == 302 and evil.headers["Location"] == "/"
    (cookie,) = [
        c for c in evil.headers.getlist("Set-Cookie") if c.startswith("session=")
    ]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = client.get("/")
    assert home.status_code == 200 and "BIO-101" in home.get_data(as_text=True)
    assert "CHEM-1" not in home.get_data(as_text=True)  # not their course
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert (
        client.post("/logout", data={"csrf_token": _csrf(client, "/")}).status_code
        == 302
    )
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_next_never_leaves_the_site(app, instructor, client, target):
    response = client.post(
        f"/login?next={target}", data={"email": "prof@uni.edu", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_login_next_inside_the_site_is_followed(app, instructor, client):
    response = client.post(
        "/login?next=/api/v1/courses",
        data={"email": "prof@uni.edu", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/api/v1/courses"


def test_login_rate_limit_per_account_and_per_address(app, instructor, client):
    for _ in range(5):
        assert (
            client.post(
                "/login", data={"email": "prof@uni.edu", "password": "x"}
            ).status_code
            == 401
        )
    limited = client.post(
        "/login", data={"email": "prof@uni.edu", "password": PASSWORD}
    )
    assert limited.status_code == 429  # even the right password, for a minute
    other = app.test_client()
    response = other.post(
        "/api/v1/tokens",
        json={"email": "someone@uni.edu", "password": "x"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert response.status_code == 401
    for n in range(4):
        other.post(
            "/api/v1/tokens",
            json={"email": f"x{n}@uni.edu", "password": "x"},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )
    blocked = other.post(
        "/api/v1/tokens",
        json={"email": "new@uni.edu", "password": "x"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert blocked.status_code == 429
    assert blocked.get_json()["error"]["code"] == "rate_limited"


def test_session_cookie_is_secure_in_production(monkeypatch, database_url):
    monkeypatch.setenv("ATTENDANCE_ENV", "production")
    app = make_test_app(database_url)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_token_lifecycle(app, instructor, client):
    response = client.post(
        "/api/v1/tokens", json={"email": "prof@uni.edu", "password": PASSWORD}
    )
    assert response.status_code == 201
    token = response.get_json()["token"]
    assert token.startswith("att_")
    with app.app_context():
        row = db.session.scalar(select(ApiToken))
        assert token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    fresh = app.test_client()  # no session: the token alone
    courses = fresh.get("/api/v1/courses", headers={"Authorization": f"Bearer {token}"})
    assert courses.status_code == 200
    assert [c["code"] for c in courses.get_json()] == ["BIO-101"]
    # Token-authenticated writes need no CSRF token (none is possible).
    assert (
        fresh.post(
            "/api/v1/tokens",
            json={"email": "prof@uni.edu", "password": PASSWORD},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        == 201
    )
    with app.app_context():
        from attendance.services.accounts import revoke_token

        owner = db.session.get(Instructor, instructor)
        revoke_token(
            owner, db.session.scalar(select(ApiToken.id).order_by(ApiToken.id))
        )
        db.session.commit()
    assert (
        fresh.get(
            "/api/v1/courses", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (None, 400),
        ([], 400),
        ({"email": "prof@uni.edu"}, 422),
        ({"email": "prof@uni.edu", "password": PASSWORD, "admin": True}, 422),
        ({"email": 5, "password": PASSWORD}, 422),
        ({"email": "prof@uni.edu", "password": "wrong"}, 401),
    ],
)
def test_token_request_errors(app, instructor, client, body, status):
    response = (
        client.post("/api/v1/tokens", json=body)
        if body is not None
        else client.post(
            "/api/v1/tokens", data="not json", content_type="application/json"
        )
    )
    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_api_without_credentials_is_json_401(client):
    response = client.get("/api/v1/courses")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    bogus = client.get("/api/v1/courses", headers={"Authorization": "Bearer att_nope"})
    assert bogus.status_code == 401


def test_webhooks_need_no_csrf(csrf_app):
    from tests.support import encode, fixture, signed_headers

    body = encode(fixture("meeting.started"))
    response = csrf_app.test_client().post(
        "/api/zoom/webhook", data=body, headers=signed_headers(body)
    )
    assert response.status_code == 200


def test_views_marked_csrf_exempt_are_honoured(csrf_app):
    from attendance.extensions import csrf

    def exempted():
        return "ok"

    def guarded():
        return "ok"

    csrf_app.add_url_rule(
        "/x-exempt", "x_exempt", csrf.exempt(exempted), methods=["POST"]
    )
    csrf_app.add_url_rule("/x-guarded", "x_guarded", guarded, methods=["POST"])
    client = csrf_app.test_client()
    assert client.post("/x-exempt").status_code == 200
    assert client.post("/x-guarded").status_code == 400
