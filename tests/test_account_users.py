"""The users sync (CONTRACT §6 account users) against the fake Zoom over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from attendance.core.model import LinkKind, LinkSource
from attendance.errors import ZoomRateLimited
from attendance.extensions import db
from attendance.models import IdentityLinkRow, Participant, Student, ZoomConnection
from attendance.services.account_users import account_source, sync_users
from tests.engine_support import (
    UUID,
    E,
    S,
    ended,
    make_course,
    records,
    session,
    started,
)
from tests.fake_zoom import Fake, app_on_fake_zoom, fake_zoom  # noqa: F401

MIN = timedelta(minutes=1)


def _user(user_id: str, email: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": email,
        "first_name": "",
        "last_name": "",
        "display_name": "",
        "type": 1,
        "status": "active",
        **extra,
    }


def _links(app) -> set[tuple[str, str, str, str]]:
    """Every link: (course code's student id, kind, value, source)."""
    with app.app_context():
        rows = db.session.execute(
            select(
                Student.student_id,
                IdentityLinkRow.kind,
                IdentityLinkRow.value,
                IdentityLinkRow.source,
                IdentityLinkRow.course_id,
            ).join(Student, Student.id == IdentityLinkRow.student_id)
        )
        return {
            (f"{c}:{sid}", kind, value, source) for sid, kind, value, source, c in rows
        }


def _sync(app, connection_id: int | None = None):
    with app.app_context():
        return sync_users(connection_id)


def _pk(app, course_id: int, student_id: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(Student.id).where(
                Student.course_id == course_id, Student.student_id == student_id
            )
        )


def _add_link(app, course_id: int, student_id: str, value: str, source: str) -> None:
    with app.app_context():
        db.session.add(
            IdentityLinkRow(
                course_id=course_id,
                student_id=_pk(app, course_id, student_id),
                kind=LinkKind.ZOOM_USER.value,
                value=value,
                source=source,
            )
        )
        db.session.commit()


def test_sync_users_links_a_students_zoom_user_id_in_each_of_their_courses(
    app, fake: Fake
) -> None:
    bio = make_course(app)
    chem = make_course(
        app,
        roster=[
            {
                "student_id": "C9",
                "first_name": "Ana",
                "last_name": "D",
                "email": "ana@uni.edu",
            }
        ],
        number=98765432101,
        code="CHEM-1",
    )
    fake.users(
        [
            _user("zu-ana", "  ANA@Uni.edu "),  # trimmed and case-folded
            _user("zu-nobody", "visitor@elsewhere.org"),
        ]
    )
    result = _sync(app)
    assert (result.fetched, result.changed, result.outcome) == (2, 2, "done")
    assert "2 students linked by e-mail" in result.summary  # one per course
    assert _links(app) == {
        (f"{bio}:S1", "zoom_user", "zu-ana", "account"),
        (f"{chem}:C9", "zoom_user", "zu-ana", "account"),
    }


def test_sync_users_twice_changes_nothing_the_second_time(app, fake: Fake) -> None:
    make_course(app)
    fake.users([_user("zu-ana", "ana@uni.edu"), _user("zu-ben", "ben@uni.edu")])
    assert _sync(app).changed == 2
    before = _links(app)
    again = _sync(app)
    assert (again.fetched, again.changed) == (2, 0)
    assert _links(app) == before
    assert "0 links added, 0 removed" in again.summary


def test_sync_users_links_nobody_for_an_email_two_users_share(app, fake: Fake) -> None:
    course = make_course(app)
    fake.users(
        [
            _user("zu-ben-1", "ben@uni.edu"),
            _user("zu-ben-2", "Ben@Uni.EDU"),
            _user("zu-ana", "ana@uni.edu"),
        ]
    )
    result = _sync(app)
    assert _links(app) == {(f"{course}:S1", "zoom_user", "zu-ana", "account")}
    assert "ben@uni.edu" in result.summary
    assert "several Zoom users" in result.summary


def test_sync_users_never_overrides_a_manual_or_a_forgotten_key(
    app, fake: Fake
) -> None:
    course = make_course(app)
    # zu-chen was matched by hand to Dana; Dana's zu-dana was deleted by an instructor.
    _add_link(app, course, "S4", "zu-chen", LinkSource.MANUAL.value)
    _add_link(app, course, "S4", "zu-dana", LinkSource.FORGOTTEN.value)
    fake.users(
        [
            _user("zu-chen", "chen@uni.edu"),
            _user("zu-dana", "dana@uni.edu"),
            _user("zu-ana", "ana@uni.edu"),
        ]
    )
    result = _sync(app)
    assert result.changed == 1
    assert _links(app) == {
        (f"{course}:S4", "zoom_user", "zu-chen", "manual"),
        (f"{course}:S4", "zoom_user", "zu-dana", "forgotten"),
        (f"{course}:S1", "zoom_user", "zu-ana", "account"),
    }
    assert "2 left alone" in result.summary


def test_sync_users_drops_links_the_account_no_longer_supports(app, fake: Fake) -> None:
    course = make_course(app)
    other = account_source(7)  # another connection's sync: not this one's to drop
    with app.app_context():
        db.session.add(
            IdentityLinkRow(
                course_id=course,
                student_id=_pk(app, course, "S3"),
                kind="zoom_user",
                value="zu-chen-other",
                source="account",
                created_by=other,
            )
        )
        db.session.commit()
    fake.users([_user("zu-ana", "ana@uni.edu"), _user("zu-ben", "ben@uni.edu")])
    assert _sync(app).changed == 2
    fake.users([_user("zu-ana", "ana@uni.edu")])  # Ben's user left the account
    result = _sync(app)
    assert (result.fetched, result.changed) == (1, 1)
    assert _links(app) == {
        (f"{course}:S1", "zoom_user", "zu-ana", "account"),
        (f"{course}:S3", "zoom_user", "zu-chen-other", "account"),
    }


def _play(zoom, uuid: str, week: int, people: list[tuple[str, str, str]]) -> None:
    shift = timedelta(days=7 * week)
    events = [started(uuid=uuid, at=S + shift)]
    for name, email, zoom_id in people:
        events += session(
            name, S + shift + MIN, E + shift, email=email, zoom_id=zoom_id, uuid=uuid
        )
    events.append(ended(uuid=uuid, at=E + shift))
    for event in events:
        assert zoom.post(event).status_code == 200


def test_a_synced_student_is_matched_by_zoom_user_id_whatever_their_name(
    app, fake: Fake, zoom
) -> None:
    make_course(app)
    # Before the sync, "iPhone 12" with Ana's Zoom user id is nobody's.
    _play(zoom, UUID, 0, [("iPhone 12", "", "zu-ana")])
    assert records(app)["S1"]["status"] == "Absent"

    fake.users([_user("zu-ana", "ana@uni.edu")])
    assert _sync(app).changed == 1
    # The ended meeting carrying zu-ana is regenerated with the new key...
    got = records(app)["S1"]
    assert (got["status"], got["matched_by"]) == ("Present", "zoom_user")
    # ...and a later meeting matches it as it arrives.
    _play(zoom, "next-week==", 1, [("iPhone 12", "", "zu-ana")])
    got = records(app, "next-week==")["S1"]
    assert (got["status"], got["matched_by"]) == ("Present", "zoom_user")


def test_sync_users_follows_the_next_page_token(app, fake: Fake) -> None:
    course = make_course(app)
    users = [_user(f"zu-{n}", f"someone{n}@elsewhere.org") for n in range(310)]
    users[305] = _user("zu-ana", "ana@uni.edu")  # on the second page of 300
    fake.users(users)
    result = _sync(app)
    assert (result.fetched, result.changed) == (310, 1)
    assert _links(app) == {(f"{course}:S1", "zoom_user", "zu-ana", "account")}
    calls = fake.calls("/v2/users")
    assert len(calls) == 2
    assert "next_page_token" not in calls[0]["query"]
    assert calls[1]["query"]["next_page_token"]


def test_a_daily_rate_limit_raises_out_of_sync_users_and_changes_nothing(
    app, fake: Fake
) -> None:
    make_course(app)
    fake.users([_user("zu-ana", "ana@uni.edu")])
    fake.fault("429-daily", retry_after="iso", seconds=3600)
    with pytest.raises(ZoomRateLimited) as raised:
        _sync(app)
    assert raised.value.kind == "daily"
    assert _links(app) == set()


def test_a_daily_limit_on_the_second_page_changes_nothing(app, fake: Fake) -> None:
    make_course(app)
    users = [_user(f"zu-{n}", f"someone{n}@elsewhere.org") for n in range(310)]
    users[0] = _user("zu-ana", "ana@uni.edu")  # on the first page
    fake.users(users)
    # The token call and the first page succeed; the second page is refused.
    fake.post("/_fake/faults", {"kind": "sleep", "count": 1, "seconds": 0.0})
    fake.fault("429-daily", retry_after="none")
    with pytest.raises(ZoomRateLimited):
        _sync(app)
    assert _links(app) == set()
    assert len(fake.calls("/v2/users")) == 2


def test_sync_users_without_credentials_does_nothing(app, fake: Fake) -> None:
    make_course(app)
    fake.users([_user("zu-ana", "ana@uni.edu")])
    result = _sync(app, 999)  # no such connection
    assert (result.fetched, result.changed) == (0, 0)
    assert "no Zoom API credentials" in result.summary
    assert fake.calls() == []


# -- the command line ---------------------------------------------------------


def _connection(app, **fields: Any) -> int:
    with app.app_context():
        connection = ZoomConnection(**fields)
        db.session.add(connection)
        db.session.commit()
        return connection.id


def test_cli_sync_users_prints_the_summary(app, fake: Fake, runner) -> None:
    course = make_course(app)
    fake.users([_user("zu-ana", "ana@uni.edu")])
    result = runner.invoke(args=["zoom", "sync-users"])
    assert result.exit_code == 0, result.output
    assert "environment: 1 Zoom users; 1 students linked by e-mail; 1 links added" in (
        result.output
    )
    assert _links(app) == {(f"{course}:S1", "zoom_user", "zu-ana", "account")}


def test_cli_sync_users_through_a_connection_with_credentials(
    app, fake: Fake, runner
) -> None:
    course = make_course(app)
    fake.post(
        "/_fake/accounts",
        {"account_id": "acct-b", "client_id": "cid-b", "client_secret": "sec-b"},
    )
    fake.users([_user("zu-ana", "ana@uni.edu")])
    pk = _connection(
        app,
        name="Campus B",
        account_id="acct-b",
        client_id="cid-b",
        client_secret="sec-b",
    )
    result = runner.invoke(args=["zoom", "sync-users", "--connection", str(pk)])
    assert result.exit_code == 0, result.output
    assert f"connection {pk} (Campus B): 1 Zoom users" in result.output
    assert "sec-b" not in result.output
    with app.app_context():
        (owner,) = db.session.scalars(select(IdentityLinkRow.created_by))
    assert owner == account_source(pk)
    assert _links(app) == {(f"{course}:S1", "zoom_user", "zu-ana", "account")}


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ("no-credentials", "has no API credentials"),
        ("999", "no Zoom connection 999"),
    ],
)
def test_cli_sync_users_refuses_a_connection_it_cannot_use(
    app, fake: Fake, runner, connection: str, message: str
) -> None:
    if connection == "no-credentials":
        connection = str(_connection(app, name="Campus C", account_id="acct-c"))
    result = runner.invoke(args=["zoom", "sync-users", "--connection", connection])
    assert result.exit_code == 1
    assert message in result.output
    assert fake.calls() == []


