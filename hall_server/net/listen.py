"""The listening socket and the server loop, with limits a real sitting needs.

eventlet.listen() sets SO_REUSEPORT by default, which lets a second server on the same
port silently take half the phones; we turn it off so the second one fails loudly.
eventlet.wsgi.server() caps concurrent connections at 1024 unless told otherwise.
"""
from __future__ import annotations

import resource
import socket


# File descriptors beyond the connections: the database and its WAL, pipes, log, tpool. The
# systemd unit's LimitNOFILE uses the same sum (hall_server/service_unit.py).
FD_HEADROOM = 256


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

    cut = False  # set by the header deadline when it shuts the connection down

    def __init__(self, sock, listener, ip: str):
        self._sock = sock
        self._listener = listener
        self._ip = ip

    def close(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            listener._release(self._ip, self)
        self._sock.close()

    def __getattr__(self, name):
        return getattr(self._sock, name)


def _request_complete(conn) -> bool:
    """Has this connection already sent a whole request header? (A look, not a read.)"""
    try:
        head = getattr(conn, "fd", conn).recv(8192, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:
        return False
    return b"\r\n\r\n" in head


class CappedListener:
    """Caps concurrent connections per client address, so one device holding idle sockets
    (slowloris) cannot use up the server's slots and lock every other phone out. A phone
    needs one websocket plus the odd HTTP request; staff addresses are exempt.
    `open` counts every accepted connection not yet closed. With a header deadline, each
    new connection is listed as waiting for its headers until they are in."""

    def __init__(self, sock, per_address: int, exempt, max_connections: int = 0, deadline=None,
                 pause=lambda: None):
        self._sock = sock
        self.pause = pause  # eventlet.sleep(0): lets the loop serve others between refusals
        self.per_address = per_address
        self.exempt = exempt
        self.max_connections = max_connections
        self.deadline = deadline
        self.counts: dict[str, int] = {}
        self.open = 0

    def accept(self):
        refused = 0
        while True:
            conn, addr = self._sock.accept()
            ip = addr[0]
            if self._refuse(conn, ip):
                conn.close()
                refused += 1
                if refused % 16 == 0:
                    self.pause()  # a queue refilled as fast as it is refused must not starve the phones
                continue
            self.counts[ip] = self.counts.get(ip, 0) + 1
            self.open += 1
            counted = _Counted(conn, self, ip)
            if self.deadline is not None:
                self.deadline.accepted(counted)
            return counted, addr

    def _refuse(self, conn, ip: str) -> bool:
        if self.per_address and not self.exempt(ip) and self.counts.get(ip, 0) >= self.per_address:
            return True
        if self.deadline is not None and self.open >= self.max_connections:
            # Full. A phone's request arrives whole right behind its handshake, and it has
            # waited in the accept queue: it gets the slot of the connection that has waited
            # longest for its headers. A newcomer with half a request gets none: closing it
            # here costs far less than a green thread, so a flood of them cannot slow the
            # accept queue down for everyone behind it.
            if not _request_complete(conn):
                self.deadline.closed += 1
                return True
            self.deadline.evict_oldest()
        return False

    def _release(self, ip: str, conn) -> None:
        self.open -= 1
        if self.deadline is not None:
            self.deadline.waiting.pop(conn, None)
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
    raise_fd_limit(max_connections + FD_HEADROOM)
    deadline = HeaderDeadline(srv["header_timeout_seconds"])
    listener = CappedListener(sock, srv["max_connections_per_address"], exempt, max_connections, deadline,
                              pause=eventlet.sleep)
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
