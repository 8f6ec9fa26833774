"""Heavy work that lets the rest of the server run: paced loops, pure work on a thread.

Under eventlet every request, webhook and Socket.IO message shares one thread,
and code that never does I/O holds all of them: a report of a 2,000-student
course held webhooks for seconds. Two remedies:

- ``paced``/``pause`` for loops that read the database: ``time.sleep(0)`` is
  eventlet's cooperative yield once the server has monkey-patched ``time``
  (app.py), and a harmless GIL release under threading, tests and the CLI;
- ``offload`` for pure computation on plain data (no session, no ORM object:
  SQLAlchemy sessions are not thread-safe): under eventlet it runs on a native
  thread of ``eventlet.tpool``, where the interpreter switches threads every few
  milliseconds, so the event loop keeps serving; elsewhere it simply runs.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: Items between pauses: a few milliseconds of work each for the loops here.
EVERY = 200


def pause() -> None:
    """Let every other ready green thread run before going on."""
    time.sleep(0)


def paced(items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """``items``, pausing after every ``every`` of them."""
    for n, item in enumerate(items, start=1):
        yield item
        if n % every == 0:
            pause()


def _green() -> bool:
    """Whether this process runs under eventlet's monkey patch (the server)."""
    eventlet = sys.modules.get("eventlet")
    return eventlet is not None and eventlet.patcher.is_monkey_patched("thread")


def offload(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` off the event loop when there is one.

    ``function`` must touch neither the database session nor ORM objects, and
    must not pause (a green sleep on a native thread belongs to no hub).
    """
    if _green():
        from eventlet import tpool

        with _short_switches():
            return tpool.execute(function, *args, **kwargs)
    return function(*args, **kwargs)


#: The interpreter's thread switch interval while a native thread computes.
#: Python's default, 5 ms, is how long the event loop can wait for the
#: interpreter lock each time it comes back from I/O: several times per
#: request, which put 40 ms on the intake's p99 during a reconciliation.
OFFLOAD_SWITCH_INTERVAL = 0.0005
_offloads = 0
_default_interval = sys.getswitchinterval()


@contextlib.contextmanager
def _short_switches() -> Iterator[None]:
    """A short switch interval while any offloaded computation runs (loop-side only)."""
    global _offloads
    if _offloads == 0:
        sys.setswitchinterval(OFFLOAD_SWITCH_INTERVAL)
    _offloads += 1
    try:
        yield
    finally:
        _offloads -= 1
        if _offloads == 0:
            sys.setswitchinterval(_default_interval)
