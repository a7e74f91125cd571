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
    needs one websocket plus the odd HTTP request; staff addresses are exempt."""

    def __init__(self, sock, per_address: int, exempt):
        self._sock = sock
        self.per_address = per_address
        self.exempt = exempt
        self.counts: dict[str, int] = {}

    def accept(self):
        while True:
            conn, addr = self._sock.accept()
            ip = addr[0]
            if self.per_address and not self.exempt(ip) and self.counts.get(ip, 0) >= self.per_address:
                conn.close()
                continue
            self.counts[ip] = self.counts.get(ip, 0) + 1
            return _Counted(conn, lambda ip=ip: self._release(ip)), addr

    def _release(self, ip: str) -> None:
        n = self.counts.get(ip, 1) - 1
        if n <= 0:
            self.counts.pop(ip, None)
        else:
            self.counts[ip] = n

    def __getattr__(self, name):
        return getattr(self._sock, name)


def serve_eventlet(sock, wsgi_app, max_connections: int, per_address: int = 0, exempt=lambda ip: False,
                   socket_timeout: float | None = None) -> None:
    import eventlet.wsgi

    raise_fd_limit(max_connections + FD_HEADROOM)
    # debug=False: an exception escaping the app must not send its traceback to a phone.
    # socket_timeout: a socket that sends nothing for this long is closed; websockets carry
    # a ping every ping_interval, so a live phone never hits it.
    eventlet.wsgi.server(CappedListener(sock, per_address, exempt), wsgi_app, max_size=max_connections,
                         log_output=False, keepalive=True, socket_timeout=socket_timeout, debug=False)
