"""How a request waits for the writer thread, in each async mode.

Under eventlet a green thread must not block on an OS lock (it would freeze every
connection), and eventlet's own Event is not safe to fire from another OS thread. The
writer therefore hands finished operations to a deque and writes one byte to a pipe; a
single green thread wakes on the pipe and fires the green events.
"""
from __future__ import annotations

import collections
import threading
import time


class ThreadWaiters:
    """For async_mode = "threading" and for plain scripts: real thread events."""

    def new_event(self):
        return threading.Event()

    def fire(self, pendings) -> None:
        for p in pendings:
            p._event.set()

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
            now = time.monotonic()
            for event, deadline in list(self._deadlines.items()):
                if deadline <= now and not event.ready():
                    event.send(False)

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
            while self._done:
                p = self._done.popleft()
                if not p._event.ready():  # a reaped (timed-out) wait has had its answer
                    p._event.send(True)

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
