"""A deadline for HTTP request headers, so half-open requests cannot hold the server's slots.

eventlet.wsgi only has a per-read socket timeout: a request that sends half a header and
then nothing held its slot for a minute, and one that sends a byte every few seconds held
it for ever; 4,500 of them from many addresses locked new phones out (issue 12, item 15).
Here every connection waiting for a request line and headers (a new one from its accept,
or a kept-alive one between two requests) is listed with the time it started waiting; one
green thread shuts down those that waited longer than `header_timeout_seconds`, and when
every slot is taken, a new connection takes the slot of the connection that has waited
longest (net/listen.py). A connection cut mid-header is closed without running the app on
what it had sent. No timer per request: the list is in arrival order, so the sweep stops
at the first connection still within its time. Websockets are past their headers.
"""
from __future__ import annotations

import socket
import time


class HeaderDeadline:
    def __init__(self, timeout: float):
        self.timeout = timeout
        # connection -> monotonic time it began waiting for headers, in that order: from its
        # accept (its green thread may not have run yet), or from the end of its last request
        self.waiting: dict = {}
        self.closed = 0  # connections shut down for taking too long or for being the oldest when full

    def accepted(self, conn) -> None:
        self.waiting[conn] = time.monotonic()

    def protocol(self):
        """eventlet.wsgi's HttpProtocol, keeping `waiting` up to date for each request."""
        from eventlet import wsgi

        waiting = self.waiting
        clock = time.monotonic

        class GuardedProtocol(wsgi.HttpProtocol):
            def handle_one_request(self):
                conn = self.connection
                if conn not in waiting:  # a kept-alive connection: waiting again from now
                    waiting[conn] = clock()
                try:
                    super().handle_one_request()
                finally:
                    waiting.pop(conn, None)

            def handle_one_response(self):
                conn = self.connection
                waiting.pop(conn, None)  # headers are in: the request is the app's now
                if getattr(conn, "cut", False):  # cut mid-header: what was read is no request
                    self.close_connection = 1
                    return
                super().handle_one_response()

        return GuardedProtocol

    def sweep(self) -> int:
        """Shut down every connection whose headers are overdue; returns how many."""
        limit = time.monotonic() - self.timeout
        overdue = []
        for conn, since in self.waiting.items():
            if since > limit:
                break
            overdue.append(conn)
        for conn in overdue:
            self._shut(conn)
        return len(overdue)

    def evict_oldest(self) -> bool:
        """Free a slot for a new connection: shut down the one waiting longest for headers."""
        for conn in self.waiting:
            self._shut(conn)
            return True
        return False

    def _shut(self, conn) -> None:
        self.waiting.pop(conn, None)
        self.closed += 1
        try:
            conn.cut = True
            # Its reader sees end-of-file and eventlet closes the connection as usual.
            conn.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass

    def run(self, sleep) -> None:
        """The sweeping green thread: checks a few times per timeout."""
        every = min(1.0, max(0.05, self.timeout / 4))
        while True:
            sleep(every)
            self.sweep()
