"""Normalizing emails and display names, and matching a connection to the roster (§5.4)."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import TypeVar

from attendance.core.model import IdentityLink, LinkKind, LinkSource, MatchedBy, Student

_CLOSERS = {")": "(", "]": "["}
_ASCII_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_NOBODY: frozenset[int] = frozenset()
#: Words that name a device or a placeholder, not a person (CONTRACT §5.7): a
#: display name with one of them is shared by strangers ("iPhone", "Zoom user").
DEVICE_WORDS = frozenset(
    {
        "iphone",
        "ipad",
        "android",
        "galaxy",
        "samsung",
        "pixel",
        "phone",
        "mobile",
        "tablet",
        "laptop",
        "macbook",
        "desktop",
        "pc",
        "computer",
        "zoom",
        "user",
        "guest",
        "participant",
        "student",
        "host",
        "admin",
        "unknown",
        "teacher",
        "room",
        "my",
    }
)
_K = TypeVar("_K", bound=Hashable)
#: The link kinds the zoom_user step learns (names and e-mails are manual only).
_ID_KINDS = frozenset({LinkKind.ZOOM_USER, LinkKind.REGISTRANT})
#: The links the zoom_user step takes: learned in an earlier meeting, or listed by
#: the Zoom account with the student's e-mail (§6 account users).
_ZOOM_USER_SOURCES = frozenset({LinkSource.LEARNED, LinkSource.ACCOUNT})


def normalize_email(value: str) -> str:
    """Trim and case-fold an email, so "Ana@X.org " and "ana@x.org" compare equal."""
    return value.strip().casefold()


@functools.lru_cache(maxsize=65536)
def normalize_name(value: str) -> str:
    """Reduce a display name to lowercase words, so accents, pronouns and punctuation don't matter.

    "Ana Díaz (she/her)" -> "ana diaz"; "Sam Lee (TA) (he/him)" -> "sam lee".
    """
    if value.isascii():  # the common case: no marks to drop, nothing to decompose
        text = _strip_trailing_groups(value.lower())
        return _ASCII_NON_ALNUM.sub(" ", text).strip()
    # Case folding can itself produce combining marks ("İ" -> "i" + U+0307), so
    # decompose and drop marks again afterwards.
    text = _strip_marks(_strip_marks(value).casefold())
    text = _strip_trailing_groups(text)
    kept = "".join(ch if ch.isalpha() or ch.isdecimal() else " " for ch in text)
    return " ".join(kept.split())


def is_specific_name(value: str) -> bool:
    """Whether a display name points to one person, and so may be remembered (§5.7).

    Its normalized words: at least two of two or more letters (and nothing but
    letters), none a device or placeholder word, none a number. "Ana Díaz" is;
    "iPhone", "Ana D." and "Zoom user 7" are not.
    """
    words = normalize_name(value).split()
    if any(word in DEVICE_WORDS or word.isdecimal() for word in words):
        return False
    return sum(1 for word in words if len(word) >= 2 and word.isalpha()) >= 2


def _strip_marks(text: str) -> str:
    """Decompose (NFKD) and drop every combining mark (categories Mn, Mc, Me)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(
        ch for ch in decomposed if not unicodedata.category(ch).startswith("M")
    )


def _strip_trailing_groups(text: str) -> str:
    """Remove every trailing "(...)" and "[...]" group, nested ones included."""
    text = text.rstrip()
    while text and text[-1] in _CLOSERS:
        opener = _find_opener(text)
        if opener < 0:  # unbalanced: leave the name alone
            break
        text = text[:opener].rstrip()
    return text


def _find_opener(text: str) -> int:
    """Return the index of the bracket opening the group that ends ``text``, or -1."""
    stack: list[str] = []
    for index in range(len(text) - 1, -1, -1):
        ch = text[index]
        if ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif ch in ("(", "["):
            if not stack or stack.pop() != ch:
                return -1
            if not stack:
                return index
    return -1


