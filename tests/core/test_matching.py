"""Normalizing names and emails, and the five matching steps (CONTRACT §5.4)."""

from __future__ import annotations

import pytest

from attendance.core.matching import Roster, normalize_email, normalize_name
from attendance.core.model import IdentityLink, LinkKind, LinkSource, MatchedBy
from tests.core.builders import student

ZU, REG, NAME = LinkKind.ZOOM_USER, LinkKind.REGISTRANT, LinkKind.NAME
LEARNED, MANUAL = LinkSource.LEARNED, LinkSource.MANUAL


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("ana@x.org", "ana@x.org"),
        ("  Ana.Diaz@X.ORG \t", "ana.diaz@x.org"),
        ("STRASSE@x.org", "strasse@x.org"),
        ("   ", ""),
    ],
)
def test_normalize_email_trims_and_casefolds(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("Ana Díaz", "ana diaz"),  # accents
        ("ANA DIAZ", "ana diaz"),  # case
        ("  Ana    Diaz  ", "ana diaz"),  # spacing
        ("Ana\tDiaz\n", "ana diaz"),
        ("Ana Díaz (she/her)", "ana diaz"),  # pronoun suffix
        ("Sam Lee (TA) (he/him)", "sam lee"),  # every trailing group
        ("Sam Lee [TA] (he/him)", "sam lee"),
        ("Sam Lee (he/him) [iPhone]", "sam lee"),
        ("Sam (Samuel) Lee", "sam samuel lee"),  # only trailing groups go
        ("Bo [x (y)]", "bo"),  # nested
        ("Bo (x", "bo x"),  # unbalanced: punctuation only
        ("(guest)", ""),
        ("O'Neil-Smith, Jr.", "o neil smith jr"),  # punctuation
        ("José_María", "jose maria"),
        ("Nguyễn Văn A", "nguyen van a"),
        ("Straße", "strasse"),
        ("İrem Çelik", "irem celik"),  # casefold's combining dot is dropped too
        ("Ｊｏｈｎ　Ｄｏｅ（ＴＡ）", "john doe"),  # fullwidth (NFKD)
        ("Zoë 2", "zoe 2"),  # digits stay
        ("李 小龙", "李 小龙"),
        ("👩‍💻 Ana", "ana"),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


ANA = student(1, "Ana", "Díaz", "ana@uni.edu", alias_emails=("ana.d@gmail.com",))
SAM = student(2, "Sam", "Lee", "sam@uni.edu", alias_names=("Sammy L",))
# Two students that share a name: name-based steps must fall through.
KIM1 = student(3, "Kim", "Park", "kim1@uni.edu")
KIM2 = student(4, "Kim", "Park", "kim2@uni.edu", alias_emails=("KIM@home.org",))
LEA = student(
    5, "Lea", "Kim", "", alias_emails=("kim@home.org",), alias_names=("Kim Park",)
)
ROSTER = [ANA, SAM, KIM1, KIM2, LEA]
LINKS = [
    IdentityLink(ZU, "zu-ana", 1, LEARNED),
    IdentityLink(REG, "reg-sam", 2, LEARNED),
    IdentityLink(ZU, "zu-shared", 3, LEARNED),
    IdentityLink(ZU, "zu-shared", 4, LEARNED),
    IdentityLink(ZU, "zu-gone", 99, LEARNED),  # student no longer on the roster
    IdentityLink(NAME, "Learned Name", 2, LEARNED),  # learned names are not a step
    IdentityLink(NAME, "  Dr. SAMUEL  Lee (he/him)", 2, MANUAL),
    IdentityLink(ZU, "zu-manual", 5, MANUAL),
    IdentityLink(REG, "reg-manual", 1, MANUAL),
    IdentityLink(ZU, "zu-ana", 5, MANUAL),  # loses to the learned step
]


@pytest.mark.parametrize(
    ("name", "email", "zoom_user_ids", "registrant_ids", "expected"),
    [
        pytest.param("x", "ana@uni.edu", (), (), (1, MatchedBy.EMAIL), id="email"),
        pytest.param(
            "x", " ANA@Uni.Edu ", (), (), (1, MatchedBy.EMAIL), id="email-normalized"
        ),
        pytest.param(
            "Sam Lee", "ana@uni.edu", (), (), (1, MatchedBy.EMAIL), id="email-first"
        ),
        pytest.param(
            "x", "ana.d@gmail.com", (), (), (1, MatchedBy.ALIAS), id="alias-email"
        ),
        pytest.param("SAMMY  l.", "", (), (), (2, MatchedBy.ALIAS), id="alias-name"),
        pytest.param(
            "x",
            "kim@home.org",
            (),
            (),
            (None, None),
            id="alias-email-ambiguous-no-fallback",
        ),
        pytest.param(
            "Ana Diaz",
            "kim@home.org",
            (),
            (),
            (1, MatchedBy.NAME),
            id="alias-ambiguous-to-name",
        ),
        pytest.param(
            "Sammy L",
            "ana.d@gmail.com",
            (),
            (),
            (None, None),
            id="alias-combined-ambiguous",
        ),
        pytest.param(
            "x", "", ("zu-ana",), (), (1, MatchedBy.ZOOM_USER), id="learned-zoom-user"
        ),
        pytest.param(
            "x", "", (), ("reg-sam",), (2, MatchedBy.ZOOM_USER), id="learned-registrant"
        ),
        pytest.param(
            "x",
            "",
            ("zu-ana",),
            ("reg-sam",),
            (5, MatchedBy.MANUAL),
            id="learned-ambiguous-to-manual",
        ),
        pytest.param(
            "Ana Díaz",
            "",
            ("zu-shared",),
            (),
            (1, MatchedBy.NAME),
            id="learned-ambiguous-to-name",
        ),
        pytest.param(
            "x", "", ("zu-gone",), (), (None, None), id="link-to-unknown-student"
        ),
        pytest.param(
            "Learned Name", "", (), (), (None, None), id="learned-name-ignored"
        ),
        pytest.param(
            "dr samuel lee",
            "",
            (),
            (),
            (2, MatchedBy.MANUAL),
            id="manual-name-normalized",
        ),
        pytest.param(
            "x", "", ("zu-manual",), (), (5, MatchedBy.MANUAL), id="manual-zoom-user"
        ),
        pytest.param(
            "x", "", (), ("reg-manual",), (1, MatchedBy.MANUAL), id="manual-registrant"
        ),
        pytest.param(
            "x",
            "",
            ("zu-manual",),
            ("reg-manual",),
            (None, None),
            id="manual-ambiguous",
        ),
        pytest.param(
            "Ana Díaz (she/her)", "", (), (), (1, MatchedBy.NAME), id="name-first-last"
        ),
        pytest.param("lee, sam", "", (), (), (2, MatchedBy.NAME), id="name-last-first"),
        pytest.param(
            "Kim Park", "", (), (), (5, MatchedBy.ALIAS), id="alias-beats-name"
        ),
        pytest.param("Park Kim", "", (), (), (None, None), id="name-ambiguous"),
        pytest.param("Ana", "", (), (), (None, None), id="partial-name"),
        pytest.param("", "", ("",), ("",), (None, None), id="nothing"),
        pytest.param("(guest)", "", (), (), (None, None), id="empty-normalized-name"),
    ],
)
def test_roster_match_steps(
    name: str,
    email: str,
    zoom_user_ids: tuple[str, ...],
    registrant_ids: tuple[str, ...],
    expected: tuple[int | None, MatchedBy | None],
) -> None:
    assert (
        Roster(ROSTER, LINKS).match(name, email, zoom_user_ids, registrant_ids)
        == expected
    )


def test_roster_match_students_without_email_match_no_empty_email() -> None:
    roster = Roster([student(1, "A", "B"), student(2, "C", "D")])
    assert roster.match("x", "", (), ()) == (None, None)


def test_roster_match_empty_roster() -> None:
    assert Roster([]).match("Ana Diaz", "ana@uni.edu", ("z",), ("r",)) == (None, None)
