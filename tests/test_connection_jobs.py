"""Two Zoom accounts, each with its own connection: its webhooks, its credentials, its jobs.

CONTRACT §6: a meeting is reconciled with the credentials of the connection whose
URL brought its events; a connection's status follows its jobs; secrets and
tokens are never answered nor logged, whatever fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import Job, Meeting, ZoomConnection
from attendance.services.connections import create_connection, webhook_path
from tests.conftest import INSTRUCTOR_PASSWORD, _truncate, make_test_app
from tests.engine_support import UUID, make_course
from tests.fake_zoom import FakeZoom, served
from tests.support import encode, signed_headers
from tests.test_reconciliation import play_lost_leave, run_jobs, the_report

ALPHA = {
    "account_id": "acct-alpha",
    "client_id": "cid-alpha",
    "client_secret": "alpha-client-secret-123",
}
BETA = {
    "account_id": "acct-beta",
    "client_id": "cid-beta",
    "client_secret": "beta-client-secret-456",
}
ALPHA_HOOK = "alpha-webhook-secret-789"
BETA_HOOK = "beta-webhook-secret-012"


@pytest.fixture
def fake() -> Iterator[FakeZoom]:
    with served(ALPHA, BETA) as running:
        yield running


@pytest.fixture
def app(database_url: str, fake: FakeZoom):
    settings = fake.settings()
    # The environment's connection has no REST credentials here.
    for name in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        settings[name] = None
    application = make_test_app(database_url, **settings)
    yield application
    _truncate(application)


def connections(
    app, beta_secret: str = BETA["client_secret"]
) -> dict[str, tuple[int, str]]:
    with app.app_context():
        made = {}
        for name, account, hook, secret in (
            ("Alpha", ALPHA, ALPHA_HOOK, ALPHA["client_secret"]),
            ("Beta", BETA, BETA_HOOK, beta_secret),
        ):
            c = create_connection(
                name,
                [hook],
                account_id=account["account_id"],
                client_id=account["client_id"],
                client_secret=secret,
            )
            db.session.flush()
            made[name] = (c.id, webhook_path(c))
        db.session.commit()
        return made


class Sender:
    """Posts signed webhooks to one connection's URL."""

    def __init__(self, client, path: str, secret: str) -> None:
        self.client, self.path, self.secret = client, path, secret

    def post(self, event):
        body = encode(event)
        return self.client.post(
            self.path, data=body, headers=signed_headers(body, secret=self.secret)
        )


def reconciled_through_beta(app, client, bearers, fake, **secrets: str):
    """Alpha and Beta connected, a class through Beta's URL with a lost leave,
    Zoom's report of it, and its reconciliation run: (connections, headers, meeting id)."""
    made = connections(app, **secrets)
    make_course(app)
    play_lost_leave(Sender(client, made["Beta"][1], BETA_HOOK))
    fake.post("/_fake/participants", {"uuid": UUID, "participants": the_report()})
    headers = bearers(root=True)["root"]
    with app.app_context():
        mid = db.session.scalar(select(Meeting.id))
    answer = client.post(f"/api/v1/meetings/{mid}/reconcile", headers=headers)
    assert answer.status_code == 202, answer.get_json()
    run_jobs(app)
    return made, headers, mid


def test_a_meeting_is_reconciled_with_its_own_connections_account(
    app, client, bearers, fake
):
    made, headers, mid = reconciled_through_beta(app, client, bearers, fake)
    beta_id = made["Beta"][0]
    with app.app_context():
        assert db.session.get(Meeting, mid).connection_id == beta_id
    tokens = [c for c in fake.calls("/oauth/token")]
    assert [c["query"]["account_id"] for c in tokens] == ["acct-beta"]
    answer = client.get(f"/api/v1/connections/{beta_id}", headers=headers).get_json()
    assert answer["last_reconcile_at"] is not None and answer["status"] == "ok"
    alpha = client.get(
        f"/api/v1/connections/{made['Alpha'][0]}", headers=headers
    ).get_json()
    assert alpha["last_reconcile_at"] is None


def test_a_refused_credential_marks_the_connection_and_never_leaks(
    app, client, bearers, fake, caplog
):
    caplog.set_level(logging.DEBUG)
    made, headers, mid = reconciled_through_beta(
        app, client, bearers, fake, beta_secret="a-wrong-client-secret-999"
    )
    beta_id = made["Beta"][0]
    answer = client.get(f"/api/v1/connections/{beta_id}", headers=headers)
    body = answer.get_json()
    assert body["status"] == "error" and "reconcile" in body["error"]
    recon = client.get(f"/api/v1/meetings/{mid}/reconciliation", headers=headers)
    assert recon.get_json()["status"] == "error"
    client.post(
        "/login", data={"email": "root@uni.edu", "password": INSTRUCTOR_PASSWORD}
    )
    pages = [
        client.get(p).get_data(as_text=True)
        for p in ("/admin/connections", f"/meetings/{mid}")
    ]
    listing = client.get("/api/v1/connections", headers=headers).get_data(as_text=True)
    issued = list(fake.state.tokens)
    everything = "\n".join(
        [
            caplog.text,
            answer.get_data(as_text=True),
            recon.get_data(as_text=True),
            listing,
            *pages,
        ]
    )
    for secret in (
        "a-wrong-client-secret-999",
        ALPHA["client_secret"],
        BETA["client_secret"],
        ALPHA_HOOK,
        BETA_HOOK,
        *issued,
    ):
        assert secret not in everything


def test_tokens_are_not_logged_on_success_either(app, client, bearers, fake, caplog):
    caplog.set_level(logging.DEBUG)
    reconciled_through_beta(app, client, bearers, fake)
    issued = list(fake.state.tokens)
    assert issued
    for secret in (BETA["client_secret"], BETA_HOOK, *issued):
        assert secret not in caplog.text