def test_cli_sync_users_without_any_credentials_exits_1(database_url, app) -> None:
    from tests.conftest import make_test_app

    plain = make_test_app(database_url)  # no ZOOM_* credentials, no connection
    result = plain.test_cli_runner().invoke(args=["zoom", "sync-users"])
    assert result.exit_code == 1
    assert "no Zoom connection has API credentials" in result.output


def test_cli_sync_users_on_a_daily_limit_says_until_when(app, fake: Fake, runner):
    fake.fault("429-daily", retry_after="iso", seconds=3600)
    result = runner.invoke(args=["zoom", "sync-users"])
    assert result.exit_code == 1
    assert "daily rate limit is reached until" in result.output


# -- the course's keys ----------------------------------------------------------


def test_an_account_key_is_listed_and_forgetting_it_keeps_the_sync_off(
    app, fake: Fake, zoom, client, bearers
) -> None:
    course = make_course(app)
    admin = bearers(root=True)["root"]
    fake.users([_user("zu-ana", "ana@uni.edu")])
    _sync(app)
    _play(zoom, UUID, 0, [("iPhone 12", "", "zu-ana")])
    assert records(app)["S1"]["matched_by"] == "zoom_user"

    listed = client.get(f"/api/v1/courses/{course}/links", headers=admin)
    assert listed.status_code == 200, listed.get_json()
    (key,) = listed.get_json()
    # CONTRACT §3's "learned" has no "account": the sync learned it by e-mail.
    assert (key["kind"], key["value"], key["learned"], key["meeting_id"]) == (
        "zoom_user",
        "zu-ana",
        "email",
        None,
    )
    gone = client.delete(f"/api/v1/courses/{course}/links/{key['id']}", headers=admin)
    assert gone.status_code in (200, 204), gone.get_data(as_text=True)
    # The meeting that matched by it is recomputed: "iPhone 12" is a guest again.
    assert records(app)["S1"]["status"] == "Absent"
    assert client.get(f"/api/v1/courses/{course}/links", headers=admin).get_json() == []
    # The next sync leaves the forgotten key alone.
    again = _sync(app)
    assert again.changed == 0
    assert "1 left alone" in again.summary
    assert _links(app) == {(f"{course}:S1", "zoom_user", "zu-ana", "forgotten")}


