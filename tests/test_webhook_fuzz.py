"""Fuzzing ``POST /api/zoom/webhook`` of a real server with signed, hostile bodies.

Hypothesis builds Zoom-shaped bodies for every event name of CONTRACT §2 (and
unknown ones) and spoils them: huge and negative numbers, wrong types, deep
nesting, long and odd Unicode (NUL, lone surrogates), missing and null fields,
and raw bodies no JSON encoder would write. They are signed with the server's
secret and posted in batches to ``python app.py`` (eventlet, background intake)
on SQLite and on PostgreSQL. Nothing may answer 5xx; after every batch a normal
signed event is still accepted and health says ``ok``; at the end every normal
event has been applied and health's figures match the event log.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.intake_support import (
    SERVER_ENV,
    Backend,
    health,
    joined,
    make_backend,
    post_signed,
    recent,
    wait_for,
)
from tests.support import EVENT_NAMES, encode, fixture

#: The same in both CI passes: the PostgreSQL pass leaves it out (pyproject.toml).
pytestmark = pytest.mark.own_databases

#: ...and the CRC, which the route answers before anything else.
EVENT_NAMES = [*EVENT_NAMES, "endpoint.url_validation"]
#: The normal events posted after each batch go to this meeting.
CANARY_UUID = "fuzz-canary-meeting=="
#: Bodies no JSON encoder writes: each is a 400 (or 413), or kept as a failed or
#: ignored event (200), never a 500.
RAW_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"meeting.started"',
    b"1e999",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"event":"meeting.started","payload":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    b'{"event":"meeting.started","event_ts":' + b"9" * 5_000 + b"}",
    b'{"event":"meeting.started","event_ts":NaN}',
    b'{"event":"meeting.started","event_ts":-Infinity}',
    b'{"event":"meeting.started","event":"meeting.ended"}',
    b'{"event":"meeting.started","payload":{"object":{"uuid":"\xff\xfe"}}}',
    b'{"event":"meeting.\xed\xa0\x80started"}',
    b'\xef\xbb\xbf{"event":"meeting.started"}',
    b'{"event":"meeting.started"',
    b'{"event":"meeting.started","payload":{"object":{"uuid":"a\x00b"}}}',
    b'{"event":"\\u0000"}',
    b'{"event":"meeting.started","payload":{"object":{"uuid":"\\ud800","id":-1}}}',
    b'{"event":' + b'"' + b"x" * 300_000 + b'"}',
]


def _shape(name: str) -> dict[str, Any]:
    """A body for ``name`` shaped as ../shared/ZOOM.md §3 describes it."""
    if name in {
        "meeting.started",
        "meeting.ended",
        "recording.completed",
        "user.presence_status_updated",
        "endpoint.url_validation",
    }:
        return fixture(name)
    if name in {
        "meeting.participant_jbh_waiting",
        "meeting.participant_waiting_for_host",
    }:
        event = fixture("meeting.participant_jbh_waiting")
        event["event"] = name
        return event
    if name.startswith(("recording.", "meeting.recording_")):
        event = fixture("meeting.started")
        event["event"] = name
        obj = event["payload"]["object"]
        obj["id"] = 84712639219
        obj["recording_file"] = {
            "recording_start": "2026-11-23T10:05:00Z",
            "recording_end": "2026-11-23T10:45:00Z",
        }
        return event
    event = fixture("meeting.participant_joined")
    event["event"] = name
    obj = event["payload"]["object"]
    participant = obj["participant"]
    if name.endswith(("_left", "left_breakout_room")):
        participant["leave_time"] = participant.pop("join_time")
        participant["leave_reason"] = "left the meeting.<br>Reason: left the meeting."
    elif not name.endswith(("_joined", "joined_breakout_room")):
        participant["date_time"] = participant.pop("join_time")
    if "breakout_room" in name:
        obj["breakout_room_uuid"] = "breakout-room-1=="
        participant["parent_user_id"] = "16778240"
    if name == "meeting.participant_role_changed":
        participant.update(old_role="attendee", new_role="co-host")
    if name.startswith("meeting.sharing_"):
        participant["sharing_details"] = {
            "content": "desktop",
            "link_source": "",
            "file_link": "",
            "date_time": participant["date_time"],
            "source": "",
        }
    if name == "meeting.participant_updated":
        participant.update(audio="on", video=False, sharing="off")
    return event


_ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfff",
        "\ufeff",
        "\u202eevil",
        "\u2028",
        "🧑‍🎓" * 50,
        "Ñ" * 400,
        "x" * 5_000,
        "null",
        "undefined",
        "--5",
        "NaN",
        "1e309",
        "0x10",
        "٣٤",
        "9" * 30,
        "-0",
        "2026-11-23T10:00:05Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "2026-11-23T10:00:05+23:59",
        "<script>alert(1)</script>",
        "=cmd|' /C calc'!A0",
        "../../etc/passwd",
        "'; DROP TABLE webhook_events; --",
    ]
)
_NUMBERS = st.one_of(
    st.sampled_from(
        [0, -1, 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**400, -(10**400)]
    ),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    _NUMBERS,
    _ODD_TEXT,
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300),
)
#: Values at the edges of what a column, an int64 or a datetime holds.
_BOUNDARY = st.sampled_from(
    [
        2**63,
        2**64,
        -(2**63) - 1,
        10**400,
        -1,
        0,
        True,
        False,
        1.5,
        float("nan"),
        float("inf"),
        "--5",
        "9" * 30,
        "\x00",
        "a\x00b",
        "\ud800",
        "x" * 5_000,
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        [],
        {},
        None,
        "",
    ]
)


def _nested(children: st.SearchStrategy) -> st.SearchStrategy:
    # A named function: hypothesis cannot read a multi-line lambda's source to
    # see that it uses its argument, and warns (an error under this suite).
    return st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=8), children, max_size=3
    )


_VALUES = st.one_of(_BOUNDARY, st.recursive(_SCALARS, _nested, max_leaves=8))


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _nest(depth: int, leaf: Any, as_dict: bool) -> Any:
    for _ in range(depth):
        leaf = {"a": leaf} if as_dict else [leaf]
    return leaf


#: Fields whose values reach a column, a datetime or an int64: spoiled more often.
SENSITIVE = [
    ("event",),
    ("event_ts",),
    ("payload",),
    ("payload", "object"),
    ("payload", "object", "id"),
    ("payload", "object", "uuid"),
    ("payload", "object", "type"),
    ("payload", "object", "topic"),
    ("payload", "object", "host_id"),
    ("payload", "object", "timezone"),
    ("payload", "object", "start_time"),
    ("payload", "object", "end_time"),
    ("payload", "object", "breakout_room_uuid"),
    ("payload", "object", "recording_file", "recording_start"),
    ("payload", "object", "participant"),
    ("payload", "object", "participant", "user_id"),
    ("payload", "object", "participant", "user_name"),
    ("payload", "object", "participant", "id"),
    ("payload", "object", "participant", "participant_user_id"),
    ("payload", "object", "participant", "email"),
    ("payload", "object", "participant", "join_time"),
    ("payload", "object", "participant", "leave_time"),
    ("payload", "object", "participant", "date_time"),
    ("payload", "object", "participant", "new_role"),
    ("payload", "object", "participant", "parent_user_id"),
    ("payload", "object", "participant", "customer_key"),
    ("payload", "object", "recording_files", 0, "id"),
    ("payload", "object", "recording_files", 0, "file_size"),
    ("payload", "object", "presence_status"),
    ("payload", "plainToken"),
]


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """One signed-to-be body: a Zoom shape spoiled a few times."""
    name = draw(st.sampled_from(EVENT_NAMES))
    body: Any = _shape(name)
    if (
        isinstance(body.get("payload", {}).get("object"), dict)
        and "uuid" in (body["payload"]["object"])
    ):
        body["payload"]["object"]["uuid"] = draw(
            st.sampled_from(["fuzz-a==", "fuzz-b==", "fuzz-c/+=="])
        )
    # One spoiled value where it counts, then a few anywhere.
    sensitive = [p for p in SENSITIVE if p in set(_paths(body))]
    if sensitive:
        target = body
        path = draw(st.sampled_from(sensitive))
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(_BOUNDARY)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path = draw(st.sampled_from(list(_paths(body))))
        action = draw(st.sampled_from(["set", "set", "set", "delete", "null", "nest"]))
        if not path:
            if action == "set":
                body = draw(_VALUES)
            continue
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        if action == "delete":
            del parent[path[-1]]
        elif action == "null":
            parent[path[-1]] = None
        elif action == "nest":
            depth = draw(st.integers(min_value=1, max_value=60))
            parent[path[-1]] = _nest(depth, parent[path[-1]], draw(st.booleans()))
        else:
            parent[path[-1]] = draw(_VALUES)
    text = json.dumps(body, ensure_ascii=draw(st.booleans()), allow_nan=True)
    # A lone surrogate has no UTF-8: such text goes as JSON's \\ud800 escape.
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, allow_nan=True).encode("ascii")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzzed(request, server_factory, tmp_path_factory) -> Iterator[tuple[Any, Backend]]:
    """A server on a fresh database of each kind, shared by the module's tests."""
    backend = make_backend(request.param, tmp_path_factory.mktemp("fuzz"))
    server = server_factory.start(database_url=backend.url, env=SERVER_ENV)
    try:
        yield server, backend
    finally:
        server.stop()
        backend.close()


