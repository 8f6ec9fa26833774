"""Roster import: upsert students by ``student_id`` with a per-line error report."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update

from attendance.core.matching import normalize_email
from attendance.extensions import db
from attendance.models import Course, Student, StudentAlias
from attendance.models.types import utcnow

#: CONTRACT §3: the header of a roster CSV; department and aliases are optional.
REQUIRED_COLUMNS = ("student_id", "first_name", "last_name", "email")
OPTIONAL_COLUMNS = ("department", "aliases")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX = {
    "student_id": 64,
    "first_name": 120,
    "last_name": 120,
    "email": 254,
    "department": 120,
}


@dataclass
class ImportReport:
    """What an import did: counts, and one entry per rejected line."""

    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "errors": self.errors}


class RosterFormatError(ValueError):
    """The file as a whole cannot be read (no header, wrong columns, not UTF-8)."""


def read_csv(data: bytes | str) -> list[tuple[int, dict[str, Any]]]:
    """Parse a roster CSV (UTF-8, with or without BOM) into (line number, row) pairs.

    :raises RosterFormatError: when the header lacks a required column or names an unknown one.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RosterFormatError("the file is not UTF-8") from exc
    elif data.startswith("\ufeff"):
        data = data[1:]
    reader = csv.DictReader(io.StringIO(data, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not header:
        raise RosterFormatError("the file is empty: expected a header row")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c and c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append("missing column(s): " + ", ".join(missing))
        if unknown:
            problems.append("unknown column(s): " + ", ".join(unknown))
        raise RosterFormatError("; ".join(problems))
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, Any]]] = []
    while True:
        before = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # e.g. a field over csv's size limit; the reader goes on at the next line.
            rows.append((before + 1, {"__error__": f"unreadable: {exc}"}))
            continue
        # csv reports the line the record ended on; a quoted newline spans lines.
        if None in row:
            rows.append((reader.line_num, {"__extra__": True}))
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        rows.append((reader.line_num, row))
    return rows


def _clean(
    line: int, raw: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """Validate one row; return (clean row, None) or (None, message)."""
    if raw.get("__extra__"):
        return None, "more fields than the header has"
    if raw.get("__error__"):
        return None, str(raw["__error__"])
    row: dict[str, Any] = {}
    for key in REQUIRED_COLUMNS + ("department",):
        value = raw.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            return None, f"{key} must be text"
        value = value.strip()
        if len(value) > _MAX[key]:
            return None, f"{key} is longer than {_MAX[key]} characters"
        row[key] = value
    if not row["student_id"]:
        return None, "student_id is empty"
    if not row["first_name"] and not row["last_name"]:
        return None, "first_name and last_name are both empty"
    if row["email"] and not _EMAIL.match(row["email"]):
        return None, f"email {row['email']!r} is not an e-mail address"
    row["email"] = normalize_email(row["email"])
    aliases = raw.get("aliases", "")
    if isinstance(aliases, str):
        aliases = [a.strip() for a in aliases.split(";")]
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        return None, "aliases must be text separated by ';' (or a list of text)"
    cleaned = []
    for alias in aliases:
        alias = alias.strip()
        if not alias:
            continue
        if len(alias) > 254:
            return None, "an alias is longer than 254 characters"
        cleaned.append(normalize_email(alias) if "@" in alias else alias)
    row["aliases"] = list(dict.fromkeys(cleaned))
    return row, None


def import_rows(
    course: Course, rows: Iterable[tuple[int, Mapping[str, Any]]]
) -> ImportReport:
    """Upsert rows into the course roster (the caller commits).

    A bad row is reported with its line and skipped; the good rows are kept. A
    student_id repeated in the file: the later line wins and the earlier is
    reported. Written with set-based statements (10,000 rows in well under 2 s):
    the ORM's unit of work spent seconds on per-object bookkeeping here.
    """
    report = ImportReport()
    clean: dict[str, tuple[int, dict[str, Any]]] = {}
    for line, raw in rows:
        row, error = _clean(line, raw)
        if error:
            report.errors.append({"line": line, "message": error})
            continue
        assert row is not None  # noqa: S101 - _clean returns one or the other
        previous = clean.get(row["student_id"])
        if previous is not None:
            report.errors.append(
                {
                    "line": previous[0],
                    "message": f"student_id {row['student_id']!r} appears again on "
                    f"line {line}; the later line was kept",
                }
            )
        clean[row["student_id"]] = (line, row)
    report.errors.sort(key=lambda e: e["line"])
    if not clean:
        return report
    fields = ("first_name", "last_name", "email", "department")
    existing = {
        sid: (pk, dict(zip(fields, values, strict=True)))
        for pk, sid, *values in db.session.execute(
            select(
                Student.id, Student.student_id, *(getattr(Student, f) for f in fields)
            ).where(Student.course_id == course.id)
        )
    }
    new_rows = [
        {
            "course_id": course.id,
            "student_id": sid,
            "created_at": utcnow(),
            **{f: row[f] for f in fields},
        }
        for sid, (_line, row) in clean.items()
        if sid not in existing
    ]
    ids = {sid: pk for sid, (pk, _values) in existing.items()}
    if new_rows:
        inserted = db.session.execute(
            insert(Student).returning(Student.id, Student.student_id), new_rows
        )
        ids.update({sid: pk for pk, sid in inserted})
    report.created = len(new_rows)
    changed = [
        {"id": existing[sid][0], **{f: row[f] for f in fields}}
        for sid, (_line, row) in clean.items()
        if sid in existing and existing[sid][1] != {f: row[f] for f in fields}
    ]
    if changed:
        db.session.execute(update(Student), changed)
    report.updated = len(clean) - len(new_rows)
    _set_aliases({ids[sid]: row["aliases"] for sid, (_line, row) in clean.items()})
    db.session.expire_all()
    # Roster caches (matching, the live room) key on this stamp. A fresh random
    # value, not +1: a rolled-back import's stamp must never come back.
    db.session.execute(
        update(Course)
        .where(Course.id == course.id)
        .values(roster_version=secrets.randbelow(2**31 - 1) + 1)
        .execution_options(synchronize_session=False)
    )
    return report


def _set_aliases(wanted: dict[int, list[str]]) -> None:
    """Make each student's aliases exactly ``wanted[student]`` (deletes, then inserts)."""
    have: dict[int, dict[str, int]] = {}
    for pk, student_pk, value in db.session.execute(
        select(StudentAlias.id, StudentAlias.student_id, StudentAlias.value).where(
            StudentAlias.student_id.in_(list(wanted))
        )
    ):
        have.setdefault(student_pk, {})[value] = pk
    gone = [
        pk
        for student_pk, values in have.items()
        for value, pk in values.items()
        if value not in wanted[student_pk]
    ]
    if gone:
        db.session.execute(delete(StudentAlias).where(StudentAlias.id.in_(gone)))
    new = [
        {"student_id": student_pk, "value": value}
        for student_pk, values in wanted.items()
        for value in values
        if value not in have.get(student_pk, {})
    ]
    if new:
        db.session.execute(insert(StudentAlias), new)
