"""Instructor accounts: creation, sign-in with a rate limit, and API tokens."""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from attendance.core.matching import normalize_email
from attendance.errors import (
    Conflict,
    InvalidCredentials,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from attendance.extensions import db
from attendance.models import ApiToken, Instructor, LoginFailure
from attendance.models.types import utcnow

log = logging.getLogger(__name__)

#: CONTRACT issue 4: 5 failures per minute, per account and per address.
MAX_FAILURES = 5
WINDOW = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 8
#: Tokens read ``att_<random>``; the prefix tells them apart in logs and the dashboard.
TOKEN_PREFIX = "att_"  # noqa: S105 - a label, not a secret


def create_instructor(
    email: str, name: str, password: str, *, admin: bool = False
) -> Instructor:
    """A new instructor (flushes; the caller commits).

    :raises ValidationFailed: on a malformed e-mail or a short password.
    :raises Conflict: when the e-mail is taken.
    """
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise ValidationFailed(f"{email!r} is not an e-mail address")
    if db.session.scalar(select(Instructor.id).where(Instructor.email == email)):
        raise Conflict(f"an instructor {email} exists already")
    instructor = Instructor(email=email, name=name.strip()[:200], is_admin=admin)
    set_password(instructor, password)
    db.session.add(instructor)
    db.session.flush()
    return instructor


def set_password(instructor: Instructor, password: str) -> None:
    """:raises ValidationFailed: when the password is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    instructor.set_password(password)


def update_instructor(
    instructor: Instructor,
    *,
    name: str | None = None,
    password: str | None = None,
    admin: bool | None = None,
) -> None:
    """Change what is given; a new password also revokes the instructor's tokens."""
    if name is not None:
        instructor.name = name.strip()[:200]
    if admin is not None:
        instructor.is_admin = admin
    if password is not None:
        set_password(instructor, password)
        for row in live_tokens(instructor):
            row.revoked_at = utcnow()


def delete_instructor(actor: Instructor, instructor: Instructor) -> None:
    """Remove an account (its tokens and course assignments go with it).

    :raises Conflict: when admins would delete themselves (no one left to sign in).
    """
    if actor.id == instructor.id:
        raise Conflict("you cannot delete your own account")
    db.session.delete(instructor)


def bootstrap_admin(email: str | None, password: str | None) -> Instructor | None:
    """Create the ``ATTENDANCE_ADMIN_*`` admin when no instructor exists yet (commits)."""
    if not email or not password:
        return None
    if db.session.scalar(select(func.count(Instructor.id))):
        return None
    admin = create_instructor(email, "Administrator", password, admin=True)
    db.session.commit()
    log.info("created the first admin instructor")
    return admin


def authenticate(email: str, password: str, address: str) -> Instructor:
    """The instructor with these credentials; failures are counted (commits them).

    :raises RateLimited: after MAX_FAILURES failures in WINDOW for the account or address.
    :raises InvalidCredentials: on a wrong e-mail or password.
    """
    email = normalize_email(email)
    now = utcnow()
    since = now - WINDOW
    by_email = db.session.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.at > since, LoginFailure.email == email
        )
    )
    by_address = db.session.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.at > since, LoginFailure.address == address
        )
    )
    if by_email >= MAX_FAILURES or by_address >= MAX_FAILURES:
        raise RateLimited("too many failed sign-ins; try again in a minute")
    instructor = db.session.scalar(select(Instructor).where(Instructor.email == email))
    # check_password_hash runs even for an unknown e-mail, so timing tells nothing.
    valid = instructor.check_password(password) if instructor else _burn(password)
    if not valid or instructor is None:
        db.session.add(LoginFailure(email=email[:254], address=address[:64], at=now))
        db.session.execute(
            delete(LoginFailure).where(LoginFailure.at < now - 10 * WINDOW)
        )
        db.session.commit()
        raise InvalidCredentials("wrong e-mail or password")
    return instructor


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, made once, for ``_burn``."""
    return generate_password_hash(secrets.token_hex(16))


def _burn(password: str) -> bool:
    """Spend a real hash check on an unknown e-mail, so timing does not tell."""
    check_password_hash(_dummy_hash(), password)
    return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(instructor: Instructor, name: str = "") -> str:
    """A new API token for ``instructor``; the only time its value is ever visible."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            instructor_id=instructor.id,
            token_hash=_digest(token),
            prefix=token[:12],
            name=name.strip()[:100],
        )
    )
    db.session.flush()
    return token


def token_owner(token: str) -> Instructor | None:
    """The instructor a bearer token belongs to, unless unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    now = utcnow()
    # Written at most once a minute: a busy script must not turn reads into writes.
    if row.last_used_at is None or now - row.last_used_at > WINDOW:
        row.last_used_at = now
        db.session.commit()
    return row.instructor


def live_tokens(instructor: Instructor) -> list[ApiToken]:
    """``instructor``'s tokens that still work, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(
                ApiToken.instructor_id == instructor.id,
                ApiToken.revoked_at.is_(None),
            )
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(instructor: Instructor, token_id: int) -> None:
    """Revoke one of ``instructor``'s tokens.

    :raises NotFound: when it is not theirs or is revoked already.
    """
    row = db.session.get(ApiToken, token_id)
    if row is None or row.instructor_id != instructor.id or row.revoked_at is not None:
        raise NotFound("no such active token")
    row.revoked_at = utcnow()
