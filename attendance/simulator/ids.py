"""Random identifiers shaped like Zoom's, drawn from the simulation's seeded ``rng``."""

from __future__ import annotations

import base64
import random
import string
import uuid

_BASE62 = string.ascii_letters + string.digits


def random_token(rng: random.Random, length: int = 22) -> str:
    """Letters and digits, as Zoom's account ids and URL tokens are."""
    return "".join(rng.choice(_BASE62) for _ in range(length))


def random_zoom_uuid(rng: random.Random) -> str:
    """A meeting or breakout-room UUID as Zoom writes them (base64, may hold / and +)."""
    return base64.b64encode(rng.randbytes(16)).decode("ascii")


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID string (participant and recording-file ids)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
