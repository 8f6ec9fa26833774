"""Instructor accounts: creation, sign-in with a rate limit, sign-out, and API tokens.

Whatever takes access away (a sign-out, a new password, lost admin rights, a
revoked token, a deleted account) commits, then sends ``access_changed`` so live
connections are re-checked: after the commit, so a listener reads the new state.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from attendance.core.matching import normalize_email
from attendance.database import begin_write
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
from attendance.signals import access_changed

log = logging.getLogger(__name__)

#: CONTRACT issue 4: 5 failures per minute, per account and per address.
MAX_FAILURES = 5
WINDOW = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 8
#: Tokens read ``att_<random>``; the prefix tells them apart in logs and the dashboard.
TOKEN_PREFIX = "att_"  # noqa: S105 - a label, not a secret
#: ``db.session.info`` key: the uses ``token_owner`` noted (token id -> when).
_USED_TOKENS = "attendance.used_tokens"


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


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters"
        )


def set_password(instructor: Instructor, password: str) -> None:
    """:raises ValidationFailed: when the password is too short."""
    _check_password(password)
    instructor.set_password(password)


def _end_sessions(instructor: Instructor) -> None:
    """Bump the auth version: every session and remember-me cookie carrying the old
    one stops working (``Instructor.get_id``). Incremented in SQL, so two bumps at
    once never land on the same value."""
    instructor.auth_version = Instructor.auth_version + 1


def _announce(instructor_id: int) -> None:
    """Send ``access_changed`` (after the commit); a failing listener is logged, not
    raised: the change is made, and the caller's answer must say so."""
    try:
        access_changed.send(instructor_id=instructor_id)
    except Exception:
        log.exception(
            "an access_changed listener failed for instructor %s", instructor_id
        )


def update_instructor(
    instructor: Instructor,
    *,
    name: str | None = None,
    password: str | None = None,
    admin: bool | None = None,
) -> None:
    """Change what is given and commit.

    A new password also ends the instructor's sessions and revokes their tokens;
    that and losing admin rights are announced (``access_changed``).

    :raises ValidationFailed: when the password is too short (nothing is changed).
    """
    if password is not None:
        _check_password(password)
    loses_access = password is not None or (
        admin is not None and not admin and instructor.is_admin
    )
    if name is not None:
        instructor.name = name.strip()[:200]
    if admin is not None:
        instructor.is_admin = admin
    if password is not None:
        instructor.set_password(password)
        _end_sessions(instructor)
        for row in live_tokens(instructor):
            row.revoked_at = utcnow()
    instructor_id = instructor.id
    db.session.commit()
    if loses_access:
        _announce(instructor_id)


def delete_instructor(actor: Instructor, instructor: Instructor) -> None:
    """Remove an account (its tokens and course assignments go with it); commits.

    :raises Conflict: when admins would delete themselves (no one left to sign in).
    """
    if actor.id == instructor.id:
        raise Conflict("you cannot delete your own account")
    instructor_id = instructor.id
    db.session.delete(instructor)
    db.session.commit()
    _announce(instructor_id)


def sign_out(instructor: Instructor) -> None:
    """End every session and remember-me cookie of ``instructor``; commits.

    All of them, not only the caller's: a session cookie copied from the browser
    would otherwise keep working after its owner signed out.
    """
    _end_sessions(instructor)
    instructor_id = instructor.id
    db.session.commit()
    _announce(instructor_id)


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

    Each attempt is recorded as a failure *before* the limit is read, and only an
    attempt that finds itself among the first MAX_FAILURES goes on to check the
    password. Committed first, read after: whatever the interleaving of processes
    or greenlets, the n-th attempt sees at least n rows (READ COMMITTED is enough,
    and no lock is held while the password hash is computed), so no more than
    MAX_FAILURES wrong passwords are ever checked per WINDOW. A right password and
    a refused attempt take their row back.

    :raises RateLimited: after MAX_FAILURES failures in WINDOW for the account or address.
    :raises InvalidCredentials: on a wrong e-mail or password.
    """
    email = normalize_email(email)[:254]
    address = address[:64]
    now = utcnow()
    attempt = LoginFailure(email=email, address=address, at=now)
    db.session.add(attempt)
    db.session.flush()
    attempt_id = attempt.id
    db.session.commit()
    since = now - WINDOW
    by_email = db.session.execute(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.at > since, LoginFailure.email == email
        )
    ).scalar_one()
    by_address = db.session.execute(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.at > since, LoginFailure.address == address
        )
    ).scalar_one()
    if by_email > MAX_FAILURES or by_address > MAX_FAILURES:
        _forget_attempt(attempt_id)
        raise RateLimited("too many failed sign-ins; try again in a minute")
    instructor = db.session.scalar(select(Instructor).where(Instructor.email == email))
    stored_hash = instructor.password_hash if instructor else None
    # The read transaction ends before the slow hash: nothing is held meanwhile.
    db.session.commit()
    # A hash is checked even for an unknown e-mail, so timing tells nothing.
    valid = (
        check_password_hash(stored_hash, password) if stored_hash else _burn(password)
    )
    if not valid or instructor is None:
        begin_write()
        db.session.execute(
            delete(LoginFailure).where(LoginFailure.at < now - 10 * WINDOW)
        )
        db.session.commit()
        raise InvalidCredentials("wrong e-mail or password")
    _forget_attempt(attempt_id)
    return instructor


def _forget_attempt(attempt_id: int) -> None:
    """Take back an attempt's row: it was refused, or its password was right."""
    # End the read first: on SQLite a read transaction cannot become a write one
    # once another writer has committed (SQLITE_BUSY_SNAPSHOT).
    db.session.commit()
    begin_write()
    db.session.execute(delete(LoginFailure).where(LoginFailure.id == attempt_id))
    db.session.commit()


@functools.cache
def _dummy_hash(method: str | None) -> str:
    """A hash of nothing anyone knows, made once per method, for ``_burn``."""
    if method:
        return generate_password_hash(secrets.token_hex(16), method=method)
    return generate_password_hash(secrets.token_hex(16))


def _burn(password: str) -> bool:
    """Spend a real hash check on an unknown e-mail, so timing does not tell."""
    # The same method as real hashes, so an unknown e-mail costs what a known one does.
    check_password_hash(
        _dummy_hash(current_app.config.get("PASSWORD_HASH_METHOD")), password
    )
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
    """The instructor a bearer token belongs to, unless unknown or revoked.

    A lookup, so it never writes: a use due a new ``last_used_at`` is noted on the
    session, and ``record_token_uses`` writes it once the request is over.
    """
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
        db.session.info.setdefault(_USED_TOKENS, {})[row.id] = now
    return row.instructor


def record_token_uses() -> None:
    """Write the ``last_used_at`` that ``token_owner`` noted on this session; commits.

    For the end of a request: what the request left uncommitted is rolled back
    first (removing the session would drop it too), so this commits the stamps
    and nothing else.
    """
    used = db.session.info.pop(_USED_TOKENS, None)
    if not used:
        return
    db.session.rollback()
    begin_write()
    for token_id, at in used.items():
        db.session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at)
        )
    db.session.commit()


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
    """Revoke one of ``instructor``'s tokens; commits.

    :raises NotFound: when it is not theirs or is revoked already.
    """
    row = db.session.get(ApiToken, token_id)
    if row is None or row.instructor_id != instructor.id or row.revoked_at is not None:
        raise NotFound("no such active token")
    row.revoked_at = utcnow()
    instructor_id = instructor.id
    db.session.commit()
    _announce(instructor_id)
