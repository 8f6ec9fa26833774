"""Sending a class's webhooks: signed, paced along their timeline, retried like Zoom.

``deliver`` sends from one process (in order, or from a thread pool when the
server must not care about order); ``deliver_parallel`` deals the payloads to
several processes for a load test of the intake.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from attendance.simulator.payloads import encode, signed_headers

#: What ``send`` returns: the HTTP status, or (status, decoded JSON answer or None).
SendResult = int | tuple[int, Any]
Send = Callable[[bytes, dict[str, str]], SendResult]


@dataclass(slots=True)
class DeliveryReport:
    """What ``deliver`` did: every answer by HTTP status and by the JSON ``status``."""

    #: Payloads delivered (each once, however many attempts it took).
    sent: int = 0
    attempts: int = 0
    #: Attempts beyond the first (after a non-2xx answer).
    retried: int = 0
    #: Payloads that never got a 2xx answer.
    failed: int = 0
    #: Every answer, retried ones included.
    by_http: Counter[int] = field(default_factory=Counter)
    #: The ``status`` of 2xx answers ("processed", "duplicate", "ignored", "queued").
    by_status: Counter[str] = field(default_factory=Counter)


def _own_seconds(payload: Mapping[str, Any]) -> float | None:
    ts = payload.get("event_ts")
    return (
        ts / 1000 if isinstance(ts, int | float) and not isinstance(ts, bool) else None
    )


def _schedule(
    payloads: Sequence[Mapping[str, Any]], speed: float, start: datetime | None
) -> list[float]:
    """Wall-clock offsets (s) of each delivery: the timeline compressed ``speed`` times.

    A delivery goes out at the latest own time seen so far in delivery order, so an
    event moved later is sent late (with its new neighbours), not put back in place.
    """
    if speed <= 0:
        return [0.0] * len(payloads)
    own = [_own_seconds(p) for p in payloads]
    known = [s for s in own if s is not None]
    origin = start.timestamp() if start is not None else min(known, default=0.0)
    offsets, latest = [], origin
    for seconds in own:
        if seconds is not None:
            latest = max(latest, seconds)
        offsets.append((latest - origin) / speed)
    return offsets


def _answer(result: SendResult) -> tuple[int, str | None]:
    """(HTTP status, JSON ``status`` or None) from what ``send`` returned."""
    if isinstance(result, tuple):
        code, body = result
        word = body.get("status") if isinstance(body, Mapping) else None
        return int(code), word if isinstance(word, str) else None
    return int(result), None


def deliver(
    payloads: Sequence[Mapping[str, Any]],
    send: Send,
    *,
    secret: str,
    speed: float = 0.0,
    start: datetime | None = None,
    concurrency: int = 1,
    on_progress: Callable[[int], Any] | None = None,
    retries: int = 3,
    backoff: float = 0.5,
) -> DeliveryReport:
    """Sign and send each payload, paced along its own timeline; count the answers.

    ``send(body, headers)`` returns the HTTP status, or (status, decoded JSON).
    ``speed`` 0 sends as fast as possible; k compresses the timeline from ``start``
    (default: the first event) k times. A non-2xx answer is re-sent up to
    ``retries`` times with exponential backoff, freshly signed each time, as Zoom
    retries (ZOOM.md §2). With ``concurrency`` > 1 a thread pool sends; the server
    must not care about the order. ``on_progress(1)`` is called per payload done.
    Exceptions from ``send`` (say, the server went away) propagate.
    """
    report = DeliveryReport()
    lock = threading.Lock()

    def one(payload: Mapping[str, Any]) -> None:
        body = encode(payload)
        for attempt in range(retries + 1):
            code, word = _answer(send(body, signed_headers(body, secret)))
            with lock:
                report.attempts += 1
                report.retried += attempt > 0
                report.by_http[code] += 1
                if 200 <= code < 300:
                    report.by_status[word or "ok"] += 1
            if 200 <= code < 300:
                break
            if attempt < retries:
                time.sleep(backoff * 2**attempt)
        else:
            with lock:
                report.failed += 1
        with lock:
            report.sent += 1
            if on_progress is not None:
                on_progress(1)

    offsets = _schedule(payloads, speed, start)
    began = time.monotonic()

    def wait(offset: float) -> None:
        delay = began + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    if concurrency <= 1:
        for payload, offset in zip(payloads, offsets, strict=True):
            wait(offset)
            one(payload)
        return report
    if speed == 0:
        return _deliver_unpaced(payloads, one, concurrency, report)
    # At most two payloads per worker in flight: memory stays flat and a failed
    # send is noticed within a few deliveries, not at the end.
    slots = threading.BoundedSemaphore(concurrency * 2)
    pending: set[Future[None]] = set()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="simulate")
    try:
        for payload, offset in zip(payloads, offsets, strict=True):
            wait(offset)
            slots.acquire()
            finished = {f for f in pending if f.done()}
            pending -= finished
            for future in finished:
                future.result()  # re-raises what the send raised
            future = pool.submit(one, payload)
            future.add_done_callback(lambda _: slots.release())
            pending.add(future)
        for future in pending:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return report


def _deliver_unpaced(
    payloads: Sequence[Mapping[str, Any]],
    one: Callable[[Mapping[str, Any]], None],
    concurrency: int,
    report: DeliveryReport,
) -> DeliveryReport:
    """As fast as possible: worker threads pull from one queue (no per-payload Future).

    The first exception stops every worker and is raised here.
    """
    work: queue.SimpleQueue[Mapping[str, Any]] = queue.SimpleQueue()
    for payload in payloads:
        work.put(payload)
    errors: list[BaseException] = []

    def worker() -> None:
        while not errors:
            try:
                payload = work.get_nowait()
            except queue.Empty:
                return
            try:
                one(payload)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
                errors.append(exc)
                return

    threads = [
        threading.Thread(target=worker, name=f"simulate-{n}", daemon=True)
        for n in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return report


class Transport(Protocol):
    """What ``deliver_parallel`` needs of an HTTP transport."""

    def send(self, body: bytes, headers: dict[str, str]) -> Any: ...

    def close(self) -> None: ...


def _deliver_part(
    make_transport: Callable[[], Transport],
    payloads: Sequence[Mapping[str, Any]],
    secret: str,
    concurrency: int,
    done: Any,
) -> DeliveryReport:
    """One process's share: its own transport, its own thread pool."""
    transport = make_transport()
    try:

        def progress(n: int) -> None:
            with done.get_lock():
                done.value += n

        return deliver(
            payloads,
            transport.send,
            secret=secret,
            concurrency=concurrency,
            on_progress=progress,
        )
    finally:
        transport.close()