def _show(body: bytes) -> str:
    return repr(body[:300]) + (f"… ({len(body)} bytes)" if len(body) > 300 else "")


def test_webhook_fuzz_never_5xx_and_the_intake_keeps_accepting(fuzzed):
    server, backend = fuzzed
    canaries: list[str] = []

    def canary(session: requests.Session) -> None:
        """A normal signed event must still be accepted, and health must say so.

        Zoom retries a 503, and a busy machine may give one: the event gets two
        more tries a second apart; a stopped intake fails all three.
        """
        user_id = f"canary-{len(canaries)}"
        body = encode(joined(CANARY_UUID, user_id, recent(5)))
        for _try in range(3):
            answer = post_signed(server.url, body, session=session)
            if answer.status != 503:
                break
            time.sleep(1)
        assert (answer.status, answer.body) == (200, {"status": "queued"}), (
            f"a normal event after a fuzz batch: {answer}\n{server.output()}"
        )
        canaries.append(user_id)
        report = wait_for(
            lambda: (r := health(server.url)).status == 200 and r,
            3,
            "health to say ok while events are accepted",
        )
        assert report.body["status"] == "ok", report

    @settings(
        max_examples=15,
        deadline=None,
        # Shrinking would replay batches against a server that keeps state; the
        # failing body is reported whole instead.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(batch=st.lists(hostile_bodies(), min_size=4, max_size=14))
    def post_batch(batch: list[bytes]) -> None:
        with requests.Session() as session:
            for body in batch:
                answer = post_signed(server.url, body, session=session)
                assert answer.status is not None and answer.status < 500, (
                    f"{_show(body)} answered {answer}\n{server.output()}"
                )
                assert answer.status in {200, 400, 413}, (_show(body), answer)
            server.check_alive()
            canary(session)

    with requests.Session() as session:
        for body in RAW_BODIES:
            answer = post_signed(server.url, body, session=session)
            assert answer.status in {200, 400, 413}, (
                f"{_show(body)} answered {answer}\n{server.output()}"
            )
        canary(session)
    post_batch()

    def settled() -> bool:
        return not backend.scalar(
            "SELECT count(*) FROM webhook_events WHERE status = 'queued'"
        )

    wait_for(settled, 30, "every stored event to be applied")
    applied = backend.scalar(
        "SELECT count(*) FROM webhook_events WHERE meeting_uuid = :uuid"
        " AND status = 'processed'",
        uuid=CANARY_UUID,
    )
    assert applied == len(canaries)
    connections = backend.scalar(
        "SELECT count(*) FROM participants p JOIN meetings m ON m.id = p.meeting_id"
        " WHERE m.uuid = :uuid",
        uuid=CANARY_UUID,
    )
    assert connections == len(canaries)
    unexplained = backend.scalar(
        "SELECT count(*) FROM webhook_events WHERE status = 'failed'"
        " AND (error IS NULL OR error = '')"
    )
    assert unexplained == 0
    failed = backend.scalar(
        "SELECT count(*) FROM webhook_events WHERE status = 'failed'"
    )

    def truthful() -> Any:
        report = health(server.url)
        body = report.body
        return (
            report.status == 200
            and body["status"] == "ok"
            and body["webhook"]["failed_events"] == failed
            and body.get("intake", {}).get("unapplied", 0) == 0
            and report
        )

    wait_for(truthful, 5, f"health to report {failed} failed and nothing unapplied")
    server.check_alive()


def test_webhook_fuzz_replayed_poison_changes_nothing(fuzzed):
    """Zoom retries what it sent: the same hostile bodies again are duplicates or 400s."""
    server, _backend = fuzzed
    bodies = [
        b'{"event":"meeting.participant_joined","event_ts":99999999999999999999999}',
        encode(
            {
                "event": "meeting.participant_joined",
                "event_ts": 2**70,
                "payload": copy.deepcopy(_shape("meeting.participant_joined"))[
                    "payload"
                ],
            }
        ),
    ]
    first = [post_signed(server.url, body) for body in bodies]
    again = [post_signed(server.url, body) for body in bodies]
    for before, after in zip(first, again, strict=True):
        assert before.status is not None and before.status < 500, before
        assert after.status == before.status
        if before.status == 200:
            assert after.body == {"status": "duplicate"}
