"""``create_app`` and configuration from the environment (CONTRACT §1)."""

from __future__ import annotations

import pytest

from attendance import create_app
from attendance.config import ConfigError, load_config, normalize_database_url


def test_create_app_reads_every_setting_from_the_environment(monkeypatch):
    env = {
        "DATABASE_URL": "sqlite:////tmp/x.db",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "SECRET_KEY": "k",
        "ZOOM_WEBHOOK_SECRET_TOKEN": " old , new ,",
        "ZOOM_ACCOUNT_ID": "acc",
        "ZOOM_CLIENT_ID": "cid",
        "ZOOM_CLIENT_SECRET": "csec",
        "ZOOM_API_BASE_URL": "http://127.0.0.1:9/v2/",
        "ZOOM_OAUTH_BASE_URL": "http://127.0.0.1:9",
        "ATTENDANCE_ADMIN_EMAIL": "admin@example.edu",
        "ATTENDANCE_ADMIN_PASSWORD": "pw",
        "WEBHOOK_MAX_SKEW_SECONDS": "60",
        "SCHEDULER_ENABLED": "true",
        "HOST": "0.0.0.0",  # noqa: S104 - only read, never bound
        "PORT": "8123",
        "LOG_LEVEL": "debug",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = create_app().config
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/x.db"
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert config["ZOOM_WEBHOOK_SECRETS"] == ("old", "new")
    assert config["ZOOM_API_BASE_URL"] == "http://127.0.0.1:9/v2"
    assert config["ZOOM_ACCOUNT_ID"] == "acc"
    assert config["ATTENDANCE_ADMIN_EMAIL"] == "admin@example.edu"
    assert config["WEBHOOK_MAX_SKEW_SECONDS"] == 60
    assert config["SCHEDULER_ENABLED"] is True
    assert (config["HOST"], config["PORT"], config["LOG_LEVEL"]) == (
        "0.0.0.0",
        8123,
        "DEBUG",
    )  # noqa: S104
    assert config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_defaults(monkeypatch):
    for key in (
        "DATABASE_URL",
        "REDIS_URL",
        "ZOOM_WEBHOOK_SECRET_TOKEN",
        "PORT",
        "HOST",
    ):
        monkeypatch.delenv(key, raising=False)
    config = load_config()
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("/instance/attendance.db")
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["REDIS_URL"] is None
    assert config["ZOOM_WEBHOOK_SECRETS"] == ()
    assert config["ZOOM_API_BASE_URL"] == "https://api.zoom.us/v2"
    assert config["ZOOM_OAUTH_BASE_URL"] == "https://zoom.us"
    assert config["WEBHOOK_MAX_SKEW_SECONDS"] == 300
    assert (config["HOST"], config["PORT"]) == ("127.0.0.1", 5000)
    assert (
        config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    )
    assert config["SESSION_COOKIE_SECURE"] is False


def test_production_requires_secret_key_and_secures_cookies(monkeypatch):
    monkeypatch.setenv("ATTENDANCE_ENV", "production")
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config()
    monkeypatch.setenv("SECRET_KEY", "prod")
    assert load_config()["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PORT", "eighty"),
        ("WEBHOOK_MAX_SKEW_SECONDS", "0"),
        ("WEBHOOK_PROCESSING", "later"),
        ("WEBHOOK_STORE_TIMEOUT_SECONDS", "soon"),
        ("WEBHOOK_STORE_TIMEOUT_SECONDS", "nan"),
        ("WEBHOOK_STORE_TIMEOUT_SECONDS", "-1"),
        ("WEBHOOK_STORE_TIMEOUT_SECONDS", "3"),  # Zoom's whole deadline
        ("HTTP_SOCKET_TIMEOUT_SECONDS", "inf"),
        ("HTTP_SOCKET_TIMEOUT_SECONDS", "0"),
        ("SQLITE_SYNCHRONOUS", "OFF"),
        ("RECONCILE_DELAY_MINUTES", "-1"),
        ("JOBS_POLL_SECONDS", "0"),
        ("JOB_LEASE_SECONDS", "5"),
        ("RECONCILE_DELAY_MINUTES", "ten"),
    ],
)
def test_bad_settings_fail_at_start(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError):
        create_app()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_pinned_to_psycopg2(url, expected):
    assert normalize_database_url(url) == expected


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/zoom/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_create_app_does_not_start_background_work(app):
    from attendance.ingest.writer import get_intake

    assert get_intake(app)._started is False
    assert "attendance.scheduler" not in app.extensions
