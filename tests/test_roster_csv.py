"""Roster CSV reading: broken quoting and NUL bytes are reported, never merged or stored."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from attendance.extensions import db
from attendance.models import Course, Student
from attendance.services.accounts import create_instructor
from attendance.services.roster import RosterFormatError, import_rows, read_csv
from tests.conftest import _truncate, make_test_app

HEADER = "student_id,first_name,last_name,email\n"
PASSWORD = "correct horse battery"


def _import(app, text: str):
    """Read ``text`` as a roster CSV into a fresh course; return (report, students)."""
    with app.app_context():
        course = Course(code="BIO-101", title="Biology")
        db.session.add(course)
        db.session.flush()
        report = import_rows(course, read_csv(text.encode("utf-8")))
        db.session.commit()
        students = {
            s.student_id: s
            for s in db.session.scalars(
                select(Student).where(Student.course_id == course.id)
            )
        }
        return report, students


def test_roster_csv_unbalanced_quote_is_an_error_not_a_merged_row(app):
    text = (
        HEADER
        + "S1,Ana,Díaz,ana@uni.edu\n"
        + 'S2,"Ben,Okafor,ben@uni.edu\n'  # the quote is never closed
        + "S3,Chen,Wei,chen@uni.edu\n"
        + "S4,Dana,Smith,dana@uni.edu\n"
    )
    report, students = _import(app, text)
    assert set(students) == {"S1"}
    assert report.created == 1
    (error,) = report.errors
    assert error["line"] == 3
    assert "quote" in error["message"] and "lines 3-5" in error["message"]


def test_roster_csv_quote_closed_on_a_later_line_is_an_error(app):
    text = (
        HEADER
        + 'S1,"Ana,Díaz,ana@uni.edu\n'
        + 'S2,Ben,"Okafor",ben@uni.edu\n'  # closes S1's quote, then 'O' follows
        + "S3,Chen,Wei,chen@uni.edu\n"
    )
    report, students = _import(app, text)
    assert set(students) == {"S3"}
    (error,) = report.errors
    assert error["line"] == 2 and "lines 2-3" in error["message"]


def test_roster_csv_quoted_newline_in_a_balanced_field_is_rejected(app):
    text = HEADER + 'S1,"Ana\nMaria",Díaz,ana@uni.edu\nS2,Ben,Okafor,ben@uni.edu\n'
    report, students = _import(app, text)
    assert set(students) == {"S2"}
    assert [e["line"] for e in report.errors] == [2]


@pytest.mark.parametrize(
    "line",
    ['S1,"Ana"x,Díaz,ana@uni.edu', 'S1,Ana,"Díaz"-Ruiz,ana@uni.edu'],
)
def test_roster_csv_text_after_a_closing_quote_is_an_error(app, line):
    report, students = _import(app, HEADER + line + "\nS2,Ben,Okafor,ben@uni.edu\n")
    assert set(students) == {"S2"}
    assert [e["line"] for e in report.errors] == [2]


def test_roster_csv_header_with_an_unbalanced_quote_is_a_format_error():
    with pytest.raises(RosterFormatError, match="quote"):
        read_csv('student_id,"first_name,last_name,email\nS1,Ana,D,a@uni.edu\n')


@pytest.mark.parametrize(
    "line",
    [
        "S1,An\x00a,Díaz,ana@uni.edu",
        "S\x001,Ana,Díaz,ana@uni.edu",
        "S1,Ana,Díaz,ana@uni.edu,x\x00;y",
    ],
)
def test_roster_csv_nul_byte_is_rejected_per_line(app, line):
    text = "student_id,first_name,last_name,email,aliases\n" + line + "\n"
    text += "S2,Ben,Okafor,ben@uni.edu,\n"
    report, students = _import(app, text)
    assert set(students) == {"S2"}
    (error,) = report.errors
    assert error["line"] == 2 and "NUL" in error["message"]


def test_roster_rows_with_nul_or_lone_surrogates_are_rejected(app):
    """The API passes JSON rows straight to import_rows: the same checks apply."""
    rows = [
        (1, {"student_id": "S1", "first_name": "A\x00", "last_name": "D"}),
        (2, {"student_id": "S2", "first_name": "Ben\ud800", "last_name": "O"}),
        (3, {"student_id": "S3", "first_name": "C", "aliases": ["ok", "b\x00d"]}),
        (4, {"student_id": "S4", "first_name": "Dana", "last_name": "Smith"}),
    ]
    with app.app_context():
        course = Course(code="BIO-101", title="Biology")
        db.session.add(course)
        db.session.flush()
        report = import_rows(course, rows)
        db.session.commit()
        count = db.session.scalar(select(func.count(Student.id)))
    assert report.created == 1 and count == 1
    assert [e["line"] for e in report.errors] == [1, 2, 3]


# -- the dashboard's upload, with CSRF on as in production ----------------------------


@pytest.fixture
def csrf_app(database_url):
    application = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    yield application
    _truncate(application)


def _token(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _post_file(client, page: str, data: bytes):
    """Upload ``data`` as the roster form of ``page``, with the page's CSRF token.

    The body is encoded here: the test client spools a large multipart body to a
    temporary file that it never closes (a ResourceWarning at collection).
    """
    boundary, body = encode_multipart(
        {
            "csrf_token": _token(client, page),
            "file": FileStorage(io.BytesIO(data), filename="roster.csv"),
        }
    )
    return client.post(
        f"{page}/roster",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_roster_upload_page_accepts_files_over_the_app_wide_limit(csrf_app):
    with csrf_app.app_context():
        ada = create_instructor("ada@uni.edu", "Ada", PASSWORD)
        course = Course(code="BIO-101", title="Biology")
        course.instructors.append(ada)
        db.session.add(course)
        db.session.commit()
        course_id = course.id
    client = csrf_app.test_client()
    signed_in = client.post(
        "/login",
        data={
            "email": "ada@uni.edu",
            "password": PASSWORD,
            "csrf_token": _token(client, "/login"),
        },
    )
    assert signed_in.status_code == 302
    rows = "".join(
        f"S{i},Student{i},Family{i},student{i}@uni.edu\n" for i in range(40_000)
    )
    data = (HEADER + rows).encode()
    assert 1024 * 1024 < len(data) < 8 * 1024 * 1024
    response = _post_file(client, f"/courses/{course_id}", data)
    assert response.status_code == 200, response.status_code
    with csrf_app.app_context():
        assert db.session.scalar(select(func.count(Student.id))) == 40_000
    too_big = _post_file(client, f"/courses/{course_id}", b"x" * (8 * 1024 * 1024))
    assert too_big.status_code == 413
    # Other forms keep the app-wide limit.
    login_too_big = client.post(
        "/login", data={"email": "x" * (1024 * 1024 + 1), "password": "p"}
    )
    assert login_too_big.status_code == 413
