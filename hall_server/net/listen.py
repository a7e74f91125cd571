"""The listening socket and the server loop, with limits a real sitting needs.

eventlet.listen() sets SO_REUSEPORT by default, which lets a second server on the same
port silently take half the phones; we turn it off so the second one fails loudly.
eventlet.wsgi.server() caps concurrent connections at 1024 unless told otherwise.
"""
from __future__ import annotations

import resource


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
        return eventlet.listen((host, port), backlog=backlog, reuse_addr=True, reuse_port=False)
    except OSError as e:
        raise PortInUse(f"端口 {port} 已被占用（是否已有一个 hall 在运行？）: {e}") from None


def serve_eventlet(sock, wsgi_app, max_connections: int) -> None:
    import eventlet.wsgi

    raise_fd_limit(max_connections + 256)
    eventlet.wsgi.server(sock, wsgi_app, max_size=max_connections, log_output=False,
                         keepalive=True, socket_timeout=None)
