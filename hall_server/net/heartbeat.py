"""Engine.IO over eventlet without an eventlet timer per message.

python-engineio gives every websocket a socket timeout of ping_interval + ping_timeout
(45 s) and its writer green thread waits on the send queue with the same timeout. Under
eventlet each of those waits arms a Timer in the hub's heap, and almost every one is
cancelled a few milliseconds later when the next frame arrives: at 1,000 phones and 500
answers/s that is over 1,000 dead timers a second. They sit in the heap until eventlet
rebuilds it, every one a handful of young objects, and the garbage collector walks them all
again on every young collection. Without them the steady exam's longest stalls went from
31-50 ms to 22-30 ms (docs/benchmarks.md, "Third pass").

What the timeouts were for is kept, by other means:
- a phone that went silent: Engine.IO's own service task checks every socket's heartbeat
  (`check_ping_timeout`) and closes it, which wakes the writer green thread (`Socket.close`
  queues None); the writer's `ws.close()` here shuts the socket down for reading too, which
  wakes the reader parked in recv() (see `_close`);
- a send stuck on a dead peer: TCP_USER_TIMEOUT makes the kernel drop a connection whose
  sent data stays unacknowledged for ping_interval + ping_timeout, so the send fails as it
  would have after the socket timeout, with no timer in Python.
tests/faults/test_silent_phone.py checks both against the real server. This wraps two
methods of python-engineio's Socket (pinned in pyproject.toml); tests/core/test_heartbeat.py
checks the wrapped behaviour against that version.
"""
from __future__ import annotations

import functools
import socket

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from engineio import socket as eio_socket

    handler = eio_socket.Socket._websocket_handler
    poll = eio_socket.Socket.poll

    def _websocket_handler(self, ws):
        sock = getattr(ws, "socket", None)
        if sock is not None:
            limit_ms = int((self.server.ping_interval + self.server.ping_timeout) * 1000)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, limit_ms)
            except (OSError, AttributeError):
                pass  # not TCP (tests over a socketpair), or not Linux
            sock.settimeout(None)  # the WSGI server's HTTP timeout, also a Timer per recv
            sock.settimeout = _keep_blocking  # engineio's 45 s timeout, refused for this socket
            ws.close = functools.partial(_close, ws, sock)
            self.hall_ws = ws  # for realtime/flow.py, which may have to cut this connection
        return handler(self, ws)

    def _poll(self):
        if not self.upgraded:
            return poll(self)  # the polling transport's GET must still give up after a while
        packets = [self.queue.get()]  # close() queues None: the writer always wakes
        self.queue.task_done()
        if packets == [None]:
            return []
        while not self.queue.empty():
            pkt = self.queue.get(block=False)
            self.queue.task_done()
            if pkt is None:
                self.queue.put(None)
                break
            packets.append(pkt)
        return packets

    eio_socket.Socket._websocket_handler = _websocket_handler
    eio_socket.Socket.poll = _poll
    _installed = True


def _close(ws, sock, close_data=None) -> None:
    """RFC6455WebSocket.close for an Engine.IO websocket: the close frame, then SHUT_RDWR.

    eventlet's own close shuts down writing only and closes the descriptor, which leaves the
    connection's reader green thread parked in recv() on a silent phone until its timeout;
    with no timeout that would be forever. Shutting down reading as well makes that recv()
    return end-of-file at once: the reader ends, Engine.IO's handler returns and the WSGI
    server closes the socket."""
    try:
        ws._send_closing_frame(close_data=close_data, ignore_send_errors=True)
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already reset by the phone: the reader has its error too


def cut(ws) -> bool:
    """Stop a websocket from being read any further, at once, and shut its TCP socket down.

    Shutting down alone is not enough against a phone that keeps writing: Linux still hands
    the reader what is already buffered, and eventlet's reader parses frame after frame
    without yielding while data is there. So the websocket's socket is swapped for one that
    reads end-of-file: the reader stops at its next frame and Engine.IO cleans up as for
    any closed connection. False if `ws` was not set up by this module."""
    sock = ws.__dict__.get("socket")
    if sock is None or isinstance(sock, _Cut):
        return sock is not None
    ws.socket = _Cut()
    try:
        sock.shutdown(socket.SHUT_RDWR)  # a writer blocked on a phone that does not read fails too
    except OSError:
        pass
    return True


class _Cut:
    """The socket of a cut websocket: end-of-file to read, a broken pipe to write."""

    def recv(self, *_):
        return b""

    def sendall(self, *_):
        raise BrokenPipeError("connection cut by the server")

    send = sendall

    def shutdown(self, *_):
        pass

    def close(self):
        pass


def _keep_blocking(timeout) -> None:
    """GreenSocket.settimeout for an Engine.IO websocket: stays blocking (see module doc)."""