def deliver_parallel(
    payloads: Sequence[Mapping[str, Any]],
    make_transport: Callable[[], Transport],
    *,
    secret: str,
    concurrency: int = 8,
    processes: int = 1,
    on_progress: Callable[[int], Any] | None = None,
) -> DeliveryReport:
    """Deliver as fast as possible from ``processes`` processes of ``concurrency`` threads.

    One Python process tops out around 1,000-1,500 requests/s (the GIL); a load
    test of the intake needs more. Payloads are dealt round-robin (the server does
    not care about order); the reports are summed. Linux (fork) only when
    ``processes`` > 1.
    """
    ctx = multiprocessing.get_context("fork")
    done = ctx.Value("i", 0)
    if processes <= 1:
        report = _deliver_part(make_transport, payloads, secret, concurrency, done)
        if on_progress is not None:
            on_progress(done.value)
        return report
    shares = [list(payloads[i::processes]) for i in range(processes)]
    results = ctx.Queue()

    def run(share: list[Mapping[str, Any]]) -> None:
        # Forked: inherits make_transport and the payloads, nothing is pickled
        # but the report that comes back.
        try:
            results.put(_deliver_part(make_transport, share, secret, concurrency, done))
        except BaseException as exc:  # noqa: BLE001 - handed to the parent
            results.put(exc)

    workers = [ctx.Process(target=run, args=(share,), daemon=True) for share in shares]
    for worker in workers:
        worker.start()
    parts: list[DeliveryReport] = []
    reported = 0
    try:
        while len(parts) < len(workers):
            try:
                part = results.get(timeout=0.1)
            except queue.Empty:
                if not any(w.is_alive() for w in workers) and results.empty():
                    raise RuntimeError("a delivery process died") from None
            else:
                if isinstance(part, BaseException):
                    raise part
                parts.append(part)
            if on_progress is not None and done.value > reported:
                on_progress(done.value - reported)
                reported = done.value
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
    # A worker counts its last payloads just before handing its report over: the
    # loop may have ended before seeing them.
    if on_progress is not None and done.value > reported:
        on_progress(done.value - reported)
    total = DeliveryReport()
    for part in parts:
        total.sent += part.sent
        total.attempts += part.attempts
        total.retried += part.retried
        total.failed += part.failed
        total.by_http.update(part.by_http)
        total.by_status.update(part.by_status)
    return total
