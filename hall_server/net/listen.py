"""The listening socket and the server loop, with limits a real sitting needs.

eventlet.listen() sets SO_REUSEPORT by default, which lets a second server on the same
port silently take half the phones; we turn it off so the second one fails loudly.
eventlet.wsgi.server() caps concurrent connections at 1024 unless told otherwise.
"""
from __future__ import annotations

import resource
import socket


class PortInUse(RuntimeError):
    pass


def raise_fd_limit(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def listen(host: str, port: int, backlog: int = 2048):
    import eventlet

    try:
        sock = eventlet.listen((host, port), backlog=backlog, reuse_addr=True, reuse_port=False)
    except OSError as e:
        raise PortInUse(f"端口 {port} 已被占用（是否已有一个 hall 在运行？）: {e}") from None
    # An answer produces two small writes on the phone's socket: the `state` push, then the
    # ack. With Nagle's algorithm the ack waits until the phone ACKs the push, and the phone
    # delays that ACK (~40 ms on Linux). Accepted sockets inherit TCP_NODELAY on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _Counted:
    """A client socket that gives its address's slot back exactly once when closed."""

    def __init__(self, sock, release):
        self._sock = sock
        self._release = release

    def close(self):
        release, self._release = self._release, None
        if release:
            release()
        self._sock.close()

    def __getattr__(self, name):
        return getattr(self._sock, name)


class CappedListener:
    """Caps concurrent connections per client address, so one device holding idle sockets
    (slowloris) cannot use up the server's slots and lock every other phone out. A phone
    needs one websocket plus the odd HTTP request; staff addresses are exempt.
    `open` counts every accepted connection not yet closed; when a new one finds every
    slot taken, `on_full` is asked to free one (the header deadline's oldest waiter)."""

    def __init__(self, sock, per_address: int, exempt, max_connections: int = 0, on_full=None):
        self._sock = sock
        self.per_address = per_address
        self.exempt = exempt
        self.max_connections = max_connections
        self.on_full = on_full
        self.counts: dict[str, int] = {}
        self.open = 0

    def accept(self):
        while True:
            conn, addr = self._sock.accept()
            ip = addr[0]
            if self.per_address and not self.exempt(ip) and self.counts.get(ip, 0) >= self.per_address:
                conn.close()
                continue
            self.counts[ip] = self.counts.get(ip, 0) + 1
            self.open += 1
            if self.on_full is not None and self.open > self.max_connections:
                self.on_full()
            return _Counted(conn, lambda ip=ip: self._release(ip)), addr

    def _release(self, ip: str) -> None:
        self.open -= 1
        n = self.counts.get(ip, 1) - 1
        if n <= 0:
            self.counts.pop(ip, None)
        else:
            self.counts[ip] = n

    def __getattr__(self, name):
        return getattr(self._sock, name)


def serve_eventlet(sock, wsgi_app, srv: dict, exempt=lambda ip: False, credentials=None) -> None:
    """Serve `wsgi_app` with the [server] section's limits: max_connections in all, per
    address, a deadline for request headers, and (given `credentials`) the reserve of
    slots for the exam's phones (net/admission.py)."""
    import eventlet
    import eventlet.wsgi

    from .admission import Admission
    from .header_deadline import HeaderDeadline

    max_connections = srv["max_connections"]
    raise_fd_limit(max_connections + 256)
    deadline = HeaderDeadline(srv["header_timeout_seconds"])
    listener = CappedListener(sock, srv["max_connections_per_address"], exempt, max_connections,
                              on_full=deadline.evict_oldest)
    if credentials is not None:
        wsgi_app = Admission(wsgi_app, lambda: listener.open - len(deadline.waiting), max_connections,
                             int(max_connections * srv["reserved_share"]),
                             int(max_connections * srv["session_reserved_share"]), credentials)
    eventlet.spawn_n(deadline.run, eventlet.sleep)
    # debug=False: an exception escaping the app must not send its traceback to a phone.
    # socket_timeout: a socket that sends nothing for this long is closed (a request body
    # that stalls); websockets carry a ping every ping_interval, so a live phone never hits it.
    eventlet.wsgi.server(listener, wsgi_app, max_size=max_connections, protocol=deadline.protocol(),
                         log_output=False, keepalive=True, debug=False,
                         socket_timeout=srv["ping_interval"] + srv["ping_timeout"] + 15)
