"""Typed rows of Zoom's REST answers: the only place that knows their field names.

Like ``zoom.events`` for webhooks, every value is read with the bounded readers of
``zoom.fields``. A row those readers refuse (an id longer than its column, a
time that is not one) is left out and logged, so one bad row never blocks the
rest of a report (ZOOM-REST.md §5, ZOOM.md §6).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from attendance.errors import BadPayload
from attendance.zoom.fields import (
    INT32_MAX,
    as_ident,
    as_label,
    flag,
    parse_time,
    small_int,
)

log = logging.getLogger(__name__)

_UUID_MAX = 255  # meetings.uuid, participants.user_key
_ID_MAX = 100  # participants' Zoom ids
_NAME_MAX = 300
_EMAIL_MAX = 254
_SHORT_MAX = 32  # a status, a user type

Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class ReportParticipant:
    """One join session of ``/report/meetings|webinars/{uuid}/participants``, or of
    ``/past_meetings/{uuid}/participants`` (the same fields, fewer of them sent)."""

    #: The participant's id in the meeting; blank for guests since 2023-03 (ZOOM-REST.md §0).
    id: str
    #: The connection's id in this meeting (CONTRACT §6 groups rows by it).
    user_id: str
    participant_user_id: str
    registrant_id: str
    customer_key: str
    name: str
    user_email: str
    join_time: datetime | None
    leave_time: datetime | None
    #: Seconds, as Zoom counts them.
    duration: int | None
    failover: bool | None
    #: ``in_meeting`` or ``in_waiting_room`` (the latter is no presence).
    status: str
    #: The breakout room's id, blank for the main room.
    bo_mtg_id: str


@dataclass(frozen=True, slots=True)
class PastInstance:
    """An ended instance of a meeting number (``/past_meetings/{id}/instances``)."""

    uuid: str
    start_time: datetime | None


@dataclass(frozen=True, slots=True)
class AccountUser:
    """A user of the connection's account (``/users``)."""

    id: str
    email: str
    first_name: str
    last_name: str
    display_name: str
    #: 1 basic, 2 licensed, 4 unassigned, 99 none.
    type: int | None
    #: ``active``, ``inactive`` or ``pending``.
    status: str


def report_participant(row: dict[str, Any]) -> ReportParticipant:
    """A row of a meeting's or a webinar's report.

    :raises BadPayload: when an id is longer than its column or a time is not one.
    """
    return ReportParticipant(
        id=as_ident(row.get("id"), "id", _ID_MAX),
        user_id=as_ident(row.get("user_id"), "user_id", _UUID_MAX),
        participant_user_id=as_ident(
            row.get("participant_user_id"), "participant_user_id", _ID_MAX
        ),
        registrant_id=as_ident(row.get("registrant_id"), "registrant_id", _ID_MAX),
        customer_key=as_label(row.get("customer_key"), _ID_MAX),
        name=as_label(row.get("name"), _NAME_MAX),
        user_email=as_label(row.get("user_email"), _EMAIL_MAX),
        join_time=parse_time(row.get("join_time")),
        leave_time=parse_time(row.get("leave_time")),
        duration=small_int(row.get("duration"), INT32_MAX),
        failover=flag(row.get("failover")),
        status=as_label(row.get("status"), _SHORT_MAX),
        bo_mtg_id=as_ident(row.get("bo_mtg_id"), "bo_mtg_id", _UUID_MAX),
    )


def past_participant(row: dict[str, Any]) -> ReportParticipant:
    """A row of ``/past_meetings/{uuid}/participants``: the report's row, poorer.

    Zoom sends no ``participant_user_id``, ``customer_key`` or ``bo_mtg_id`` there
    (ZOOM-REST.md §5): they read as blank.

    :raises BadPayload: when an id is longer than its column or a time is not one.
    """
    return report_participant(row)


def past_instance(row: dict[str, Any]) -> PastInstance:
    """An ended instance; one without a uuid cannot be asked about and is refused.

    :raises BadPayload: when the uuid is missing or too long, or the time is not one.
    """
    uuid = as_ident(row.get("uuid"), "uuid", _UUID_MAX)
    if not uuid:
        raise BadPayload("an instance has no uuid")
    return PastInstance(uuid=uuid, start_time=parse_time(row.get("start_time")))


def account_user(row: dict[str, Any]) -> AccountUser:
    """A user of the account; one without an id is refused.

    :raises BadPayload: when the id is missing or too long.
    """
    user_id = as_ident(row.get("id"), "id", _ID_MAX)
    if not user_id:
        raise BadPayload("a user has no id")
    return AccountUser(
        id=user_id,
        email=as_label(row.get("email"), _EMAIL_MAX),
        first_name=as_label(row.get("first_name"), _NAME_MAX),
        last_name=as_label(row.get("last_name"), _NAME_MAX),
        display_name=as_label(row.get("display_name"), _NAME_MAX),
        type=small_int(row.get("type"), INT32_MAX),
        status=as_label(row.get("status"), _SHORT_MAX),
    )


def parse_rows(
    rows: Iterable[Any], parse: Callable[[dict[str, Any]], Row], what: str
) -> Iterator[Row]:
    """Each row parsed; a row not an object, or one ``parse`` refuses, is logged, left out."""
    for row in rows:
        if not isinstance(row, dict):
            log.warning("zoom %s: a row that is not an object, left out", what)
            continue
        try:
            yield parse(row)
        except BadPayload as exc:
            log.warning("zoom %s: a row left out: %s", what, exc)
