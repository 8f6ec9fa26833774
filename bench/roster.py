"""Roster import benchmark: a 10,000-row CSV through the real route (issue 4: < 2 s).

    .venv/bin/python bench/roster.py [--rows 10000]

Imports once (all rows new), then again with every row changed (all updates),
through ``POST /api/v1/courses/<id>/students`` with ``text/csv`` on a fresh
SQLite database (or ``--database-url``), and prints both times.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench")


def _csv(rows: int, variant: str) -> bytes:
    lines = ["\ufeffstudent_id,first_name,last_name,email,department,aliases"]
    for n in range(rows):
        lines.append(
            f"S{n:06d},First{n}{variant},Last{n},s{n}@uni.edu,Dept {n % 17},"
            f"alt{n}@gmail.com;Nick {n}{variant}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from attendance import create_app
    from attendance.extensions import db
    from attendance.services.accounts import create_instructor, issue_token

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'roster.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        upgrade()
        token = issue_token(
            # An admin: creating a course is theirs alone (issue 10).
            create_instructor("bench@uni.edu", "Bench", "bench-password", admin=True)
        )
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    course = client.post(
        "/api/v1/courses", json={"code": "BENCH"}, headers=headers
    ).get_json()
    target = f"/api/v1/courses/{course['id']}/students"
    worst = 0.0
    for label, variant in (("create", ""), ("update", "x")):
        body = _csv(args.rows, variant)
        t = time.perf_counter()
        response = client.post(
            target, data=body, headers={**headers, "Content-Type": "text/csv"}
        )
        elapsed = time.perf_counter() - t
        worst = max(worst, elapsed)
        report = response.get_json()
        print(
            f"{label:7s}: {args.rows} rows ({len(body) / 1e6:.1f} MB) in {elapsed:.2f} s: "
            f"created {report['created']}, updated {report['updated']}, "
            f"errors {len(report['errors'])}   target < 2 s: {'ok' if elapsed < 2 else 'MISSED'}"
        )
    return 0 if worst < 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
