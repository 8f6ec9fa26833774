"""Redacting download tokens from webhook bodies before they are stored."""

from __future__ import annotations

import json

import pytest

from attendance.zoom.redact import REDACTED, redact_body

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.eyJpc3MiOiJ3ZWIifQ.sig-_nature"

RECORDING = (
    '{"event": "recording.completed", "event_ts": 1732356000000,\n'
    ' "download_token": "' + TOKEN + '",\n'
    ' "payload": {"account_id": "acc", "object": {"id": 84712639219,'
    ' "uuid": "Ab3xY+/kLm9==", "topic": "Biology \\u00e9",'
    ' "recording_files": [{"id": "f1", "download_url":'
    ' "https://zoom.us/rec/download/abc?access_token=' + TOKEN + '&x=1",'
    ' "status": "completed"}], "host_email": "host@uni.edu"}}}'
)


def test_redact_body_replaces_download_and_access_tokens_and_keeps_the_rest():
    out = redact_body(RECORDING)
    assert TOKEN not in out
    expected = RECORDING.replace(TOKEN, REDACTED)
    assert out == expected  # byte for byte, spacing and escapes included
    data = json.loads(out)
    assert data["download_token"] == REDACTED
    url = data["payload"]["object"]["recording_files"][0]["download_url"]
    assert url == f"https://zoom.us/rec/download/abc?access_token={REDACTED}&x=1"


def test_redact_body_finds_nested_tokens():
    body = json.dumps(
        {
            "event": "recording.completed",
            "payload": {
                "object": {
                    "download_token": TOKEN,
                    "files": [{"download_token": TOKEN, "play_url": "https://a/b"}],
                }
            },
        }
    )
    out = redact_body(body)
    assert TOKEN not in out
    assert out == body.replace(TOKEN, REDACTED)


@pytest.mark.parametrize(
    "body",
    [
        # A key spelled with an escape, and a token that is not a string.
        '{"download\\u005ftoken": "' + TOKEN + '", "a": "\\u00e9"}',
        '{"payload": {"download_token": {"value": "' + TOKEN + '"}}}',
        # An access token after an escaped separator, and with an escaped key.
        '{"u": "https://z/r?a=1\\u0026access_token=' + TOKEN + '"}',
        '{"u": "https://z/r?access\\u005ftoken=' + TOKEN + '"}',
        # A string with an escaped quote inside the token value.
        '{"download_token": "ab\\"' + TOKEN + '"}',
    ],
)
def test_redact_body_escaped_or_odd_spellings(body):
    out = redact_body(body)
    assert TOKEN not in out
    assert TOKEN not in json.dumps(json.loads(out), ensure_ascii=False)


def test_redact_body_leaves_bodies_without_tokens_untouched():
    body = '{"event":"meeting.participant_joined","payload":{"object":{"n":"\\u00e9"}}}'
    assert redact_body(body) is body or redact_body(body) == body
    assert redact_body("not json at all") == "not json at all"
    broken = '{"download_token": "' + TOKEN + '", '  # not JSON: text pass only
    assert TOKEN not in redact_body(broken)


def test_redact_body_survives_deep_nesting():
    deep = "[" * 100_000 + '"access_token=' + TOKEN + '"' + "]" * 100_000
    assert TOKEN not in redact_body(deep)


def test_redact_body_rewritten_keeps_a_lone_surrogate_escaped():
    """Re-serialized, a ``\\ud800`` escape must stay an escape: as a character no
    database can store it, and the event was refused (503) at every retry."""
    body = json.dumps({"download_token": None, "payload": {"topic": "\ud800"}})
    redacted = redact_body(body)
    redacted.encode("utf-8")  # raises UnicodeEncodeError if a surrogate came out raw
    assert json.loads(redacted)["payload"]["topic"] == "\ud800"
