"""The Zoom REST client against the fake Zoom, over real HTTP on a local port."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from attendance.errors import (
    ZoomApiError,
    ZoomAuthError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomUnavailable,
)
from attendance.zoom import rest
from attendance.zoom.rest import ZoomClient, encode_uuid
from tests.fake_zoom import ACCOUNT, Fake, fake_zoom  # noqa: F401


def _row(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"id{n}",
        "user_id": str(16778240 + n),
        "participant_user_id": f"pu{n}",
        "name": f"Student {n}",
        "user_email": f"s{n}@school.edu",
        "join_time": "2026-12-01T10:00:00Z",
        "leave_time": "2026-12-01T10:50:00Z",
        "duration": 3000,
        "failover": False,
        "status": "in_meeting",
        "customer_key": "",
        "registrant_id": "",
        "bo_mtg_id": "",
        "internal_user": False,
        **extra,
    }


def _meeting(fake: Fake, uuid: str, rows: list[dict[str, Any]]) -> None:
    fake.post("/_fake/participants", {"uuid": uuid, "participants": rows})


def test_encode_uuid_twice_only_for_a_leading_or_double_slash() -> None:
    assert encode_uuid("/abc==") == "%252Fabc%253D%253D"
    assert encode_uuid("a//b==") == "a%252F%252Fb%253D%253D"
    assert encode_uuid("Ab3x+/k==") == "Ab3x%2B%2Fk%3D%3D"
    assert encode_uuid("plain") == "plain"


@pytest.mark.parametrize(
    ("uuid", "seen"),
    [
        ("/abc==", "/v2/past_meetings/%252Fabc%253D%253D/participants"),
        ("a//b==", "/v2/past_meetings/a%252F%252Fb%253D%253D/participants"),
        ("Ab3x+/k==", "/v2/past_meetings/Ab3x%2B%2Fk%3D%3D/participants"),
    ],
)
def test_client_encodes_uuids_as_zoom_decodes_them(
    fake: Fake, uuid: str, seen: str
) -> None:
    _meeting(fake, uuid, [_row(1)])
    with fake.client() as client:
        rows = list(client.past_participants(uuid))
    assert [r.user_email for r in rows] == ["s1@school.edu"]
    assert [c["path"] for c in fake.calls("/v2/")] == [seen]


def test_report_rows_are_typed_and_keep_every_field(fake: Fake) -> None:
    _meeting(
        fake,
        "u1==",
        [_row(1, status="in_waiting_room", bo_mtg_id="C0Vq+k==", duration="12")],
    )
    with fake.client() as client:
        (row,) = client.report_participants("u1==")
    assert row.status == "in_waiting_room"
    assert row.bo_mtg_id == "C0Vq+k=="
    assert row.duration == 12
    assert row.join_time == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert row.participant_user_id == "pu1"
    assert fake.calls("/v2/")[0]["query"]["include_fields"] == "registrant_id"


def test_a_row_the_readers_refuse_is_left_out_not_the_report(fake: Fake) -> None:
    _meeting(fake, "u2", [_row(1, join_time="yesterday"), _row(2), "not a row"])
    with fake.client() as client:
        assert [r.id for r in client.report_participants("u2")] == ["id2"]


def test_paging_follows_next_page_token_across_three_pages(fake: Fake) -> None:
    _meeting(fake, "big", [_row(n) for n in range(700)])
    with fake.client() as client:
        rows = list(client.report_participants("big"))
    assert [r.id for r in rows] == [f"id{n}" for n in range(700)]
    calls = fake.calls("/v2/")
    assert len(calls) == 3
    assert all(c["query"]["page_size"] == "300" for c in calls)
    assert "next_page_token" not in calls[0]["query"]
    assert calls[1]["query"]["next_page_token"] != calls[2]["query"]["next_page_token"]


def test_users_past_instances_and_webinar_reports(fake: Fake) -> None:
    users = [
        {"id": f"u{n}", "email": f"u{n}@school.edu", "type": 1} for n in range(350)
    ]
    fake.post("/_fake/users", {"users": users})
    fake.post(
        "/_fake/instances",
        {
            "meeting_id": 84712639219,
            "meetings": [
                {"uuid": "i1==", "start_time": "2026-12-01T10:00:00Z"},
                {"uuid": "", "start_time": "2026-12-02T10:00:00Z"},
            ],
        },
    )
    fake.post(
        "/_fake/participants",
        {"uuid": "w1", "participants": [_row(3)], "webinar": True},
    )
    with fake.client() as client:
        assert [u.email for u in client.users()][-1] == "u349@school.edu"
        assert [i.uuid for i in client.past_instances(84712639219)] == ["i1=="]
        assert [r.name for r in client.webinar_report_participants("w1")] == [
            "Student 3"
        ]
    assert len(fake.calls("/v2/users")) == 2


def test_not_found_is_typed(fake: Fake) -> None:
    with fake.client() as client, pytest.raises(ZoomNotFound) as caught:
        list(client.report_participants("missing"))
    assert caught.value.zoom_code == 3001


def test_token_is_cached_and_refreshed_60_s_early(fake: Fake) -> None:
    fake.post("/_fake/accounts", {**ACCOUNT, "token_lifetime": 61})
    _meeting(fake, "u", [_row(1)])
    with fake.client() as client:
        list(client.past_participants("u"))
        list(client.past_participants("u"))
        assert len(fake.calls("/oauth/token")) == 1
        with fake.client() as other:  # the process-wide cache
            list(other.past_participants("u"))
        assert len(fake.calls("/oauth/token")) == 1
        time.sleep(1.2)  # 61 s of life, used until 60 s before: 1 s
        list(client.past_participants("u"))
    tokens = fake.calls("/oauth/token")
    assert len(tokens) == 2
    assert tokens[0]["query"] == {
        "grant_type": "account_credentials",
        "account_id": "acct-1",
    }


def test_wrong_credentials_raise_auth_error(fake: Fake) -> None:
    client = ZoomClient(
        "acct-1", "cid-1", "wrong", fake.base + "/v2", fake.base, backoff_factor=0
    )
    with client, pytest.raises(ZoomAuthError) as caught:
        list(client.users())
    assert "wrong" not in str(caught.value) and "wrong" not in repr(client)


def test_one_401_fetches_a_new_token_and_retries_once(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("401")
    with fake.client() as client:
        assert len(list(client.past_participants("u"))) == 1
    assert len(fake.calls("/oauth/token")) == 2
    assert len(fake.calls("/v2/")) == 2


def test_a_second_401_raises(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("401", count=2)
    with fake.client() as client, pytest.raises(ZoomAuthError):
        list(client.past_participants("u"))
    assert len(fake.calls("/v2/")) == 2


@pytest.mark.parametrize("retry_after", ["seconds", "date"])
def test_qps_429_waits_retry_after_then_succeeds(fake: Fake, retry_after: str) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("429-qps", retry_after=retry_after, seconds=2)
    with fake.client() as client:
        assert len(list(client.past_participants("u"))) == 1
    first, second = fake.calls("/v2/")
    # An HTTP date has whole seconds: "in 2 s" may be a little over 1 s away.
    assert second["at"] - first["at"] >= 1.0


def test_429_without_headers_waits_briefly_then_succeeds(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("429", retry_after="none")
    with fake.client() as client:
        assert len(list(client.past_participants("u"))) == 1
    assert len(fake.calls("/v2/")) == 2


def test_qps_429_that_persists_defers_instead_of_looping(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("429-qps", count=10, seconds=0)
    with fake.client() as client, pytest.raises(ZoomRateLimited) as caught:
        list(client.past_participants("u"))
    assert caught.value.kind == "qps"
    assert len(fake.calls("/v2/")) == rest.QPS_RETRIES + 1


@pytest.mark.parametrize("retry_after", ["seconds", "date", "iso"])
def test_daily_429_raises_with_the_reset_time_without_sleeping(
    fake: Fake, retry_after: str
) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("429-daily", retry_after=retry_after, seconds=3 * 3600)
    started = time.monotonic()
    with fake.client() as client, pytest.raises(ZoomRateLimited) as caught:
        list(client.past_participants("u"))
    assert time.monotonic() - started < 1.0
    expected = datetime.now(UTC) + timedelta(hours=3)
    assert abs((caught.value.reset_at - expected).total_seconds()) < 5
    assert caught.value.kind == "daily"
    assert len(fake.calls("/v2/")) == 1


def test_daily_429_without_retry_after_resets_at_utc_midnight(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("429-daily", retry_after="none")
    with fake.client() as client, pytest.raises(ZoomRateLimited) as caught:
        list(client.past_participants("u"))
    reset = caught.value.reset_at
    assert (reset.hour, reset.minute, reset.second, reset.tzinfo) == (0, 0, 0, UTC)
    assert timedelta(0) < reset - datetime.now(UTC) <= timedelta(days=1)


def test_a_long_retry_after_defers_even_without_a_type(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("429", seconds=600)
    started = time.monotonic()
    with fake.client() as client, pytest.raises(ZoomRateLimited):
        list(client.past_participants("u"))
    assert time.monotonic() - started < 1.0


def test_5xx_is_retried_then_succeeds(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("500", count=2)
    with fake.client(backoff_factor=0.01) as client:
        assert len(list(client.past_participants("u"))) == 1
    assert len(fake.calls("/v2/")) == 3
    assert len(fake.calls("/oauth/token")) == 1


def test_the_token_post_is_retried_on_5xx(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("500", on="token")
    with fake.client(backoff_factor=0.01) as client:
        assert len(list(client.past_participants("u"))) == 1
    assert len(fake.calls("/oauth/token")) == 2


def test_5xx_forever_raises_api_error(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    fake.fault("500", count=100)
    with (
        fake.client(backoff_factor=0.01) as client,
        pytest.raises(ZoomApiError) as caught,
    ):
        list(client.users())
    assert caught.value.http_status == 500
    assert len(fake.calls("/v2/")) == 4  # the first try and three retries


def test_a_slow_answer_times_out_quickly(fake: Fake) -> None:
    _meeting(fake, "u", [_row(1)])
    with fake.client(timeout=(1.0, 0.3)) as client:
        fake.fault("sleep", count=5, seconds=1.5)
        started = time.monotonic()
        with pytest.raises(ZoomUnavailable):
            list(client.past_participants("u"))
    assert time.monotonic() - started < 1.2


def test_nothing_is_fetched_until_the_rows_are_read(fake: Fake) -> None:
    with fake.client() as client:
        client.report_participants("u")
    assert fake.calls() == []


def test_cli_serves_the_fake_on_localhost_only_with_its_data(
    runner, tmp_path, monkeypatch
) -> None:
    served: dict[str, Any] = {}

    class _Server:
        def serve_forever(self) -> None:
            served["serving"] = True

    def _make_server(host: str, port: int, app: Any, threaded: bool) -> _Server:
        served.update(host=host, port=port, state=app.extensions["fake_zoom"])
        return _Server()

    monkeypatch.setattr("attendance.zoom.fake.make_server", _make_server)
    data = tmp_path / "zoom.json"
    data.write_text('{"meetings": {"/u==": [{"id": "a"}]}, "token_lifetime": 90}')
    result = runner.invoke(args=["zoom", "fake", "--port", "9199", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"], served["serving"]) == (
        "127.0.0.1",
        9199,
        True,
    )
    state = served["state"]
    assert state.meetings == {"/u==": [{"id": "a"}]}
    assert state.token_lifetime == 90
    assert len(state.accounts) == 1


def test_no_secret_or_token_reaches_a_log_line(fake: Fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _meeting(fake, "u", [_row(1)])
    fake.fault("401")
    fake.fault("429-qps", seconds=0)
    with fake.client(backoff_factor=0.01) as client:
        list(client.past_participants("u"))
        token = next(iter(fake.state.tokens), "")  # the one Zoom issued
    assert token and "new access token" in caplog.text
    assert ACCOUNT["client_secret"] not in caplog.text
    assert token not in caplog.text


# -- a Zoom whose pages are broken -----------------------------------------------


def _page(token: str, *rows: dict[str, Any], key: str = "participants") -> dict:
    return {"page_size": 300, "next_page_token": token, key: list(rows)}


@pytest.mark.parametrize(
    "tokens",
    [["A", "B", "A"], ["A", "A"], ["A", "B", "C", "B"]],
    ids=["cycle", "repeat", "late-cycle"],
)
def test_paging_that_repeats_a_token_raises_instead_of_paging_forever(
    fake: Fake, tokens: list[str]
) -> None:
    for n, token in enumerate(tokens):
        fake.fault("body", body=_page(token, _row(n)))
    fake.fault("body", count=50, body=_page("Z", _row(99)))  # were it to go on
    with fake.client() as client, pytest.raises(ZoomApiError) as caught:
        list(client.report_participants("u"))
    assert "Zoom's paging repeats a page token" in str(caught.value)
    assert len(fake.calls("/v2/")) == len(tokens)


def test_paging_stops_past_max_pages(fake: Fake, monkeypatch) -> None:
    monkeypatch.setattr(rest, "MAX_PAGES", 2)
    _meeting(fake, "big", [_row(n) for n in range(700)])  # three pages
    with fake.client() as client, pytest.raises(ZoomApiError) as caught:
        list(client.report_participants("big"))
    assert "more than 2 pages" in str(caught.value)
    assert len(fake.calls("/v2/")) == 2
    _meeting(fake, "fits", [_row(n) for n in range(600)])  # two pages: all read
    with fake.client() as client:
        assert len(list(client.report_participants("fits"))) == 600


@pytest.mark.parametrize(
    "body",
    [
        {"page_size": 300, "next_page_token": ""},
        {"users": None, "page_size": 300},
        {"users": {"id": "u1"}},
        {"users": "u1"},
    ],
    ids=["missing", "null", "object", "string"],
)
def test_a_page_without_its_list_is_an_error_not_an_empty_account(
    fake: Fake, body: dict
) -> None:
    fake.fault("body", body=body)
    with fake.client() as client, pytest.raises(ZoomApiError) as caught:
        list(client.users())
    assert "without a 'users' list" in str(caught.value)


def test_a_later_page_without_its_list_is_an_error_too(fake: Fake) -> None:
    fake.fault("body", body=_page("A", _row(1)))
    fake.fault("body", body={"next_page_token": ""})
    with fake.client() as client, pytest.raises(ZoomApiError):
        list(client.report_participants("u"))


def test_a_report_with_zero_rows_is_valid(fake: Fake) -> None:
    _meeting(fake, "empty", [])
    fake.users([])
    with fake.client() as client:
        assert list(client.report_participants("empty")) == []
        assert list(client.users()) == []


@pytest.mark.parametrize(
    ("body", "listed"),
    [({"meetings": []}, []), ({}, None), ({"meetings": None}, None)],
    ids=["none-ended", "missing", "null"],
)
def test_past_instances_without_their_list_is_an_error(
    fake: Fake, body: dict, listed: list | None
) -> None:
    fake.fault("body", body=body)
    with fake.client() as client:
        if listed is None:
            with pytest.raises(ZoomApiError):
                client.past_instances(84712639219)
        else:
            assert client.past_instances(84712639219) == listed


def test_past_webinar_instances(fake: Fake) -> None:
    fake.post(
        "/_fake/instances",
        {
            "meeting_id": 91234567890,
            "webinar": True,
            "webinars": [{"uuid": "/w1==", "start_time": "2026-12-01T10:00:00Z"}],
        },
    )
    with fake.client() as client:
        (instance,) = client.past_webinar_instances(91234567890)
        assert instance.uuid == "/w1=="
        assert instance.start_time == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
        # A webinar's number is no meeting, nor a meeting's a webinar: as on Zoom.
        with pytest.raises(ZoomNotFound):
            client.past_instances(91234567890)
        with pytest.raises(ZoomNotFound):
            client.past_webinar_instances(84712639219)
    assert [c["path"] for c in fake.calls("/v2/")] == [
        "/v2/past_webinars/91234567890/instances",
        "/v2/past_meetings/91234567890/instances",
        "/v2/past_webinars/84712639219/instances",
    ]
