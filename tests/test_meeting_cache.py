"""The per-process meeting cache never serves connections the database does not have."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from attendance.core.model import Connection
from attendance.extensions import db
from attendance.models import Meeting, Participant, ParticipantEvent
from attendance.models.types import to_micros
from attendance.services.generation import compute, generate
from attendance.services.meeting_cache import Entry, cache, reconcile
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

MIN = timedelta(minutes=1)


def _post_all(zoom, events):
    for event in events:
        assert zoom.post(event).status_code == 200


def _meeting():
    return db.session.scalar(select(Meeting).where(Meeting.uuid == UUID))


def test_cache_is_filled_on_commit_and_reused_for_late_events(app, zoom):
    make_course(app)
    _post_all(
        zoom,
        [
            started(),
            *session("Ana Díaz", S, S + 30 * MIN, email="ana@uni.edu"),
            ended(),
        ],
    )
    with app.app_context():
        meeting_id = _meeting().id
    entry = cache.get(meeting_id, UUID)
    assert entry is not None and len(entry.connections) == 1
    _post_all(zoom, session("Ben Okafor", S, E))  # a late pair of events
    entry = cache.get(meeting_id, UUID)
    assert len(entry.connections) == 2
    assert records(app)["S2"]["status"] == "Present"


def test_cache_notices_another_process_changed_the_meeting(app, zoom):
    make_course(app)
    _post_all(
        zoom,
        [
            started(),
            *session("Ana Díaz", S, S + 30 * MIN, email="ana@uni.edu"),
            ended(),
        ],
    )
    assert records(app)["S1"]["status"] == "Left Early"
    with app.app_context():
        # Another process's batch: a late rejoin of Ana, and the version bump it makes.
        meeting = _meeting()
        participant = Participant(
            meeting_id=meeting.id,
            user_key="other-process",
            name="Ana Díaz",
            email="ana@uni.edu",
        )
        db.session.add(participant)
        db.session.flush()
        db.session.add(
            ParticipantEvent(
                meeting_id=meeting.id,
                participant_id=participant.id,
                kind="joined",
                at_us=to_micros(S + 31 * MIN),
            )
        )
        db.session.execute(
            update(Meeting).values(events_version=Meeting.events_version + 1)
        )
        db.session.commit()
        generate(_meeting())  # no batch of ours: must see the other process's version
        db.session.commit()
    assert records(app)["S1"]["status"] == "Present"


def test_cache_drops_what_a_rolled_back_batch_staged(app, zoom):
    make_course(app)
    _post_all(
        zoom,
        [
            started(),
            *session("Ana Díaz", S, S + 30 * MIN, email="ana@uni.edu"),
            ended(),
        ],
    )
    with app.app_context():
        meeting = _meeting()
        before = cache.get(meeting.id, UUID)
        db.session.add(
            Participant(meeting_id=meeting.id, user_key="ghost", name="Ghost")
        )
        db.session.flush()
        generate(meeting)  # stages an entry that includes the ghost...
        db.session.rollback()  # ...which never reaches the cache
        assert cache.get(meeting.id, UUID) is before
        result = compute(_meeting())
        assert "Ghost" not in [g.name for g in result.guests]


def test_cached_and_uncached_results_are_identical(app, zoom):
    make_course(app)
    events = [started(), ended()]
    for n in range(12):
        events += session(f"Guest {n}", S + n * MIN, E - n * MIN)
    events += session("Ana Díaz", S, E, email="ana@uni.edu")
    _post_all(zoom, events)
    _post_all(zoom, session("Chen Wei", S + 12 * MIN, E))
    with app.app_context():
        meeting = _meeting()
        cached = generate(meeting)
        db.session.commit()
        cache.clear()
        assert generate(_meeting()) == cached


def _loader(version: int, loads: list):
    """A ``load`` for ``reconcile`` whose connections carry ``version`` as their name."""

    def load(only):
        loads.append(only)
        return [Connection(f"k{pk}", pk, name=str(version)) for pk in only or (1, 2, 3)]

    return load


def _entry(version: int) -> Entry:
    connections = {pk: Connection(f"k{pk}", pk, name=str(version)) for pk in (1, 2)}
    return Entry(UUID, version, connections)


def test_reconcile_keeps_a_current_entry_as_it_is():
    loads: list = []
    entry = _entry(4)
    assert reconcile(entry, UUID, 4, [(4, {1})], _loader(4, loads)) is entry
    assert loads == []


@pytest.mark.parametrize(
    ("changes", "reloaded"),
    [
        ([(5, {2})], {2}),  # one batch, one version
        ([(6, {3}), (5, {2})], {2, 3}),  # batches in any order
        ([(4, {1}), (5, {2}), (6, {3})], {2, 3}),  # the entry holds version 4 already
    ],
)
def test_reconcile_reloads_only_what_the_changes_touched(changes, reloaded):
    loads: list = []
    entry = _entry(4)
    current = max(v for v, _ids in changes)
    fresh = reconcile(entry, UUID, current, changes, _loader(current, loads))
    assert loads == [reloaded]
    assert fresh.version == current
    assert {pk: c.name for pk, c in fresh.connections.items()} == {
        pk: str(current) if pk in reloaded else "4" for pk in {1, 2} | reloaded
    }
    assert fresh.derivations is entry.derivations
    assert entry.version == 4 and set(entry.connections) == {1, 2}  # untouched


@pytest.mark.parametrize(
    ("have", "current", "changes"),
    [
        (None, 5, [(5, {2})]),  # nothing cached
        (4, 6, [(6, {3})]),  # version 5 is someone else's
        (4, 5, []),  # no changes known
        (7, 5, [(5, {2})]),  # the entry is newer than this transaction sees
    ],
)
def test_reconcile_loads_everything_across_an_unknown_gap(have, current, changes):
    loads: list = []
    entry = None if have is None else _entry(have)
    fresh = reconcile(entry, UUID, current, changes, _loader(current, loads))
    assert loads == [None]
    assert fresh.version == current
    assert {pk: c.name for pk, c in fresh.connections.items()} == {
        1: str(current),
        2: str(current),
        3: str(current),
    }
