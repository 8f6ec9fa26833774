"""The per-process roster cache follows every import, committed or rolled back."""

from __future__ import annotations

from attendance.extensions import db
from attendance.models import Course
from attendance.services.meeting_inputs import load_roster
from attendance.services.roster import import_rows
from tests.engine_support import ROSTER, make_course


def _emails(course_id):
    return [s.email for s in load_roster(course_id)]


def test_cache_reuses_and_renews(app):
    course_id = make_course(app)
    with app.app_context():
        first = load_roster(course_id)
        assert load_roster(course_id) is first  # same stamp: the very same list
        course = db.session.get(Course, course_id)
        changed = [dict(ROSTER[0], email="ana.new@uni.edu")]
        import_rows(course, list(enumerate(changed, start=2)))
        db.session.commit()
        assert "ana.new@uni.edu" in _emails(course_id)


def test_a_rolled_back_import_leaves_no_trace(app):
    course_id = make_course(app)
    with app.app_context():
        course = db.session.get(Course, course_id)
        import_rows(course, [(2, dict(ROSTER[0], email="ghost@uni.edu"))])
        assert "ghost@uni.edu" in _emails(course_id)  # seen inside its transaction
        db.session.rollback()
        assert "ghost@uni.edu" not in _emails(course_id)
        assert "ana@uni.edu" in _emails(course_id)
