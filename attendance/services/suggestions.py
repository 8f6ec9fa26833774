"""Who an unmatched guest probably is: roster students ranked by name similarity.

A guest is someone Zoom reported whom no matching step (CONTRACT §5.4) tied to
the roster: "Ana D", "adiaz's iPad", "Diaz, Ana". The instructor matches them
by hand; these suggestions put the likely student first. Only students who were
absent or unmatched are candidates: a student already seen is not the guest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from attendance.core.matching import normalize_name
from attendance.services.pacing import offload

#: Below this a suggestion is noise ("iPhone" is 0.3 from anyone).
THRESHOLD = 0.6
#: Words in display names that say which device or role, not who ("Ben's iPad").
_FILLER = frozenset(
    "s ipad iphone android galaxy phone mobile tablet laptop pc mac macbook "
    "chromebook zoom user guest".split()
)
#: Suggestions shown per guest.
LIMIT = 3
#: Candidates scored in full per guest, at most (those sharing the most index terms).
MAX_COMPARED = 60
#: Letters of a word or compact key that index it ("ana", "dia", "adi").
_PREFIX = 3
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


#: SequenceMatchers by their second sequence: difflib indexes that side once
#: (``set_seq2``) and compares it with many first sequences (``set_seq1``).
Matchers = dict[str, SequenceMatcher]


def _matcher(a: str, b: str, matchers: Matchers | None) -> SequenceMatcher:
    """A SequenceMatcher of ``a`` against ``b``, reusing ``b``'s index where kept."""
    matcher = matchers.get(b) if matchers is not None else None
    if matcher is None:
        matcher = SequenceMatcher(None, "", b, autojunk=False)
        if matchers is not None:
            matchers[b] = matcher
    matcher.set_seq1(a)
    return matcher


def _ratio(
    a: str, b: str, floor: float = 0.0, matchers: Matchers | None = None
) -> float:
    """difflib's ratio; 0.0 where its cheap upper bounds show it is below ``floor``."""
    if not a or not b:
        return 0.0
    matcher = _matcher(a, b, matchers)
    if floor and (matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor):
        return 0.0
    return matcher.ratio()


def _bound(a: str, b: str, matchers: Matchers | None) -> float:
    """An upper bound of ``_ratio(a, b)`` (difflib's quick_ratio)."""
    return _matcher(a, b, matchers).quick_ratio() if a and b else 0.0


def _best(
    pairs: Iterable[tuple[str, str]], floor: float, matchers: Matchers | None
) -> float:
    """The highest ratio of ``pairs`` if it reaches ``floor`` (else something below it)."""
    best = 0.0
    for a, b in pairs:
        best = max(best, _ratio(a, b, max(floor, best), matchers))
    return best


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


def _token_score(
    guest: tuple[str, ...],
    student: tuple[str, ...],
    floor: float = 0.0,
    matchers: Matchers | None = None,
) -> float:
    """How well each guest word finds a student word (an initial counts for "d").

    Exact when it reaches ``floor``; 0.0 where difflib's upper bounds show it cannot.
    """
    if not guest or not student:
        return 0.0

    def word_score(word: str, exact: bool) -> float:
        if len(word) == 1:
            return 0.9 if any(s.startswith(word) for s in student) else 0.0
        if exact:
            return max(_ratio(word, s, 0.0, matchers) for s in student)
        return max(_bound(word, s, matchers) for s in student)

    if (
        floor
        and _PARTIAL * sum(word_score(w, False) for w in guest) / len(guest) < floor
    ):
        return 0.0
    return _PARTIAL * sum(word_score(w, True) for w in guest) / len(guest)


def similarity(
    guest_name: str, guest_email: str, first: str, last: str, email: str
) -> float:
    """How likely (0-1) a guest with this display name and e-mail is this student."""
    return _similarity(
        _guest_keys(guest_name, guest_email), _student_keys(first, last, email)
    )


def _similarity(
    guest: _Keys, student: _Keys, floor: float = 0.0, matchers: Matchers | None = None
) -> float:
    """``similarity`` of prepared keys; exact when it reaches ``floor``, else below it.

    A pair whose ratio cannot beat the best so far (or ``floor``) is skipped on
    difflib's cheap upper bounds: the suggestions' threshold makes most of the
    roster such pairs.
    """
    full = _best(((g, s) for g in guest.full for s in student.full), floor, matchers)
    floor = max(floor, full)
    compact = _best(
        ((g, s) for g in guest.compact for s in student.compact if len(g) > 2),
        floor,
        matchers,
    )
    floor = max(floor, compact)
    return max(
        full, compact, _token_score(guest.tokens, student.tokens, floor, matchers)
    )


def _prepare(
    candidates: Iterable[Mapping[str, Any]],
) -> list[tuple[Mapping[str, Any], _Keys]]:
    """Each candidate with its keys, made once for all the guests compared with it."""
    return [
        (
            c,
            _student_keys(
                c.get("first_name") or "",
                c.get("last_name") or "",
                c.get("email") or "",
            ),
        )
        for c in candidates
    ]


