"""Who an unmatched guest probably is: roster students ranked by name similarity.

A guest is someone Zoom reported whom no matching step (CONTRACT §5.4) tied to
the roster: "Ana D", "adiaz's iPad", "Diaz, Ana". The instructor matches them
by hand; these suggestions put the likely student first. Only students who were
absent or unmatched are candidates: a student already seen is not the guest.

Except as a second device. A student Zoom already tied to someone in this
meeting (any ``matched_by``) is *here*; a guest whose normalized name (§5.4) is
a here student's "first last" or "last first" is offered first as that
student's second device (matching merges it into them), and the absent students
of that same normalized name are not offered: this is the e-mail-less phone of
the Chloé who signed in, not the other Chloe of the roster. (The name step
matched no one precisely because two students share that name.)

Hosts and co-hosts are listed as guests but are not guests to fix: none gets a
suggestion (§5.7: they cannot be matched to a student).

A suggestion's ``score`` says how sure it is, not only how alike the names are:
each student who fits (similarity ``s`` at or above ``THRESHOLD``) is doubted
by every other fit ``t`` in proportion to how close it comes, and scored
``s / (1 + sum of weight(t) x closeness(s, t))``, where closeness is 1 when
``t >= s`` and falls linearly to 0 at ``t <= s - CLOSE``. A fit counts with
weight 1; an absent namesake hidden behind a second device counts
``NAMESAKE_WEIGHT`` (a second device is the likelier story, not a certain one).
So a single exact fit is 100%, n students who fit equally are 1/n each (never
100%), a second device with one absent namesake is 67%, and a fit far ahead of
the rest keeps its similarity. Second devices are shown first, then the other
fits; within each, the order is the similarity's (the scaling keeps it).
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
#: A fit this much less alike than another no longer makes that one doubtful.
CLOSE = 0.2
#: How much an absent namesake of a student already here doubts the second device.
NAMESAKE_WEIGHT = 0.5
#: Guest roles that are not guests to fix (§5.7): never matched, never suggested.
NOT_MATCHABLE = frozenset({"host", "co-host"})


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A roster student the guest may be, with how sure that is in [0, 1]."""

    student_pk: int
    student_id: str
    name: str
    score: float
    #: The student is already here: the guest is probably another device of theirs.
    second_device: bool = False


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


def _name_keys(record: Mapping[str, Any]) -> tuple[str, ...]:
    """A student's normalized "first last" and "last first", as §5.4's name step reads them."""
    first, last = record.get("first_name") or "", record.get("last_name") or ""
    keys = (normalize_name(f"{first} {last}"), normalize_name(f"{last} {first}"))
    return tuple(dict.fromkeys(k for k in keys if k))


def _display_name(record: Mapping[str, Any]) -> str:
    return " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p)


@dataclass(frozen=True, slots=True)
class _Fit:
    """A student who fits a guest: how alike, how much it doubts the others, shown or not."""

    record: Mapping[str, Any]
    similarity: float
    weight: float = 1.0
    second_device: bool = False
    shown: bool = True


def _closeness(mine: float, theirs: float) -> float:
    """How much a fit of similarity ``theirs`` makes one of ``mine`` doubtful (0-1)."""
    if theirs >= mine:
        return 1.0
    return max(0.0, 1.0 - (mine - theirs) / CLOSE)


def _scored(fits: list[_Fit], limit: int) -> list[Suggestion]:
    """The shown fits scored by ambiguity (module docstring), second devices first."""
    shown = []
    for fit in fits:
        if fit.shown:
            doubt = sum(
                other.weight * _closeness(fit.similarity, other.similarity)
                for other in fits
                if other is not fit
            )
            shown.append((fit, round(fit.similarity / (1.0 + doubt), 3)))
    shown.sort(
        key=lambda p: (
            not p[0].second_device,
            -p[1],
            -p[0].similarity,
            _display_name(p[0].record).casefold(),
            p[0].record["student_pk"],
        )
    )
    return [
        Suggestion(
            f.record["student_pk"],
            f.record["student_id"],
            _display_name(f.record),
            score,
            f.second_device,
        )
        for f, score in shown[:limit]
    ]


