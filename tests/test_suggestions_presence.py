"""Guest suggestions that know who is already here (issue 12, item 2).

A guest named like a student already in the meeting is offered as that
student's second device, not as their absent namesake; scores never say 100%
when two students fit; hosts and co-hosts get no suggestion and no fix UI.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from attendance.extensions import db
from attendance.models import Course, Meeting
from attendance.services.accounts import create_instructor
from attendance.services.suggestions import meeting_suggestions
from tests.engine_support import (
    UUID,
    E,
    S,
    ended,
    make_course,
    participant_event,
    session,
    started,
)

PASSWORD = "correct horse battery"
MIN = timedelta(minutes=1)


def _record(pk, first, last, *, here=False):
    """A Record: ``here`` is seen in the meeting (matched by e-mail, Present)."""
    return {
        "student_pk": pk,
        "student_id": f"S{pk}",
        "first_name": first,
        "last_name": last,
        "email": f"s{pk}@uni.edu",
        "status": "Present" if here else "Absent",
        "matched_by": "email" if here else None,
    }


CHLOE_HERE = _record(1, "Chloé", "Dubois", here=True)
CHLOE_ABSENT = _record(2, "Chloe", "Dubois")
DANA = _record(3, "Dana", "Smith")
DANIEL = _record(4, "Daniel", "Smyth")
SAM = _record(5, "Sam", "Leeson")
LEO_HERE = _record(6, "Léo", "Martin", here=True)
LEO_ABSENT = _record(7, "Leo", "Martins")


def _shown(suggestions):
    """(student pk, second device?, percent as the page shows it) of each suggestion."""
    return [(s.student_pk, s.second_device, round(s.score * 100)) for s in suggestions]


@pytest.mark.parametrize(
    ("records", "guest", "expected"),
    [
        pytest.param(
            [CHLOE_HERE, CHLOE_ABSENT, DANA],
            "Chloé Dubois",
            # Her phone, not the other Chloe: who shares the name, so not 100%.
            [(1, True, 67)],
            id="second-device-of-a-present-student",
        ),
        pytest.param(
            [CHLOE_HERE, CHLOE_ABSENT],
            "Dubois, Chloe (iPhone)",
            [(1, True, 67)],
            id="second-device-by-last-first-and-a-trailing-group",
        ),
        pytest.param(
            [CHLOE_HERE, DANA],
            "Chloe Dubois",
            [(1, True, 100)],
            id="second-device-with-no-namesake",
        ),
        pytest.param(
            [_record(1, "Chloé", "Dubois"), CHLOE_ABSENT, DANA],
            "Chloé Dubois",
            [(2, False, 50), (1, False, 50)],
            id="two-students-with-the-same-normalized-name",
        ),
        pytest.param(
            [DANA, DANIEL, CHLOE_ABSENT],
            "Dana Smith",
            # Daniel Smyth fits far less well: Dana keeps 100%, Daniel is doubted.
            [(3, False, 100), (4, False, 36)],
            id="single-exact-fit",
        ),
        pytest.param(
            [LEO_HERE, LEO_ABSENT, DANA],
            "Leo Martins",
            # Léo Martin is here but under another name: no second device.
            [(7, False, 100)],
            id="name-of-an-absent-student-only",
        ),
    ],
)
def test_suggestions_know_who_is_here(records, guest, expected):
    guests = [{"participant_pk": 10, "name": guest, "email": "", "role": "guest"}]
    found = meeting_suggestions(records, guests)
    assert _shown(found[10]) == expected


def test_suggestions_skip_hosts_and_co_hosts():
    """The TA (a co-host) named like a student gets nothing; a guest of that name does."""
    guests = [
        {"participant_pk": pk, "name": "Sam Lee (TA)", "email": "", "role": role}
        for pk, role in ((11, "co-host"), (12, "host"), (13, "guest"))
    ]
    found = meeting_suggestions([SAM, DANA], guests)
    assert found.get(11, []) == [] and found.get(12, []) == []
    assert [s.student_pk for s in found[13]] == [SAM["student_pk"]]


def test_suggestion_scores_are_never_sure_of_a_tie():
    """However many students share the name, none is 100%, and they stay equal."""
    for n in (2, 3, 5):
        pool = [_record(pk, "Ana", "Díaz") for pk in range(20, 20 + n)]
        guests = [{"participant_pk": 12, "name": "Ana Diaz", "email": ""}]
        scores = {s.score for s in meeting_suggestions(pool, guests, limit=n)[12]}
        assert len(scores) == 1 and scores.pop() == pytest.approx(1 / n, abs=1e-3)


# -- the report page -----------------------------------------------------------------

ROSTER = [
    {
        "student_id": "C1",
        "first_name": "Chloé",
        "last_name": "Dubois",
        "email": "chloe.dubois@uni.edu",
    },
    {
        "student_id": "C2",
        "first_name": "Chloe",
        "last_name": "Dubois",
        "email": "cdubois2@uni.edu",
    },
    {
        "student_id": "T1",
        "first_name": "Sam",
        "last_name": "Leeson",
        "email": "sam.leeson@uni.edu",
    },
]


def _card(html: str, name: str) -> str:
    match = re.search(
        rf'<p class="strong guest-name">{re.escape(name)} .*?</article>', html, re.S
    )
    assert match, name
    return match.group(0)


def test_report_offers_a_second_device_and_no_fix_for_a_co_host(app, client, zoom):
    course_id = make_course(app, roster=ROSTER)
    with app.app_context():
        ada = create_instructor("ada@uni.edu", "Ada", PASSWORD)
        course = db.session.get(Course, course_id)
        course.instructors.append(ada)
        db.session.commit()
    events = [started()]
    events += session("Chloé Dubois", S, E, email="chloe.dubois@uni.edu")
    events += session("Chloé Dubois", S + 5 * MIN, E)  # her phone: no e-mail
    events += session("Sam Lee (TA)", S, E, user_id="900")
    events.append(
        participant_event(
            "meeting.participant_role_changed",
            "role",
            S + MIN,
            user_id="900",
            user_name="Sam Lee (TA)",
            participant={"old_role": "attendee", "new_role": "co-host"},
        )
    )
    events.append(ended())
    for event in events:
        assert zoom.post(event).status_code == 200
    with app.app_context():
        meeting_id = db.session.scalar(select(Meeting.id).where(Meeting.uuid == UUID))
    login = client.post("/login", data={"email": "ada@uni.edu", "password": PASSWORD})
    assert login.status_code == 302
    response = client.get(f"/meetings/{meeting_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    chloe = _card(html, "Chloé Dubois")
    assert "A second device of Chloé Dubois" in chloe
    assert "Match to Chloe Dubois" not in chloe and "100%" not in chloe
    assert 'class="match-form"' in chloe

    ta = _card(html, "Sam Lee (TA)")
    assert '<span class="pill cohost">Co-host</span>' in ta
    assert "suggestion" not in ta and 'class="match-form"' not in ta
