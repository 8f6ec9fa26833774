"""The order Zoom delivers a class's events in: some late, some twice (ZOOM.md §2)."""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from typing import Any


def delivery_order(
    events: Sequence[dict[str, Any]],
    rng: random.Random,
    disorder: float,
    duplicates: float,
) -> list[dict[str, Any]]:
    """Move ``disorder`` of the events later, re-deliver ``duplicates`` of them."""
    n = len(events)
    keys = [float(i) for i in range(n)]
    span = max(3.0, n / 5)
    moved = round(disorder * n)
    if moved:
        # Zoom's classic: a participant_left that overtakes its participant_joined.
        leaves = {
            _conn_key(e): i
            for i, e in enumerate(events)
            if e["event"] == "meeting.participant_left"
        }
        joins = [
            (i, leaves[_conn_key(e)])
            for i, e in enumerate(events)
            if e["event"] == "meeting.participant_joined" and _conn_key(e) in leaves
        ]
        chosen: set[int] = set()
        if joins:
            join, leave = rng.choice(joins)
            keys[join] = leave + rng.uniform(0.1, 3.0)
            chosen.add(join)
        others = [i for i in range(n) if i not in chosen]
        for i in rng.sample(others, min(len(others), moved - len(chosen))):
            keys[i] = i + rng.uniform(1.1, span)
    items: list[tuple[float, int, dict[str, Any]]] = [
        (keys[i], i, e) for i, e in enumerate(events)
    ]
    for i in rng.sample(range(n), round(duplicates * n)):
        items.append(
            (keys[i] + rng.uniform(1.1, span), n + i, copy.deepcopy(events[i]))
        )
    items.sort(key=lambda item: item[:2])
    return [e for _, _, e in items]


def _conn_key(event: Mapping[str, Any]) -> str:
    participant = event.get("payload", {}).get("object", {}).get("participant", {})
    return str(participant.get("user_id", ""))