class SuggestionIndex:
    """The candidates of a meeting, indexed once by name prefix for any number of guests.

    A guest is scored only against the candidates that share an index term with
    it, at most ``MAX_COMPARED`` of them (those sharing the most terms): the
    cost of one guest is bounded whatever the roster's size, and a page never
    compares every guest with every student (a 2,000-student course with 120
    guests took 52 s that way, on the one event loop). The students already
    here are indexed by normalized name only: a guest looks up its own, once.
    """

    def __init__(
        self,
        candidates: Iterable[Mapping[str, Any]],
        here: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._prepared = _prepare(candidates)
        self._terms: dict[str, list[int]] = defaultdict(list)
        #: Candidates by normalized name: the namesakes a second device hides.
        self._named: dict[str, list[int]] = defaultdict(list)
        for i, (c, keys) in enumerate(self._prepared):
            for term in _prefixes(keys):
                self._terms[term].append(i)
            for name in _name_keys(c):
                self._named[name].append(i)
        #: Students already here by normalized name: whose second device a guest may be.
        self._here: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for r in here:
            for name in _name_keys(r):
                self._here[name].append(r)
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
        """The best ``limit`` candidates for one guest, at or above ``threshold``.

        A student already here with the guest's normalized name comes first, as
        a second device; the absent students of that name are then not offered.
        """
        name = normalize_name(guest_name)
        seconds = self._here.get(name, []) if name else []
        fits = [_Fit(r, 1.0, second_device=True) for r in seconds]
        taken = {r["student_pk"] for r in seconds}
        hidden: set[int] = set()
        if seconds:
            for i in self._named.get(name, ()):
                record = self._prepared[i][0]
                hidden.add(i)
                if record["student_pk"] not in taken:
                    fits.append(_Fit(record, 1.0, NAMESAKE_WEIGHT, shown=False))
        guest = _guest_keys(guest_name, guest_email)
        shared: Counter[int] = Counter()
        for term in _prefixes(guest):
            shared.update(self._terms.get(term, ()))
        compared = sorted(i for i, _n in shared.most_common(MAX_COMPARED))
        scored = (
            (c, _similarity(guest, keys, threshold, self._matchers))
            for c, keys in (self._prepared[i] for i in compared if i not in hidden)
            if c["student_pk"] not in taken
        )
        fits += [_Fit(c, score) for c, score in scored if score >= threshold]
        return _scored(fits, limit)


def suggest(
    guest_name: str,
    guest_email: str,
    candidates: Iterable[Mapping[str, Any]],
    *,
    here: Iterable[Mapping[str, Any]] = (),
    limit: int = LIMIT,
    threshold: float = THRESHOLD,
) -> list[Suggestion]:
    """The best ``limit`` candidates (Record-shaped mappings) at or above ``threshold``.

    ``here`` are the students already in the meeting (second devices, see above).
    """
    return SuggestionIndex(candidates, here).suggest(
        guest_name, guest_email, limit=limit, threshold=threshold
    )


def candidates(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records a guest may be: students absent or matched to no one."""
    return [
        r for r in records if r.get("matched_by") is None or r["status"] == "Absent"
    ]


def present(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records of students already here: Zoom tied someone in the meeting to them."""
    return [r for r in records if r.get("matched_by") is not None]


def to_fix(guest: Mapping[str, Any]) -> bool:
    """Whether a guest is one to match: not the host or a co-host (§5.7)."""
    return guest.get("role") not in NOT_MATCHABLE


def meeting_suggestions(
    records: Iterable[Mapping[str, Any]],
    guests: Iterable[Mapping[str, Any]],
    *,
    limit: int = LIMIT,
) -> dict[int, list[Suggestion]]:
    """Suggestions per guest ``participant_pk`` from a meeting's Records and Guests.

    Hosts and co-hosts get none (they are not in the answer). Pass only the
    guests shown (a page of them): each costs a bounded search, run off the
    event loop (``pacing.offload``: it is pure) and remembered for the same
    candidates and students here, so a report reloaded by several dashboards
    is searched once. The cache is read and written here, on the loop's thread
    only.
    """
    records = list(records)
    pool, here = candidates(records), present(records)
    fingerprint = hash(
        (
            tuple(
                (
                    c["student_pk"],
                    c.get("first_name"),
                    c.get("last_name"),
                    c.get("email"),
                )
                for c in pool
            ),
            tuple(
                (r["student_pk"], r.get("first_name"), r.get("last_name")) for r in here
            ),
        )
    )
    keys = {
        g["participant_pk"]: (fingerprint, g["name"], g.get("email") or "", limit)
        for g in guests
        if to_fix(g)
    }
    found = {pk: _CACHE[key] for pk, key in keys.items() if key in _CACHE}
    missing = [key for pk, key in keys.items() if pk not in found]
    if missing:
        for key, suggestions in zip(
            missing, offload(_search, pool, here, missing), strict=True
        ):
            _CACHE[key] = suggestions
        while len(_CACHE) > CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]  # the oldest: insertion order
        found.update({pk: _CACHE[key] for pk, key in keys.items() if pk not in found})
    return found


#: Guests' suggestions remembered (by candidates and students here, name, e-mail and limit).
CACHE_SIZE = 4096
_CACHE: dict[tuple[int, str, str, int], list[Suggestion]] = {}


def _search(
    pool: list[Mapping[str, Any]],
    here: list[Mapping[str, Any]],
    keys: list[tuple[int, str, str, int]],
) -> list[list[Suggestion]]:
    """Each key's suggestions among ``pool`` (and ``here``), on plain data: ms of difflib each."""
    index = SuggestionIndex(pool, here)
    return [index.suggest(name, email, limit=limit) for _f, name, email, limit in keys]