def test_the_connections_page_queues_a_sync_and_lists_runs(app, client, bearers, fake):
    made = connections(app)
    alpha_id = made["Alpha"][0]
    bearers(root=True)
    client.post(
        "/login", data={"email": "root@uni.edu", "password": INSTRUCTOR_PASSWORD}
    )
    page = client.get("/admin/connections").get_data(as_text=True)
    assert "Background work" in page and "Nothing has run yet" in page
    assert page.count('value="users_sync"') == 2  # Alpha and Beta; not the environment
    answer = client.post(
        "/admin/connections/run",
        data={"kind": "users_sync", "connection": str(alpha_id)},
    )
    assert answer.status_code == 303
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert (job.kind, job.connection_id, job.status) == (
            "users_sync",
            alpha_id,
            "queued",
        )
    # Hostile forms: 4xx, nothing queued.
    for form in (
        {"kind": "drop_tables", "connection": str(alpha_id)},
        {"kind": "backfill", "connection": "1; DROP"},
        {"kind": "backfill", "connection": "²"},  # str.isdigit says yes
        {"kind": "backfill", "connection": "99999999999999999999"},
    ):
        assert client.post("/admin/connections/run", data=form).status_code == 400
    assert (
        client.post(
            "/admin/connections/run", data={"kind": "backfill", "connection": "424242"}
        ).status_code
        == 404
    )
    # The environment has no credentials here.
    assert (
        client.post(
            "/admin/connections/run", data={"kind": "backfill", "connection": ""}
        ).status_code
        == 409
    )
    with app.app_context():
        assert len(db.session.scalars(select(Job)).all()) == 1
        assert db.session.get(ZoomConnection, alpha_id) is not None


def test_the_daily_jobs_sync_users_and_backfill_each_connection(app, fake):
    from attendance.models import JobRun
    from attendance.services import zoom_jobs

    made = connections(app)
    make_course(app)
    fake.post(
        "/_fake/users",
        {
            "users": [
                {
                    "id": "zu-ana",
                    "email": "ANA@uni.edu ",
                    "first_name": "Ana",
                    "last_name": "Díaz",
                    "type": 1,
                    "status": "active",
                }
            ]
        },
    )
    with app.app_context():
        assert zoom_jobs.queue_daily() == 4  # two kinds for Alpha and Beta
        assert zoom_jobs.queue_daily() == 4  # the same four jobs, not four more
        assert len(db.session.scalars(select(Job)).all()) == 4
    run_jobs(app)
    with app.app_context():
        runs = db.session.scalars(select(JobRun)).all()
        assert sorted((r.kind, r.connection_id, r.outcome) for r in runs) == sorted(
            (kind, made[name][0], "done")
            for kind in ("users_sync", "backfill")
            for name in ("Alpha", "Beta")
        )
        assert {j.status for j in db.session.scalars(select(Job))} == {"done"}
        synced = [r for r in runs if r.kind == "users_sync"]
        assert all(r.fetched == 1 for r in synced)
        # Queued again the next day: the finished jobs run again.
        assert zoom_jobs.queue_daily() == 4
        assert {j.status for j in db.session.scalars(select(Job))} == {"queued"}


def test_unreadable_credentials_are_no_credentials_not_a_500(
    app, zoom, client, bearers, fake
):
    """The encryption key changed without the old one kept (CONTRACT §6 keys)."""
    from cryptography.fernet import Fernet
    from sqlalchemy import update

    from attendance.services import zoom_jobs
    from tests.engine_support import E
    from tests.test_reconciliation import meeting_id

    made = connections(app)
    make_course(app)
    play_lost_leave(Sender(client, made["Beta"][1], BETA_HOOK))
    mid = meeting_id(app)
    bearers(root=True)
    client.post(
        "/login", data={"email": "root@uni.edu", "password": INSTRUCTOR_PASSWORD}
    )
    app.config["ENCRYPTION_KEYS"] = (Fernet.generate_key().decode(),)  # restarted so
    page = client.get(f"/meetings/{mid}")
    assert page.status_code == 200
    assert "no API credentials" in page.get_data(as_text=True)
    assert client.post(f"/meetings/{mid}/reconcile").status_code == 409
    with app.app_context():
        from datetime import timedelta

        db.session.execute(update(Meeting).values(connection_id=made["Beta"][0]))
        db.session.commit()
        assert zoom_jobs.queue_ended_meetings(now=E + timedelta(hours=1)) == 0
        assert zoom_jobs.queue_daily() == 0
    listing = client.get("/admin/connections")
    assert listing.status_code == 200


def test_deleting_a_connection_leaves_its_meetings_unreconciled_not_on_another_account(
    app, client, bearers, fake
):
    from datetime import timedelta

    from attendance.services import zoom_jobs
    from attendance.services.connections import delete_connection
    from tests.engine_support import E

    made = connections(app)
    make_course(app)
    play_lost_leave(Sender(client, made["Beta"][1], BETA_HOOK))
    headers = bearers(root=True)["root"]
    with app.app_context():
        mid = db.session.scalar(select(Meeting.id))
        # The environment's connection has credentials in this app: the trap.
        app.config.update(fake.settings())
        delete_connection(db.session.get(ZoomConnection, made["Beta"][0]))
        db.session.commit()
        assert db.session.get(Meeting, mid).connection_id is None
        assert zoom_jobs.queue_ended_meetings(now=E + timedelta(hours=1)) == 0
    body = client.get(
        f"/api/v1/meetings/{mid}/reconciliation", headers=headers
    ).get_json()
    assert body["status"] == "not_available" and "deleted" in body["error"]
