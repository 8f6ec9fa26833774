"""The Redis message queue between server processes, and what it knows about its own health.

python-socketio's ``RedisManager`` shares emits through one Redis channel. Three
things it does not do, done here:

- **Recover fast and say so.** Its listener retried after 1, 2, 4 … 60 s (and
  redis-py retried silently inside it), so after an outage a process heard
  nothing for 10–60 s, and nobody learned that messages had been lost. Here
  redis-py does not retry, the listener reconnects within ``RETRY_MAX_SECONDS``,
  and once it is back it calls ``on_recovered``: the live room then tells every
  dashboard of this process to reload its snapshot.
- **Remember its state** for health (``state``) without a ping per request.
- **Carry control messages** (``publish_control``) on a channel of their own,
  handled by ``on_control`` in every process, this one included: how a loss of
  access in one process disconnects that instructor's sockets in all of them.

An emit published while Redis is down is dropped (one log line, not a
traceback); after the next successful publish or reconnect the process asks
every process's dashboards to reload (``on_recovered`` with ``everywhere``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import socketio
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

#: The listener's wait before reconnecting: doubles from the first to the last.
RETRY_MIN_SECONDS = 0.25
RETRY_MAX_SECONDS = 2.0
#: A connect, or a publish's answer, that takes longer than this: Redis is down.
CONNECT_TIMEOUT_SECONDS = 1.0
SOCKET_TIMEOUT_SECONDS = 2.0
#: After a failed publish, emits are dropped at once for this long instead of each
#: waiting for the timeouts above (an unreachable Redis would stall every emitter).
PUBLISH_PAUSE_SECONDS = 1.0

OK = "ok"
DEGRADED = "degraded"


class ResilientRedisManager(socketio.RedisManager):
    """A ``RedisManager`` that reconnects fast, reports its state, carries control messages."""

    name = "redis"

    def __init__(self, url: str, channel: str = "flask-socketio") -> None:
        super().__init__(
            url,
            channel=channel,
            redis_options={
                # Errors reach our loops at once: redis-py's own retries (with
                # backoff, re-subscribing quietly) hid outages from the listener.
                "retry": Retry(NoBackoff(), 0),
                "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
                # A blocking pub/sub read ignores this (redis-py >= 5); publishes obey it.
                "socket_timeout": SOCKET_TIMEOUT_SECONDS,
                "socket_keepalive": True,
            },
        )
        self.control_channel = f"{channel}.control"
        #: The listener is not subscribed: not yet, or it lost Redis.
        self.listener_down = True
        #: Set once the listener's first attempt to subscribe has ended, either way.
        self.attempted = False
        #: The last publish failed.
        self.publish_down = False
        #: An emit was dropped since Redis was last reachable.
        self.dropped = False
        #: No publish is tried before this ``time.monotonic()`` (see PUBLISH_PAUSE_SECONDS).
        self.paused_until = 0.0
        #: Called with ``everywhere`` once the queue works again after a failure:
        #: False when only this process's listener missed messages, True when
        #: this process dropped emits that others' dashboards should have had.
        self.on_recovered: Callable[[bool], None] | None = None
        #: Called with each control message (a dict), in every process.
        self.on_control: Callable[[dict[str, Any]], None] | None = None

    @property
    def state(self) -> str:
        """``degraded`` while the listener is cut off or the last publish failed, else ``ok``."""
        return DEGRADED if self.listener_down or self.publish_down else OK

    # -- publishing ----------------------------------------------------------------

    def _publish(self, data: Any) -> Any:
        return self._send(self.channel, self.json.dumps(data))

    def publish_control(self, message: dict[str, Any]) -> None:
        """Handle ``message`` here and send it to every other process."""
        if self.on_control is not None:
            self.on_control(message)
        self._send(
            self.control_channel, json.dumps({**message, "host_id": self.host_id})
        )

    def _send(self, channel: str, payload: str) -> Any:
        """Publish; reconnect and try once more; on failure log one line and drop it."""
        if time.monotonic() < self.paused_until:
            self.dropped = True
            return None
        error: Exception | None = None
        for _attempt in range(2):
            try:
                if not self.connected:
                    self._redis_connect()
                result = self.redis.publish(channel, payload)
            except Exception as exc:  # noqa: BLE001 - any failure: Redis is unusable
                self.connected = False
                error = exc
                continue
            self.publish_down = False
            if self.dropped and not self.listener_down:
                # The listener, when it resubscribes, reports the recovery itself.
                self._recovered(everywhere=True)
            return result
        self.publish_down = True
        self.dropped = True
        self.paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
        log.warning("message queue: a message was dropped (%s)", _brief(error))
        return None

    def _recovered(self, *, everywhere: bool) -> None:
        self.dropped = False
        if self.on_recovered is not None:
            try:
                self.on_recovered(everywhere)
            except Exception:  # noqa: BLE001 - never break the listener or an emit
                log.exception("message queue: the recovery handler failed")

    # -- listening -----------------------------------------------------------------

    def _redis_listen_with_retries(self) -> Iterator[dict[str, Any]]:
        """Pub/sub messages of both channels, reconnecting quickly after any failure."""
        delay = RETRY_MIN_SECONDS
        failed = False
        pubsub: Any = None
        while True:
            try:
                self._redis_connect()
                pubsub = self.pubsub
                pubsub.subscribe(self.channel, self.control_channel)
                self.listener_down = False
                self.attempted = True
                self.paused_until = 0.0  # Redis answers: publish again at once
                delay = RETRY_MIN_SECONDS
                if failed:
                    log.warning("message queue: Redis is reachable again")
                if failed or self.dropped:
                    self._recovered(everywhere=self.dropped)
                failed = False
                yield from pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - reconnect whatever broke
                if not failed:
                    log.warning(
                        "message queue: lost Redis (%s); reconnecting", _brief(exc)
                    )
                self.listener_down = True
                self.attempted = True
                failed = True
                self.connected = False
                _close(pubsub)
                pubsub = None
                self.server.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _listen(self) -> Iterator[Any]:
        channel = self.channel.encode("utf-8")
        control = self.control_channel.encode("utf-8")
        for message in self._redis_listen_with_retries():
            if message.get("type") != "message" or "data" not in message:
                continue
            if message["channel"] == channel:
                yield message["data"]
            elif message["channel"] == control:
                self._control(message["data"])

    def _control(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if (
            isinstance(message, dict)
            and message.get("host_id") != self.host_id
            and self.on_control is not None
        ):
            try:
                self.on_control(message)
            except Exception:  # noqa: BLE001 - the listener must keep listening
                log.exception("message queue: a control message failed")


def _close(pubsub: Any) -> None:
    """Close a broken pub/sub connection, ignoring how broken it is."""
    if pubsub is None:
        return
    try:
        pubsub.close()
    except Exception:  # noqa: BLE001,S110 - it is being thrown away
        pass


def _brief(exc: Exception | None) -> str:
    """One line about an error: its type and first line."""
    if exc is None:
        return "unknown error"
    first = (str(exc).splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def install(sio: Any, url: str) -> ResilientRedisManager:
    """Put a ``ResilientRedisManager`` in place of the queue Flask-SocketIO made for ``url``.

    Done before the server's first connection, which is when the manager starts
    listening (python-socketio initializes it lazily).
    """
    old = sio.server.manager
    manager = ResilientRedisManager(
        url, channel=getattr(old, "channel", "flask-socketio")
    )
    manager.set_server(sio.server)
    sio.server.manager = manager
    sio.server.manager_initialized = False
    return manager


#: How long health waits for the listener's first attempt to reach Redis.
FIRST_ATTEMPT_SECONDS = 1.5


def state_of(app: Any) -> str:
    """The message queue as health reports it, from memory (no ping per call).

    ``disabled``: no ``REDIS_URL``; emits reach this process's clients only.
    ``ok``: the listener is subscribed to Redis and the last emit was published
    (or nothing has been published yet).
    ``degraded``: the listener lost Redis and has not resubscribed yet, or the
    last emit could not be published (it was dropped). Webhooks are still stored
    and applied; only live updates between processes are missing, and dashboards
    are told to reload (``resync``) once the queue works again.

    The listener starts with the first client; if none has connected yet, the
    first call starts it and waits (at most FIRST_ATTEMPT_SECONDS) for its first
    attempt to subscribe, so that the answer is known rather than assumed.
    """
    queue = app.extensions.get("attendance.queue")
    if queue is None:
        return "disabled"
    server = queue.server
    if not server.manager_initialized and server.manager is queue:
        server.manager_initialized = True
        queue.initialize()
    deadline = time.monotonic() + FIRST_ATTEMPT_SECONDS
    while not queue.attempted and time.monotonic() < deadline:
        server.sleep(0.02)
    return queue.state