class Roster:
    """A course roster indexed once, so matching one connection is a few dict lookups."""

    def __init__(self, students: Sequence[Student], links: Iterable[IdentityLink] = ()):
        self.students = tuple(students)
        known = {s.pk for s in self.students}
        email: dict[str, set[int]] = defaultdict(set)
        alias: dict[str, set[int]] = defaultdict(set)  # alias emails and names
        alias_name: dict[str, set[int]] = defaultdict(set)
        name: dict[str, set[int]] = defaultdict(set)
        for s in self.students:
            _add(email, normalize_email(s.email), s.pk)
            for value in s.alias_emails:
                _add(alias, normalize_email(value), s.pk)
            for value in s.alias_names:
                _add(alias_name, normalize_name(value), s.pk)
            _add(name, normalize_name(f"{s.first_name} {s.last_name}"), s.pk)
            _add(name, normalize_name(f"{s.last_name} {s.first_name}"), s.pk)
        learned: dict[tuple[LinkKind, str], set[int]] = defaultdict(set)
        manual: dict[tuple[LinkKind, str], set[int]] = defaultdict(set)
        for link in links:
            value = _link_key(link)
            # A link to a student no longer on the roster points nowhere.
            if not value or link.student_pk not in known:
                continue
            if link.source in _ZOOM_USER_SOURCES and link.kind in _ID_KINDS:
                learned[link.kind, value].add(link.student_pk)
            elif link.source is LinkSource.MANUAL:
                manual[link.kind, value].add(link.student_pk)
        self._email = _freeze(email)
        self._alias_email = _freeze(alias)
        self._alias_name = _freeze(alias_name)
        self._name = _freeze(name)
        self._learned = _freeze(learned)
        self._manual = _freeze(manual)
        self._memo: dict[tuple[object, ...], tuple[int | None, MatchedBy | None]] = {}

    def match(
        self,
        name: str,
        email: str,
        zoom_user_ids: Iterable[str] = (),
        registrant_ids: Iterable[str] = (),
    ) -> tuple[int | None, MatchedBy | None]:
        """Return (student pk, step) of the first step that points to exactly one student.

        Memoized per identity: a meeting's connections repeat the same few
        identities (rejoins, devices), and a Roster lives for one computation.
        """
        key = (name, email, tuple(zoom_user_ids), tuple(registrant_ids))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._match(*key)
        return hit

    def _match(
        self,
        name: str,
        email: str,
        zoom_user_ids: tuple[str, ...],
        registrant_ids: tuple[str, ...],
    ) -> tuple[int | None, MatchedBy | None]:
        email_key = normalize_email(email)
        name_key = normalize_name(name)
        ids = [(LinkKind.ZOOM_USER, v.strip()) for v in zoom_user_ids if v.strip()]
        ids += [(LinkKind.REGISTRANT, v.strip()) for v in registrant_ids if v.strip()]
        for step, candidates in self._candidates(email_key, name_key, ids):
            if len(candidates) == 1:
                return next(iter(candidates)), step
        return None, None

    def _candidates(
        self, email_key: str, name_key: str, ids: list[tuple[LinkKind, str]]
    ) -> Iterator[tuple[MatchedBy, frozenset[int]]]:
        """Yield each step's combined candidates in priority order, computed lazily."""
        yield MatchedBy.EMAIL, _union(self._email.get(email_key))
        yield (
            MatchedBy.ALIAS,
            _union(self._alias_email.get(email_key), self._alias_name.get(name_key)),
        )
        yield MatchedBy.ZOOM_USER, _union(*(self._learned.get(key) for key in ids))
        yield (
            MatchedBy.MANUAL,
            _union(
                self._manual.get((LinkKind.EMAIL, email_key)),
                self._manual.get((LinkKind.NAME, name_key)),
                *(self._manual.get(key) for key in ids),
            ),
        )
        yield MatchedBy.NAME, _union(self._name.get(name_key))


def _link_key(link: IdentityLink) -> str:
    """A link's value as the step compares it: names and e-mails normalized, ids trimmed."""
    if link.kind is LinkKind.NAME:
        return normalize_name(link.value)
    if link.kind is LinkKind.EMAIL:
        return normalize_email(link.value)
    return link.value.strip()


def _add(index: dict[str, set[int]], key: str, pk: int) -> None:
    """Index ``pk`` under ``key`` unless the key is empty (an empty name matches nobody)."""
    if key:
        index[key].add(pk)


def _union(*hits: frozenset[int] | None) -> frozenset[int]:
    """Combine the students a step's lookups found."""
    found = [hit for hit in hits if hit]
    if len(found) <= 1:  # the usual case: no set to build
        return found[0] if found else _NOBODY
    return frozenset().union(*found)


def _freeze(index: dict[_K, set[int]]) -> dict[_K, frozenset[int]]:
    """Turn a building index into a read-only one."""
    return {key: frozenset(pks) for key, pks in index.items()}
