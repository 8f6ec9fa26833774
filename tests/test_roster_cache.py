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


def test_a_live_view_reads_the_roster_stamp_once(app, zoom):
    """The live room's view and the computation under it share one roster lookup."""
    from datetime import timedelta

    from sqlalchemy import event, select

    from attendance.models import Meeting
    from attendance.services.live import live_view
    from tests.engine_support import UUID, S, session, started

    make_course(app)
    zoom.post(started())
    for body in session(
        "Ana Lima", S + timedelta(minutes=1), None, email="ana@uni.edu"
    ):
        zoom.post(body)
    stamps: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.startswith("SELECT courses.roster_version"):
            stamps.append(statement)

    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.uuid == UUID))
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            view = live_view(meeting)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        names = [p["name"] for p in view.snapshot()["participants"]]
    assert names == ["Ana Lima"]
    assert len(stamps) == 1