def test_a_manual_match_is_refused_a_key_the_account_gave_another_student(
    app, fake: Fake, zoom, client, bearers
) -> None:
    course = make_course(app)
    admin = bearers(root=True)["root"]
    fake.users([_user("zu-ana", "ana@uni.edu")])
    _sync(app)
    _play(zoom, UUID, 0, [("iPhone 12", "", "zu-ana")])
    meeting = client.get(
        "/api/v1/meetings", query_string={"uuid": UUID}, headers=admin
    ).get_json()[0]
    with app.app_context():
        participant = db.session.scalar(
            select(Participant.id).where(Participant.zoom_user_id == "zu-ana")
        )
    answer = client.post(
        f"/api/v1/meetings/{meeting['id']}/participants/{participant}/match",
        json={"student_id": _pk(app, course, "S2"), "remember": True},
        headers=admin,
    )
    # Without the account key among the owners, the key would be stored for Ben
    # and silently lost (the zoom_user step comes before the manual one): the
    # answer says it was refused, as for any key another student holds.
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["refused"] == [
        {"kind": "zoom_user", "value": "zu-ana", "student_pk": _pk(app, course, "S1")}
    ]
    assert answer.get_json()["remembered"] == []
    assert records(app)["S1"]["matched_by"] == "zoom_user"
