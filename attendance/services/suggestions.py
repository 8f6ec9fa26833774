"""Who an unmatched guest probably is: roster students ranked by name similarity.

A guest is someone Zoom reported whom no matching step (CONTRACT §5.4) tied to
the roster: "Ana D", "adiaz's iPad", "Diaz, Ana". The instructor matches them
by hand; these suggestions put the likely student first. Only students who were
absent or unmatched are candidates: a student already seen is not the guest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from attendance.core.matching import normalize_name

#: Below this a suggestion is noise ("iPhone" is 0.3 from anyone).
THRESHOLD = 0.6
#: Words in display names that say which device or role, not who ("Ben's iPad").
_FILLER = frozenset(
    "s ipad iphone android galaxy phone mobile tablet laptop pc mac macbook "
    "chromebook zoom user guest".split()
)
#: A guest's name that covers only part of a student's name ranks below a full match.
_PARTIAL = 0.9


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A roster student the guest may be, with a similarity score in [0, 1]."""

    student_pk: int
    student_id: str
    name: str
    score: float


@dataclass(frozen=True, slots=True)
class _Keys:
    """The normalized forms of one side that are compared."""

    full: tuple[str, ...]
    tokens: tuple[str, ...]
    compact: tuple[str, ...]


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0


def _local_part(email: str) -> str:
    """The e-mail's local part as words ("ana.diaz+zoom@x" -> "ana diaz")."""
    local = email.partition("@")[0].partition("+")[0]
    return normalize_name(local)


def _guest_keys(name: str, email: str) -> _Keys:
    full = normalize_name(name)
    local = _local_part(email)
    tokens = tuple(t for t in full.split() if t not in _FILLER)
    compact = tuple(dict.fromkeys(k.replace(" ", "") for k in (full, local) if k))
    return _Keys(full=(full,) if full else (), tokens=tokens, compact=compact)


def _student_keys(first: str, last: str, email: str) -> _Keys:
    first_n, last_n = normalize_name(first), normalize_name(last)
    orders = ((first_n, last_n), (last_n, first_n))
    full = tuple(dict.fromkeys(" ".join(p for p in o if p) for o in orders))
    f, la = first_n.replace(" ", ""), last_n.replace(" ", "")
    compact = [
        f + la,
        la + f,
        f[:1] + la,
        f + la[:1],
        _local_part(email).replace(" ", ""),
    ]
    return _Keys(
        full=tuple(k for k in full if k),
        tokens=tuple((first_n + " " + last_n).split()),
        compact=tuple(dict.fromkeys(k for k in compact if len(k) > 1)),
    )


def _token_score(guest: tuple[str, ...], student: tuple[str, ...]) -> float:
    """How well each guest word finds a student word (an initial counts for "d")."""
    if not guest or not student:
        return 0.0
    total = 0.0
    for word in guest:
        if len(word) == 1:
            best = 0.9 if any(s.startswith(word) for s in student) else 0.0
        else:
            best = max(_ratio(word, s) for s in student)
        total += best
    return _PARTIAL * total / len(guest)


def similarity(
    guest_name: str, guest_email: str, first: str, last: str, email: str
) -> float:
    """How likely (0-1) a guest with this display name and e-mail is this student."""
    guest = _guest_keys(guest_name, guest_email)
    student = _student_keys(first, last, email)
    full = max((_ratio(g, s) for g in guest.full for s in student.full), default=0.0)
    compact = max(
        (_ratio(g, s) for g in guest.compact for s in student.compact if len(g) > 2),
        default=0.0,
    )
    return max(full, compact, _token_score(guest.tokens, student.tokens))


def suggest(
    guest_name: str,
    guest_email: str,
    candidates: Iterable[Mapping[str, Any]],
    *,
    limit: int = 3,
    threshold: float = THRESHOLD,
) -> list[Suggestion]:
    """The best ``limit`` candidates (Record-shaped mappings) at or above ``threshold``."""
    found = []
    for c in candidates:
        score = similarity(
            guest_name,
            guest_email,
            c.get("first_name") or "",
            c.get("last_name") or "",
            c.get("email") or "",
        )
        if score >= threshold:
            name = " ".join(p for p in (c.get("first_name"), c.get("last_name")) if p)
            found.append(
                Suggestion(c["student_pk"], c["student_id"], name, round(score, 3))
            )
    found.sort(key=lambda s: (-s.score, s.name.casefold(), s.student_pk))
    return found[:limit]


def candidates(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records a guest may be: students absent or matched to no one."""
    return [
        r for r in records if r.get("matched_by") is None or r["status"] == "Absent"
    ]


def meeting_suggestions(
    records: Iterable[Mapping[str, Any]],
    guests: Iterable[Mapping[str, Any]],
    *,
    limit: int = 3,
) -> dict[int, list[Suggestion]]:
    """Suggestions per guest ``participant_pk`` from a meeting's Records and Guests."""
    pool = candidates(records)
    return {
        g["participant_pk"]: suggest(g["name"], g.get("email") or "", pool, limit=limit)
        for g in guests
    }
