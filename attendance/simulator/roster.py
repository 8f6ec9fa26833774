"""The simulated course's roster: students with realistic, distinct names and e-mails.

Each student also gets the way they show up in Zoom (their own account, an
external e-mail, a name only, a personal e-mail or a nickname on their aliases),
so the roster match has every case to solve. It depends on the seed alone:
re-running with the same seed upserts the same students.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from attendance.core.matching import normalize_name
from attendance.simulator.ids import random_token

#: The name pools below give this many distinct students (half their pairs).
MAX_STUDENTS = 1000

_FIRST_NAMES = (
    "José", "María", "Zoë", "François", "Søren", "Łukasz", "Núria", "Björn", "Chloé",
    "Siobhán", "Ngọc", "Ayşe", "Ömer", "Inés", "Raúl", "Andrés", "Jürgen", "Emma",
    "Liam", "Olivia", "Noah", "Ava", "Ethan", "Mia", "Lucas", "Sophia", "Mateo",
    "Amara", "Kenji", "Priya", "Wei", "Fatima", "Omar", "Aisha", "Hiroshi", "Yuki",
    "Ingrid", "Tariq", "Leila", "Diego", "Camila", "Thabo", "Arjun", "Ananya",
    "Min-jun", "Seo-yeon", "Kwame", "Elif", "Mateus", "Astrid",
)  # fmt: skip
_LAST_NAMES = (
    "Núñez", "García", "Müller", "Østergaard", "Kowalski", "Dvořák", "Çelik",
    "Nguyễn", "O'Brien", "Smith", "Johnson", "Lee", "Kim", "Patel", "Okafor", "Rossi",
    "Schmidt", "Tanaka", "Dubois", "Fernández", "Petrović", "Haddad", "Andersson",
    "Silva", "Mensah", "Novak", "Yılmaz", "Brown", "Chen", "Singh", "Ivanova",
    "Lefèvre", "Gómez", "Horváth", "Zhang", "Wright", "Jabłoński", "Mbeki", "Sato",
    "da Costa",
)  # fmt: skip
_NICKNAMES = ("Pepe", "Kiki", "Nico", "Coco", "Jojo", "Lulu", "Bibi", "Dede", "Toto")
_PRONOUNS = ("(she/her)", "(he/him)", "(they/them)")
_DEPARTMENTS = (
    "Biology", "Chemistry", "Computer Science", "Mathematics", "Physics", "History",
    "Economics", "Linguistics",
)  # fmt: skip
#: Guests: names that match nobody on a roster built from the pools above.
_GUEST_NAMES = (
    "Sam Lee (TA) (he/him)", "iPhone", "Guest Speaker", "Galaxy S23 Ultra",
    "Parent of Mia", "Library PC 3", "Auditor - Ruth", "Chromebook", "Zoom User",
    "Visiting Prof. Okonkwo",
)  # fmt: skip
_STUDENT_DOMAIN = "students.example.edu"


@dataclass(frozen=True, slots=True)
class Profile:
    """A roster student and how they show up in Zoom (stable for a seed)."""

    student_id: str
    first: str
    last: str
    email: str
    department: str
    aliases: tuple[str, ...]
    #: account | external | name_only | alias_email | alias_name
    style: str
    display: str
    zoom_email: str
    zoom_user_id: str


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def ascii_slug(text: str) -> str:
    """Letters and digits of ``text`` for an e-mail local part ("Núñez" -> "nunez")."""
    folded = _strip_marks(text).translate(str.maketrans("łŁøØıđß", "lLoOids"))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


def _weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def build_roster(n: int, rng: random.Random) -> list[Profile]:
    """``n`` students with distinct normalized names, e-mails and aliases."""
    taken_names: set[str] = set()
    taken_emails: set[str] = set()
    pairs: list[tuple[str, str]] = [("José", "Núñez")]  # always one accented classic
    taken_names |= {normalize_name("José Núñez"), normalize_name("Núñez José")}
    if n > len(_FIRST_NAMES) * len(_LAST_NAMES) // 2:
        raise ValueError(f"at most {MAX_STUDENTS} students")
    while len(pairs) < n:
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        keys = {normalize_name(f"{first} {last}"), normalize_name(f"{last} {first}")}
        if keys & taken_names:
            continue
        taken_names |= keys
        pairs.append((first, last))
    profiles = []
    for index, (first, last) in enumerate(pairs[:n]):
        student_id = f"{2025_0000 + index * 7 + rng.randint(1, 6):08d}"
        email = ""
        if rng.random() < 0.85:
            email = f"{ascii_slug(first)}.{ascii_slug(last)}@{_STUDENT_DOMAIN}"
            while email in taken_emails:
                local = f"{ascii_slug(first)}.{ascii_slug(last)}{rng.randint(2, 99)}"
                email = f"{local}@{_STUDENT_DOMAIN}"
            taken_emails.add(email)
        styles = (
            (("account", 0.45), ("external", 0.15), ("name_only", 0.2))
            + (("alias_email", 0.1), ("alias_name", 0.1))
            if email
            else (("name_only", 0.6), ("alias_email", 0.2), ("alias_name", 0.2))
        )
        style = _weighted(rng, styles)
        personal = ""
        while not personal or personal in taken_emails:
            personal = (
                f"{ascii_slug(first)}{ascii_slug(last)[:1]}{rng.randint(1, 99)}"
                "@gmail.com"
            )
        nickname = ""
        for _ in range(20):
            nickname = f"{rng.choice(_NICKNAMES)} {last}"
            if normalize_name(nickname) not in taken_names:
                break
        else:
            nickname = f"{rng.choice(_NICKNAMES)} {last} {first}"
        aliases: list[str] = []
        if style == "alias_email" or rng.random() < 0.08:
            aliases.append(personal)
            taken_emails.add(personal)
        if style == "alias_name" or rng.random() < 0.08:
            aliases.append(nickname)
            taken_names.add(normalize_name(nickname))
        pronoun = rng.choice(_PRONOUNS)
        display, zoom_email, zoom_user_id = f"{first} {last}", "", ""
        if style == "account":
            zoom_user_id = random_token(rng)
            zoom_email = email if rng.random() < 0.8 else email.title()
            if rng.random() < 0.25:
                display = f"{first} {last} {pronoun}"
        elif style == "external":
            zoom_email = email
            if rng.random() < 0.3:
                display = display.lower()
        elif style == "name_only":
            display = rng.choice(
                (
                    f"{first} {last}",
                    f"{last}, {first}",
                    f"{first} {last} {pronoun}",
                    _strip_marks(f"{first} {last}"),
                )
            )
        elif style == "alias_email":
            zoom_email = personal
            display = rng.choice((first, f"{first} {last[:1]}."))
        else:  # alias_name
            display = nickname if rng.random() < 0.7 else f"{nickname} {pronoun}"
        profiles.append(
            Profile(
                student_id=student_id,
                first=first,
                last=last,
                email=email,
                department=rng.choice(_DEPARTMENTS),
                aliases=tuple(aliases),
                style=style,
                display=display,
                zoom_email=zoom_email,
                zoom_user_id=zoom_user_id,
            )
        )
    return profiles


def pick_guest_names(count: int, roster: Sequence[Profile]) -> list[str]:
    """Guest display names that normalize to nothing on the roster (nor each other)."""
    taken = set()
    for p in roster:
        taken |= {normalize_name(f"{p.first} {p.last}"), normalize_name(p.display)}
        taken |= {normalize_name(a) for a in p.aliases if "@" not in a}
    names: list[str] = []
    candidates = list(_GUEST_NAMES) + [f"Guest {n}" for n in range(1, count + 1)]
    for name in candidates:
        if len(names) == count:
            break
        key = normalize_name(name)
        if key and key not in taken:
            taken.add(key)
            names.append(name)
    return names


def roster_row(p: Profile) -> dict[str, str]:
    """``p`` as a row of the roster CSV (``aliases`` ";"-separated)."""
    return {
        "student_id": p.student_id,
        "first_name": p.first,
        "last_name": p.last,
        "email": p.email,
        "department": p.department,
        "aliases": ";".join(p.aliases),
    }
