"""``/api/v1/tokens``: exchange credentials for an API token, list and revoke the caller's."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from attendance.api import schemas as s
from attendance.api.blueprint import ID, bp
from attendance.api.openapi import endpoint
from attendance.auth import api_login_required
from attendance.extensions import db
from attendance.models import ApiToken, Instructor
from attendance.models.types import iso
from attendance.services.accounts import (
    authenticate,
    issue_token,
    live_tokens,
    revoke_token,
)


def token_json(token: ApiToken) -> dict[str, Any]:
    """A token as the caller may see it: never its value."""
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
    }


@bp.post("/tokens")
@endpoint(
    "tokens",
    (201, s.Token, "The new token."),
    json=s.TokenRequest,
    errors=[(401, "Wrong e-mail or password."), 429],
    public=True,
)
def create_token(json: s.TokenRequest):
    """Exchange an instructor's e-mail and password for an API token."""
    # RateLimited (429) and InvalidCredentials (401) answer themselves.
    instructor = authenticate(json.email, json.password, request.remote_addr or "?")
    token = issue_token(instructor, json.name or "api")
    db.session.commit()
    return jsonify({"token": token}), 201


def _caller() -> Instructor:
    return db.session.get(Instructor, current_user.id)


@bp.get("/tokens")
@api_login_required
@endpoint("tokens", (200, list[s.TokenInfo], "The tokens."))
def list_tokens():
    """The caller's tokens that still work (never their values)."""
    return jsonify([token_json(t) for t in live_tokens(_caller())])


@bp.delete(f"/tokens/<{ID}:token_id>")
@api_login_required
@endpoint("tokens", 204, errors=[(404, "No such token of the caller's.")])
def delete_token(token_id: int):
    """Revoke one of the caller's tokens."""
    revoke_token(_caller(), token_id)
    db.session.commit()
    return "", 204
