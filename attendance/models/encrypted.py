"""A text column encrypted at rest with the app's Fernet keys (ATTENDANCE_ENCRYPTION_KEY)."""

from __future__ import annotations

import functools
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def cipher_for(keys: tuple[str, ...]) -> MultiFernet:
    """The MultiFernet of ``keys``: the first encrypts, each of them decrypts."""
    return MultiFernet([Fernet(k) for k in keys])


def app_cipher() -> MultiFernet:
    """The current app's cipher (config ``ENCRYPTION_KEYS``, checked at start)."""
    return cipher_for(tuple(current_app.config["ENCRYPTION_KEYS"]))


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token; Python sees the plain text.

    A value that no configured key opens (the key changed and the old one was
    not kept) reads as None, with a warning: no secret, so a webhook URL refuses
    every request and a connection has no credentials, rather than every page
    that loads the connection failing. ``flask keys rotate`` reads the stored
    tokens raw and stays strict.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return app_cipher().encrypt(str(value).encode("utf-8")).decode("ascii")

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        try:
            return app_cipher().decrypt(value.encode("ascii")).decode("utf-8")
        except InvalidToken:
            log.warning(
                "a stored secret cannot be decrypted with ATTENDANCE_ENCRYPTION_KEY: "
                "enter it again (or put the old key back, after the new one)"
            )
            return None
