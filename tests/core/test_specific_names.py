"""Which display names may be remembered (CONTRACT §5.7), and the manual step's e-mail key."""

from __future__ import annotations

import pytest

from attendance.core.matching import DEVICE_WORDS, Roster, is_specific_name
from attendance.core.model import IdentityLink, LinkKind, LinkSource, MatchedBy
from tests.core.builders import student

#: CONTRACT §5.7's list of device and placeholder words, as written there.
CONTRACT_WORDS = (
    "iphone ipad android galaxy samsung pixel phone mobile tablet laptop macbook "
    "desktop pc computer zoom user guest participant student host admin unknown "
    "teacher room my"
).split()


def test_is_specific_name_knows_the_contracts_words() -> None:
    assert DEVICE_WORDS == frozenset(CONTRACT_WORDS)


@pytest.mark.parametrize(
    ("name", "specific"),
    [
        # Two words of two or more letters: the smallest specific name.
        ("Ana Díaz", True),
        ("Al Bo", True),
        ("A Bo", False),  # one word of one letter
        ("Ana D.", False),
        ("Ana", False),  # one word
        ("", False),
        ("   ", False),
        ("Ana Maria D", True),  # two words qualify; a third initial is fine
        ("Chloé Dubois", True),
        ("CHLOE DUBOIS", True),
        ("Ana-Maria", True),  # punctuation splits words
        # Pronouns and labels in trailing groups are not part of the name.
        ("Sam Lee (he/him)", True),
        ("Sam Lee [TA] (he/him)", True),
        ("Sam Lee (iPhone)", True),
        ("Sam (iPhone) Lee", False),  # not trailing: the device word stays
        # Device and placeholder words, whole words only.
        ("iPhone", False),
        ("Ana's iPhone", False),
        ("Ana Diaz iPhone", False),
        ("Galaxy S21", False),
        ("Zoom user", False),
        ("Unknown Participant", False),
        ("My Laptop", False),
        ("Teacher Room", False),
        ("DESKTOP-4KJ2H", False),
        ("Ｉｐｈｏｎｅ Ana Diaz", False),  # fullwidth folds to "iphone"
        ("Myles Roomer", True),  # "my" and "room" inside a word do not count
        ("Pcara Hostetler", True),
        # A word of digits makes it a label, however many names are around it.
        ("Ana Diaz 2", False),
        ("Zoom user 7", False),
        ("Ana Díaz ²", False),  # NFKD: "²" is the digit 2
        ("@SUM(1+1)", False),
        # Letters and digits mixed are neither a name word nor a number.
        ("Ana Diaz2", False),
        ("r2d2 Skywalker", False),
        ("Ana Diaz r2d2", True),
        # Scripts without case or spaces: words are what spaces separate.
        ("王小明 李小龙", True),
        ("李 小龙", False),
        ("王小明", False),
    ],
)
def test_is_specific_name(name: str, specific: bool) -> None:
    assert is_specific_name(name) is specific


@pytest.mark.parametrize("word", CONTRACT_WORDS)
def test_every_device_word_makes_a_name_generic(word: str) -> None:
    assert is_specific_name("Ana Diaz") and not is_specific_name(f"Ana Diaz {word}")
    assert not is_specific_name(f"{word.upper()} Ana Diaz")


ANA = student(1, "Ana", "Diaz", "ana@uni.edu")
BEN = student(2, "Ben", "Okafor", "ben@uni.edu")


@pytest.mark.parametrize(
    ("links", "email", "expected"),
    [
        pytest.param(
            [IdentityLink(LinkKind.EMAIL, "Dana.Home@Mail.com ", 2, LinkSource.MANUAL)],
            " dana.home@mail.COM",
            (2, MatchedBy.MANUAL),
            id="manual-email-normalized",
        ),
        pytest.param(
            [IdentityLink(LinkKind.EMAIL, "dana.home@mail.com", 2, LinkSource.LEARNED)],
            "dana.home@mail.com",
            (None, None),
            id="learned-email-is-no-step",
        ),
        pytest.param(
            [
                IdentityLink(LinkKind.EMAIL, "x@mail.com", 1, LinkSource.MANUAL),
                IdentityLink(LinkKind.NAME, "Kitchen Table", 2, LinkSource.MANUAL),
            ],
            "x@mail.com",
            (None, None),  # the step points to two students: no hit
            id="manual-email-and-name-disagree",
        ),
        pytest.param(
            [IdentityLink(LinkKind.EMAIL, "ana@uni.edu", 2, LinkSource.MANUAL)],
            "ana@uni.edu",
            (1, MatchedBy.EMAIL),  # the roster's e-mail step comes first
            id="email-step-first",
        ),
    ],
)
def test_manual_step_matches_a_remembered_email(links, email, expected) -> None:
    roster = Roster([ANA, BEN], links)
    assert roster.match("Kitchen Table", email) == expected
