"""The Redis message queue's own view of Redis (``attendance.message_queue``), on a real Redis."""

from __future__ import annotations

import time

import redis
import socketio

from attendance import message_queue
from tests.browser import free_port, wait_until
from tests.support import redis_url, require


def _server(url: str):
    """A python-socketio server (threading) whose manager is the resilient queue."""
    name = f"test-{free_port()}"
    manager = message_queue.ResilientRedisManager(url, channel=name)
    # Named, so a test can cut this client alone on a Redis others share.
    manager.redis_options["client_name"] = name
    server = socketio.Server(async_mode="threading", client_manager=manager)
    recovered: list[bool] = []
    controls: list[dict] = []
    manager.on_recovered = recovered.append
    manager.on_control = controls.append
    return server, manager, recovered, controls


def test_message_queue_listener_comes_back_within_seconds_of_a_kill():
    """CLIENT KILL of the listener's connection (what a Redis restart or failover does
    to it): subscribed again within seconds, and the recovery is reported (to this
    process's clients only: nothing was dropped)."""
    require("redis")
    server, manager, recovered, _controls = _server(redis_url())
    manager.initialize()
    wait_until(lambda: manager.state == "ok" and _subscribers(manager), 5)
    admin = redis.Redis.from_url(redis_url())
    try:
        (listener,) = [
            c
            for c in admin.client_list(_type="pubsub")
            if c.get("name") == manager.channel
        ]
        admin.client_kill_filter(_id=listener["id"])
        killed = time.monotonic()
        wait_until(lambda: recovered, 5, "the listener's recovery")
        assert time.monotonic() - killed < 3
        assert recovered == [False]  # nothing was dropped: only local clients resync
        assert manager.state == "ok"
    finally:
        admin.close()


def test_message_queue_control_messages_reach_other_processes():
    require("redis")
    _s1, first, _r1, seen_first = _server(redis_url())
    _s2, second, _r2, seen_second = _server(redis_url())
    second.channel, second.control_channel = first.channel, first.control_channel
    second.initialize()
    wait_until(lambda: _subscribers(second), 5)
    first.publish_control({"kind": "access_changed", "instructor_id": 7})
    wait_until(lambda: seen_second, 5, "the control message in the other process")
    assert seen_second[0]["instructor_id"] == 7
    assert seen_first == [{"kind": "access_changed", "instructor_id": 7}]  # here too


def test_message_queue_unreachable_redis_drops_fast_and_says_degraded(caplog):
    """Nothing listens on the port: emits are dropped with one line each pause, quickly."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    server, manager, _recovered, _controls = _server(url)
    started = time.monotonic()
    for _ in range(50):
        server.emit("participantJoined", {"n": 1})
    assert time.monotonic() - started < 2
    assert manager.state == "degraded" and manager.dropped
    lines = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert 1 <= len(lines) <= 2 and not any(r.exc_info for r in caplog.records)


def _subscribers(manager) -> bool:
    client = redis.Redis.from_url(redis_url())
    try:
        counts = dict(client.pubsub_numsub(manager.channel))
    finally:
        client.close()
    return counts.get(manager.channel.encode(), 0) > 0
