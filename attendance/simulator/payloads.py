"""Zoom's webhook bodies for a planned meeting (ZOOM.md §3), encoded and signed.

``meeting_events`` turns the plan (the meeting, its connections and what each one
does when) into every webhook Zoom would send, in the order things happened,
with increasing ``event_ts``; ``encode`` and ``signed_headers`` put one on the wire
as Zoom does (ZOOM.md §1).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from attendance.simulator.ids import random_token, random_uuid
from attendance.zoom.signature import sign


@dataclass(slots=True)
class Connection:
    """One planned Zoom connection (one ``user_id``) and when it does what."""

    name: str
    email: str = ""
    #: ``participant_user_id`` / ``id``: the Zoom account, "" for external users.
    zoom_user_id: str = ""
    #: Entered the waiting room (None: joined directly).
    arrive: datetime | None = None
    admitted: datetime | None = None
    join: datetime | None = None
    #: participant_left; None: still in when the host ends the meeting.
    leave: datetime | None = None
    leave_reason: str = "left the meeting."
    #: For a breakout connection: the main connection and the room.
    parent: Connection | None = None
    room: str = ""
    participant_uuid: str = ""
    user_id: str = ""
    #: The roster student this connection is, "" for the host and guests.
    student_id: str = ""


@dataclass(frozen=True, slots=True)
class Meeting:
    """The meeting instance every event names (``payload.object``'s common fields)."""

    number: int
    uuid: str
    host_id: str
    account_id: str
    topic: str
    timezone: str
    start: datetime
    end: datetime
    duration: int


def _iso(at: datetime) -> str:
    """Zoom's time format: ``2021-07-13T21:44:51Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object(m: Meeting, *, numeric_id: bool = False, **extra: Any) -> dict[str, Any]:
    """``payload.object``: the id is a string in meeting events, a number in recording.*."""
    obj: dict[str, Any] = {
        "id": m.number if numeric_id else str(m.number),
        "uuid": m.uuid,
        "host_id": m.host_id,
        "topic": m.topic,
        "type": 8,
        "start_time": _iso(m.start),
        "timezone": m.timezone,
        "duration": m.duration,
    }
    obj.update(extra)
    return obj


def _participant(c: Connection, **times: Any) -> dict[str, Any]:
    """``participant`` as Zoom sends it; ids and e-mail are "" when Zoom withholds them."""
    fields: dict[str, Any] = {"user_id": c.user_id, "user_name": c.name}
    if c.parent is not None:
        fields["parent_user_id"] = c.parent.user_id
    fields["id"] = c.zoom_user_id
    fields["participant_uuid"] = c.participant_uuid
    fields.update(times)
    fields.update(
        email=c.email,
        registrant_id="",
        participant_user_id=c.zoom_user_id,
        customer_key="",
        phone_number="",
    )
    return fields


class _Timeline:
    """Events with the time they happened; ``ordered`` gives them sorted with ``event_ts``."""

    def __init__(self, meeting: Meeting) -> None:
        self.meeting = meeting
        self._items: list[tuple[datetime, int, int, dict[str, Any]]] = []

    def add(
        self, at: datetime, name: str, obj: dict[str, Any], rank: int = 1, **top: Any
    ) -> None:
        body: dict[str, Any] = {"event": name, "event_ts": 0, **top}
        body["payload"] = {"account_id": self.meeting.account_id, "object": obj}
        self._items.append((at, rank, len(self._items), body))

    def participant(
        self, at: datetime, name: str, c: Connection, rank: int = 1, **times: Any
    ) -> None:
        extra = {"breakout_room_uuid": c.room} if c.parent is not None else {}
        obj = _object(self.meeting, **extra)
        if extra:  # the room's uuid sits next to the meeting's
            obj = {k: obj[k] for k in ("id", "uuid", "breakout_room_uuid")} | obj
        obj["participant"] = _participant(c, **times)
        self.add(at, name, obj, rank)

    def ordered(self, rng: random.Random) -> list[dict[str, Any]]:
        """The bodies in the order things happened; ``event_ts`` in ms, increasing."""
        last = 0
        bodies = []
        for at, _rank, _seq, body in sorted(self._items, key=lambda i: i[:3]):
            last = max(last + rng.randint(1, 40), int(at.timestamp() * 1000))
            last += rng.randint(0, 400)
            body["event_ts"] = last
            bodies.append(body)
        return bodies


def meeting_events(
    m: Meeting,
    host: Connection,
    conns: Sequence[Connection],
    co_host: Connection | None,
    rng: random.Random,
    host_email: str,
) -> list[dict[str, Any]]:
    """Every webhook of the meeting, shaped as ZOOM.md §3, in the order it happened."""
    t = _Timeline(m)
    t.add(m.start, "meeting.started", _object(m), rank=0)
    for c in conns:
        if c.parent is not None:
            assert c.join is not None and c.leave is not None  # noqa: S101
            t.participant(
                c.join,
                "meeting.participant_joined_breakout_room",
                c,
                join_time=_iso(c.join),
            )
            t.participant(
                c.leave,
                "meeting.participant_left_breakout_room",
                c,
                leave_time=_iso(c.leave),
                leave_reason=f"{c.name} left the meeting.<br>Reason: {c.leave_reason}",
            )
            continue
        if c.arrive is not None and c.admitted is not None:
            stamp = {"date_time": _iso(c.arrive)}
            t.participant(
                c.arrive, "meeting.participant_joined_waiting_room", c, **stamp
            )
            stamp = {"date_time": _iso(c.admitted)}
            t.participant(c.admitted, "meeting.participant_admitted", c, **stamp)
            t.participant(
                c.admitted, "meeting.participant_left_waiting_room", c, **stamp
            )
        assert c.join is not None  # noqa: S101 - every main connection joins
        t.participant(c.join, "meeting.participant_joined", c, join_time=_iso(c.join))
        leave, reason, rank = c.leave, c.leave_reason, 1
        if leave is None:
            leave, reason, rank = m.end, "Host ended the meeting.", 3
        t.participant(
            leave,
            "meeting.participant_left",
            c,
            rank=rank,
            leave_time=_iso(leave),
            leave_reason=f"{c.name} left the meeting.<br>Reason: {reason}",
        )

    if co_host is not None and co_host.join is not None:
        changed = co_host.join + timedelta(seconds=rng.randint(60, 180))
        obj = _object(m)
        obj["participant"] = {
            "user_id": co_host.user_id,
            "user_name": co_host.name,
            "id": co_host.zoom_user_id,
            "participant_uuid": co_host.participant_uuid,
            "email": co_host.email,
            "participant_user_id": co_host.zoom_user_id,
            "date_time": _iso(changed),
            "old_role": "attendee",
            "new_role": "co-host",
        }
        t.add(changed, "meeting.participant_role_changed", obj)

    shared = m.start + timedelta(seconds=rng.randint(120, 300))
    unshared = shared + timedelta(minutes=m.duration // 4, seconds=rng.randint(0, 120))
    for name, when in (
        ("meeting.sharing_started", shared),
        ("meeting.sharing_ended", unshared),
    ):
        obj = _object(m)
        obj["participant"] = {
            "user_id": host.user_id,
            "user_name": host.name,
            "id": host.zoom_user_id,
            "sharing_details": {
                "content": "application",
                "link_source": "",
                "file_link": "",
                "date_time": _iso(when),
                "source": "",
            },
        }
        t.add(when, name, obj)

    _recording(t, m, rng, host_email)
    end_obj = _object(m, end_time=_iso(m.end))
    t.add(m.end, "meeting.ended", end_obj, rank=2)
    return t.ordered(rng)


def _recording(t: _Timeline, m: Meeting, rng: random.Random, host_email: str) -> None:
    """recording.started / stopped / completed: numeric meeting id, files with ids."""
    began = m.start + timedelta(seconds=rng.randint(30, 90))
    stopped = m.end - timedelta(seconds=rng.randint(30, 90))
    t.add(
        began,
        "recording.started",
        _object(
            m,
            numeric_id=True,
            recording_file={"recording_start": _iso(began), "recording_end": ""},
        ),
    )
    t.add(
        stopped,
        "recording.stopped",
        _object(
            m,
            numeric_id=True,
            recording_file={
                "recording_start": _iso(began),
                "recording_end": _iso(stopped),
            },
        ),
    )
    files = []
    for file_type, extension, recording_type in (
        ("MP4", "MP4", "shared_screen_with_speaker_view"),
        ("M4A", "M4A", "audio_only"),
        ("TIMELINE", "JSON", "timeline"),
        ("CHAT", "TXT", "chat_file"),
    ):
        file_id = random_uuid(rng)
        entry: dict[str, Any] = {
            "id": file_id,
            "meeting_id": m.uuid,
            "recording_start": _iso(began),
            "recording_end": _iso(stopped),
            "file_type": file_type,
            "file_extension": extension,
            "file_size": rng.randint(20_000, 400_000_000),
        }
        if file_type in ("MP4", "M4A"):
            entry["play_url"] = (
                f"https://example.zoom.us/rec/play/{random_token(rng, 40)}"
            )
        entry["download_url"] = (
            f"https://example.zoom.us/rec/download/{random_token(rng, 40)}"
        )
        entry.update(status="completed", recording_type=recording_type)
        files.append(entry)
    completed = m.end + timedelta(seconds=rng.randint(180, 480))
    obj = _object(
        m,
        numeric_id=True,
        account_id=m.account_id,
        host_email=host_email,
        total_size=sum(f["file_size"] for f in files),
        recording_count=len(files),
        share_url=f"https://example.zoom.us/rec/share/{random_token(rng, 40)}",
        recording_files=files,
        participant_audio_files=[],
    )
    token = "eyJhbGciOiJIUzUxMiJ9." + random_token(rng, 120)
    t.add(completed, "recording.completed", obj, download_token=token)


def encode(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as Zoom sends it (the signature covers these exact bytes)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def signed_headers(
    body: bytes, secret: str, now: float | None = None
) -> dict[str, str]:
    """The headers Zoom sends with a webhook (ZOOM.md §1), signed for ``body``."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Zoom Marketplace/1.0a",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(secret, timestamp, body),
        "x-zm-trackingid": f"v=2.0&s={uuid.uuid4().hex}",
    }