def _prefixes(keys: _Keys) -> set[str]:
    """The index terms of a side: the first letters of each word and compact key.

    A guest and a student who share none ("iPhone" and anyone) are never
    compared; "Ana D", "adiaz's iPad", "Diaz, Ana" and "Ana Dias" all share
    one with Ana Díaz ("ana", "adi" or "dia"). Initials are too common to index.
    """
    words = [*keys.tokens, *keys.compact]
    return {w[:_PREFIX] for w in words if len(w) > 1}


def _rank(
    guest: _Keys,
    prepared: Iterable[tuple[Mapping[str, Any], _Keys]],
    limit: int,
    threshold: float,
    matchers: Matchers,
) -> list[Suggestion]:
    found = []
    for c, student in prepared:
        score = _similarity(guest, student, threshold, matchers)
        if score >= threshold:
            name = " ".join(p for p in (c.get("first_name"), c.get("last_name")) if p)
            found.append(
                Suggestion(c["student_pk"], c["student_id"], name, round(score, 3))
            )
    found.sort(key=lambda s: (-s.score, s.name.casefold(), s.student_pk))
    return found[:limit]


class SuggestionIndex:
    """The candidates of a meeting, indexed once by name prefix for any number of guests.

    A guest is scored only against the candidates that share an index term with
    it, at most ``MAX_COMPARED`` of them (those sharing the most terms): the
    cost of one guest is bounded whatever the roster's size, and a page never
    compares every guest with every student (a 2,000-student course with 120
    guests took 52 s that way, on the one event loop).
    """

    def __init__(self, candidates: Iterable[Mapping[str, Any]]) -> None:
        self._prepared = _prepare(candidates)
        self._terms: dict[str, list[int]] = defaultdict(list)
        for i, (_c, keys) in enumerate(self._prepared):
            for term in _prefixes(keys):
                self._terms[term].append(i)
        #: One difflib index per student key, shared by every guest.
        self._matchers: Matchers = {}

    def suggest(
        self,
        guest_name: str,
        guest_email: str,
        *,
        limit: int = LIMIT,
        threshold: float = THRESHOLD,
    ) -> list[Suggestion]:
        """The best ``limit`` candidates for one guest, at or above ``threshold``."""
        guest = _guest_keys(guest_name, guest_email)
        shared: Counter[int] = Counter()
        for term in _prefixes(guest):
            shared.update(self._terms.get(term, ()))
        compared = sorted(i for i, _n in shared.most_common(MAX_COMPARED))
        return _rank(
            guest,
            (self._prepared[i] for i in compared),
            limit,
            threshold,
            self._matchers,
        )


def suggest(
    guest_name: str,
    guest_email: str,
    candidates: Iterable[Mapping[str, Any]],
    *,
    limit: int = LIMIT,
    threshold: float = THRESHOLD,
) -> list[Suggestion]:
    """The best ``limit`` candidates (Record-shaped mappings) at or above ``threshold``."""
    return SuggestionIndex(candidates).suggest(
        guest_name, guest_email, limit=limit, threshold=threshold
    )


def candidates(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records a guest may be: students absent or matched to no one."""
    return [
        r for r in records if r.get("matched_by") is None or r["status"] == "Absent"
    ]


def meeting_suggestions(
    records: Iterable[Mapping[str, Any]],
    guests: Iterable[Mapping[str, Any]],
    *,
    limit: int = LIMIT,
) -> dict[int, list[Suggestion]]:
    """Suggestions per guest ``participant_pk`` from a meeting's Records and Guests.

    Pass only the guests shown (a page of them): each costs a bounded search,
    run off the event loop (``pacing.offload``: it is pure) and remembered for
    the same candidates, so a report reloaded by several dashboards is searched
    once. The cache is read and written here, on the loop's thread only.
    """
    pool = candidates(records)
    fingerprint = hash(
        tuple(
            (c["student_pk"], c.get("first_name"), c.get("last_name"), c.get("email"))
            for c in pool
        )
    )
    keys = {
        g["participant_pk"]: (fingerprint, g["name"], g.get("email") or "", limit)
        for g in guests
    }
    found = {pk: _CACHE[key] for pk, key in keys.items() if key in _CACHE}
    missing = [key for pk, key in keys.items() if pk not in found]
    if missing:
        for key, suggestions in zip(
            missing, offload(_search, pool, missing), strict=True
        ):
            _CACHE[key] = suggestions
        while len(_CACHE) > CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]  # the oldest: insertion order
        found.update({pk: _CACHE[key] for pk, key in keys.items() if pk not in found})
    return found


#: Guests' suggestions remembered (by candidates, name, e-mail and limit).
CACHE_SIZE = 4096
_CACHE: dict[tuple[int, str, str, int], list[Suggestion]] = {}


def _search(
    pool: list[Mapping[str, Any]], keys: list[tuple[int, str, str, int]]
) -> list[list[Suggestion]]:
    """Each key's suggestions among ``pool``, on plain data: ms of difflib each."""
    index = SuggestionIndex(pool)
    return [index.suggest(name, email, limit=limit) for _f, name, email, limit in keys]
