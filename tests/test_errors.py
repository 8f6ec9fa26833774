"""The answers to ``attendance.errors``: one body, one handler per class (CONTRACT §3)."""

from __future__ import annotations

import pytest

from attendance import errors
from attendance.errors import ANSWERED, error_body

CASES = [
    (errors.ApiError(403, "forbidden", "admins only"), 403, "forbidden", "admins only"),
    (errors.InvalidSignature("no"), 401, "invalid_signature", "no"),
    (errors.BadPayload("no event"), 400, "bad_request", "no event"),
    (errors.MalformedJSON("not JSON"), 400, "bad_request", "not JSON"),
    (
        errors.StorageUnavailable("driver: database is locked"),
        503,
        "unavailable",
        "event could not be stored; retry later",
    ),
    (errors.NotFound("no such course"), 404, "not_found", "no such course"),
    (errors.ValidationFailed("bad zone"), 422, "invalid", "bad zone"),
    (errors.Conflict("taken"), 409, "conflict", "taken"),
    (errors.InvalidCredentials("wrong"), 401, "invalid_credentials", "wrong"),
    (errors.RateLimited("slow down"), 429, "rate_limited", "slow down"),
]


def _raising(app, path: str, exc: Exception) -> None:
    def view():
        raise exc

    app.add_url_rule(path, path, view)


def test_error_body_is_the_contract_shape():
    assert error_body("not_found", "gone") == {
        "error": {"code": "not_found", "message": "gone"}
    }


def test_every_answered_class_is_covered_here():
    assert {type(exc) for exc, *_ in CASES} == set(ANSWERED)


@pytest.mark.parametrize(("exc", "status", "code", "message"), CASES)
def test_errors_answer_their_status_and_body_under_api(app, exc, status, code, message):
    _raising(app, "/api/v1/raises", exc)
    response = app.test_client().get("/api/v1/raises")
    assert response.status_code == status
    assert response.get_json() == error_body(code, message)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("exc", "status", "code", "message"), CASES)
def test_errors_answer_html_pages_elsewhere(app, exc, status, code, message):
    _raising(app, "/raises", exc)
    response = app.test_client().get("/raises")
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert message.encode() in response.data


def test_an_unanswered_error_is_a_bare_500(app):
    _raising(app, "/api/v1/raises", errors.UnstorableEvent("a NUL in a name"))
    response = app.test_client().get("/api/v1/raises")
    assert response.status_code == 500
    assert response.get_json() == error_body("internal_error", "internal error")
