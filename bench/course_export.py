"""Course export benchmark: a term's CSV through the real route (issue 4: fast, flat memory).

    .venv/bin/python bench/course_export.py [--students 300] [--meetings 45] [--database-url URL]

Fills a fresh SQLite database (or ``--database-url``) with a course of
``--students`` students and ``--meetings`` ended meetings (a record for every
student in every meeting), then streams ``GET /api/v1/courses/<id>/attendance.csv``
in both layouts and the JSON summary, printing the time of each and the peak
Python memory (tracemalloc) while the CSV streams. It does the same at four
times the students, so the figures show whether memory grows with the export.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench")

STATUSES = ("Present", "Present", "Present", "Late", "Left Early", "Absent")


def _fill(app, code: str, students: int, meetings: int) -> int:
    """A course with its students, ended meetings and every record; its id."""
    from attendance.extensions import db
    from attendance.models import AttendanceRecord, Course, Meeting, Student

    start = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)
    with app.app_context():
        course = Course(code=code, title="Bench", timezone="America/Chicago")
        db.session.add(course)
        db.session.flush()
        db.session.execute(
            Student.__table__.insert(),
            [
                {
                    "course_id": course.id,
                    "student_id": f"S{n:05d}",
                    "first_name": f"First{n}",
                    "last_name": f"Last{n % 97}",
                    "email": f"s{n}@uni.edu",
                    "department": "",
                }
                for n in range(students)
            ],
        )
        db.session.execute(
            Meeting.__table__.insert(),
            [
                {
                    "uuid": f"{code}-{m}==",
                    "course_id": course.id,
                    "topic": "Bench",
                    "host_id": "",
                    "timezone": "",
                    "recording_share_url": "",
                    "status": "ended",
                    "start_time": start + timedelta(days=2 * m),
                    "end_time": start + timedelta(days=2 * m, hours=1),
                    "participant_count": students,
                    "events_version": 0,
                    "recording": False,
                }
                for m in range(meetings)
            ],
        )
        student_ids = db.session.scalars(
            Student.__table__.select()
            .with_only_columns(Student.id)
            .where(Student.course_id == course.id)
        ).all()
        meeting_ids = db.session.scalars(
            Meeting.__table__.select()
            .with_only_columns(Meeting.id)
            .where(Meeting.course_id == course.id)
        ).all()
        rows = []
        for i, sid in enumerate(student_ids):
            for j, mid in enumerate(meeting_ids):
                status = STATUSES[(i + j) % len(STATUSES)]
                rows.append(
                    {
                        "meeting_id": mid,
                        "student_id": sid,
                        "status": status,
                        "late": status == "Late",
                        "left_early": status == "Left Early",
                        "attended_seconds": 0 if status == "Absent" else 3000,
                        "attended_percent": 0.0 if status == "Absent" else 83.3,
                        "sessions": 0 if status == "Absent" else 1,
                    }
                )
        db.session.execute(AttendanceRecord.__table__.insert(), rows)
        db.session.commit()
        return course.id


def _read(client, url: str, headers: dict[str, str]) -> int:
    """Read a streamed answer chunk by chunk, as a download does; its size."""
    response = client.get(url, headers=headers, buffered=False)
    assert response.status_code == 200, response.status_code
    size = sum(len(chunk) for chunk in response.response)
    response.close()
    return size


def _stream(client, url: str, headers: dict[str, str]) -> tuple[float, int, int]:
    """(seconds, bytes, peak traced bytes): timed untraced, then read again under tracemalloc."""
    t = time.perf_counter()
    size = _read(client, url, headers)
    elapsed = time.perf_counter() - t
    tracemalloc.start()
    _read(client, url, headers)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, size, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--meetings", type=int, default=45)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from attendance import create_app
    from attendance.extensions import db
    from attendance.services.accounts import create_instructor, issue_token

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'export.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        token = issue_token(
            create_instructor("bench@uni.edu", "Bench", "bench-password", admin=True)
        )
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    slowest = 0.0
    for scale in (1, 4):
        students = args.students * scale
        t = time.perf_counter()
        course = _fill(app, f"B{scale}", students, args.meetings)
        filled = time.perf_counter() - t
        print(
            f"{students} students x {args.meetings} meetings "
            f"({students * args.meetings} records, filled in {filled:.1f} s)"
        )
        base = f"/api/v1/courses/{course}/attendance"
        for label, path in (
            ("summary csv", f"{base}.csv"),
            ("wide csv", f"{base}.csv?layout=wide"),
            ("json", base),
        ):
            elapsed, size, peak = _stream(client, path, headers)
            if scale == 1:
                slowest = max(slowest, elapsed)
            print(
                f"  {label:11s}: {elapsed * 1000:6.0f} ms  {size / 1024:7.0f} KiB  "
                f"peak Python memory {peak / 1024:7.0f} KiB"
            )
    print(
        f"slowest at {args.students} x {args.meetings}: {slowest * 1000:.0f} ms "
        f"(target < 1 s): {'ok' if slowest < 1 else 'MISSED'}"
    )
    return 0 if slowest < 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
