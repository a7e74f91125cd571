"""How a request waits for the writer thread, in each async mode.

Under eventlet a green thread must not block on an OS lock (it would freeze every
connection), and eventlet's own Event is not safe to fire from another OS thread. The
writer therefore hands finished operations to a deque and writes one byte to a pipe; a
single green thread wakes on the pipe and fires the green events.
"""
from __future__ import annotations

import collections
import logging
import threading
import time

log = logging.getLogger(__name__)


def apply_committed(p) -> None:
    """Mirror one committed operation (Pending.apply), never letting a mirror bug stop the
    delivery of the others: every caller still gets its answer."""
    if p.apply is not None and p.error is None:
        try:
            p.apply(p.result)
        except Exception:
            log.exception("mirroring %s failed", getattr(p.fn, "__name__", p.fn))


class ThreadWaiters:
    """For async_mode = "threading" (debugging) and for plain scripts: real thread events.
    The mirror is applied in the writer's thread, in commit order, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def new_event(self):
        return threading.Event()

    def fire(self, pendings) -> None:
        with self.lock:
            for p in pendings:
                apply_committed(p)
        for p in pendings:
            p.event.set()

    @staticmethod
    def wait(event, timeout=None) -> bool:
        return event.wait(timeout)

    def close(self) -> None:
        pass


class EventletWaiters:
    REAP_EVERY = 0.5  # seconds: how late past its deadline a timed-out wait may be told

    def __init__(self) -> None:
        import eventlet
        from eventlet import patcher

        self._os = patcher.original("os")
        self._r, self._w = self._os.pipe()
        self._os.set_blocking(self._r, False)
        self._os.set_blocking(self._w, False)
        self._done: collections.deque = collections.deque()
        self._closed = False
        self._deadlines: dict = {}  # event -> monotonic deadline, for the waits that have one
        self._thread = eventlet.spawn(self._dispatch)
        self._reaper = eventlet.spawn(self._reap)

    def new_event(self):
        from eventlet.event import Event

        return Event()

    def fire(self, pendings) -> None:
        # Runs in the writer's OS thread: only touch the deque and the pipe.
        self._done.extend(pendings)
        try:
            self._os.write(self._w, b"x")
        except BlockingIOError:
            pass  # pipe full: the dispatcher has a wake-up pending anyway

    def wait(self, event, timeout=None) -> bool:
        """True once the operation committed (or failed); False if it timed out first."""
        # No eventlet.Timeout per call: each one is a Timer in the hub's heap, cancelled a
        # millisecond later and left there as young garbage for the GC to walk (see
        # net/heartbeat.py). One reaper green thread checks the deadlines every REAP_EVERY.
        if timeout is None:
            return event.wait()
        self._deadlines[event] = time.monotonic() + timeout
        try:
            return event.wait()
        finally:
            self._deadlines.pop(event, None)

    def _reap(self) -> None:
        import eventlet

        while not self._closed:
            eventlet.sleep(self.REAP_EVERY)
            self.reap(time.monotonic())

    def reap(self, now: float) -> int:
        """Time out every wait whose deadline is before `now`; returns how many."""
        n = 0
        for event, deadline in list(self._deadlines.items()):
            if deadline <= now and not event.ready():
                event.send(False)
                n += 1
        return n

    def _dispatch(self) -> None:
        from eventlet.hubs import trampoline

        while not self._closed:
            try:
                trampoline(self._r, read=True)
                self._os.read(self._r, 65536)
            except BlockingIOError:
                pass
            except OSError:
                return
            self.drain()

    def drain(self) -> int:
        """Deliver finished operations, in commit order: mirror first, then wake the caller
        (whose ack is built from the same result). A timed-out caller has had its answer,
        but its operation is mirrored all the same."""
        n = 0
        while self._done:
            p = self._done.popleft()
            apply_committed(p)
            if not p.event.ready():
                p.event.send(True)
            n += 1
        return n

    def close(self) -> None:
        self._closed = True
        self._thread.kill()
        self._reaper.kill()
        for fd in (self._r, self._w):
            try:
                self._os.close(fd)
            except OSError:
                pass


def for_mode(async_mode: str):
    return EventletWaiters() if async_mode == "eventlet" else ThreadWaiters()
