"""Signature verification against vectors computed outside the app (openssl dgst)."""

from __future__ import annotations

import pytest

from attendance.errors import InvalidSignature
from attendance.zoom import signature
from tests.support import FIXTURES

SECRET = "Zoom-Secret"
TS = "1688752773"
#: A body with spaces that a JSON re-serializer would remove.
SPACED = b'{"event": "meeting.started",  "payload": {"object": {"uuid": "x=="}}}'
#: printf 'v0:1688752773:<SPACED>' | openssl dgst -sha256 -hmac 'Zoom-Secret'
SPACED_SIG = "v0=951bb58ea07ea3d92fd60b5afe818771c0f12351a961f9672535222bf76061b0"
#: The same over tests/fixtures/zoom/meeting.started.json (non-ASCII topic, UTF-8).
UNICODE_SIG = "v0=4b9f03fbc337146ba0af9ba96ae94572ba12d866218f231658e8791a70b6b193"
#: printf 'qgg8vlvZRS6UYooatFL8Aw' | openssl dgst -sha256 -hmac 'Zoom-Secret'
CRC = "39ccb4b3ed60a55c2c25add13247c8fa0284702fe8de703834867584b812f9b8"


def _verify(sig, ts=TS, body=SPACED, secrets=(SECRET,), now=1688752773.0, skew=300):
    return signature.verify(secrets, sig, ts, body, now=now, max_skew=skew)


def test_sign_matches_openssl_vector_over_raw_bytes():
    assert signature.sign(SECRET, TS, SPACED) == SPACED_SIG
    assert _verify(SPACED_SIG) == SECRET


def test_sign_non_ascii_body_is_hashed_as_utf8():
    body = (FIXTURES / "meeting.started.json").read_bytes().rstrip(b"\n")
    assert "Ñ".encode() in body
    assert signature.sign(SECRET, TS, body) == UNICODE_SIG
    assert _verify(UNICODE_SIG, body=body) == SECRET


def test_verify_rejects_signature_of_reserialized_body():
    compact = b'{"event":"meeting.started","payload":{"object":{"uuid":"x=="}}}'
    with pytest.raises(InvalidSignature):
        _verify(signature.sign(SECRET, TS, compact))


def test_encrypt_token_matches_openssl_vector():
    assert signature.encrypt_token(SECRET, "qgg8vlvZRS6UYooatFL8Aw") == CRC


def test_verify_accepts_any_configured_secret_and_returns_it():
    sig = signature.sign("new-secret", TS, SPACED)
    assert _verify(sig, secrets=(SECRET, "new-secret")) == "new-secret"
    with pytest.raises(InvalidSignature):
        _verify(sig, secrets=(SECRET,))


@pytest.mark.parametrize(
    ("ts", "now", "ok"),
    [
        (TS, 1688752773.0 + 300, True),  # exactly at the window
        (TS, 1688752773.0 + 301, False),  # one second past it
        (TS, 1688752773.0 - 301, False),  # from the future
        ("1688752773000", 1688752773.0 + 10, True),  # milliseconds accepted
    ],
)
def test_verify_timestamp_window(ts, now, ok):
    sig = signature.sign(SECRET, ts, SPACED)
    if ok:
        assert _verify(sig, ts=ts, now=now) == SECRET
    else:
        with pytest.raises(InvalidSignature, match="stale"):
            _verify(sig, ts=ts, now=now)


@pytest.mark.parametrize(
    ("sig", "ts"),
    [
        (None, TS),
        ("", TS),
        (SPACED_SIG, None),
        (SPACED_SIG, "not-a-number"),
        (SPACED_SIG, "-5"),
        (SPACED_SIG.replace("v0=", "v1="), TS),
        (SPACED_SIG.upper(), TS),
        (SPACED_SIG[:-1], TS),
        ("v0=ünïcode", TS),
    ],
)
def test_verify_rejects_malformed_headers(sig, ts):
    with pytest.raises(InvalidSignature):
        _verify(sig, ts=ts)


def test_verify_with_no_secret_configured_rejects_everything():
    with pytest.raises(InvalidSignature):
        _verify(SPACED_SIG, secrets=())


@pytest.mark.parametrize(
    "ts",
    [
        "9" * 300,  # int() takes it, the division into seconds overflows a float
        "9" * 5000,  # past int()'s 4,300-digit limit: a ValueError
        "1" * 16,
        "--5",
        "+1688752773",
        "1688752773.5",
        "1e9",
        "١٦٨٨٧٥٢٧٧٣",
        "¹⁶⁸⁸⁷⁵²⁷⁷³",
        "1688752773\x00",
        " ",
    ],
    ids=lambda ts: repr(ts[:20]) + f"…{len(ts)}",
)
def test_verify_timestamp_that_is_no_time_is_invalid_signature(ts):
    """Signed or not, such a header is a 401, never an arithmetic error (a 500)."""
    sig = signature.sign(SECRET, ts.strip() or ts, SPACED) if ts.isascii() else "v0=x"
    with pytest.raises(InvalidSignature, match="timestamp"):
        _verify(sig, ts=ts)


@pytest.mark.parametrize("ts", ["1688752773", "1688752773000", "001688752773"])
def test_timestamp_seconds_of_real_headers(ts):
    assert signature.timestamp_seconds(ts) == 1688752773.0
