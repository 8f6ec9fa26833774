"""Small text predicates shared by the request parsers."""

from __future__ import annotations


def is_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits: what ``int()`` takes as a number here.

    ``str.isdigit`` also says yes to characters such as "²", which ``int`` rejects:
    a check with it lets such input through to a 500.
    """
    return text.isascii() and text.isdigit()
