"""The connection-cutting HTTP proxy used by the sync tests (a module with a unique name:
several conftest.py files exist, so nothing is imported from "conftest")."""
from __future__ import annotations

import socket
import threading


# ---------------------------------------------------------------------- cutting proxy

def _read_until(sock, buf: bytes, marker: bytes):
    while marker not in buf:
        d = sock.recv(65536)
        if not d:
            return None, buf
        buf += d
    i = buf.index(marker) + len(marker)
    return buf[:i], buf[i:]


def _read_exact(sock, buf: bytes, n: int):
    while len(buf) < n:
        d = sock.recv(65536)
        if not d:
            return None, buf
        buf += d
    return buf[:n], buf[n:]


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v.strip())
    return None


class CuttingProxy:
    """An HTTP/1.1-aware TCP proxy on loopback. For every request it asks
    ``policy(method, path_with_query)`` for None (pass), "before" (forward only half the
    request, then cut both sides: the server never gets the whole chunk) or "after"
    (forward the request, read the server's whole response, then cut instead of
    delivering it: the server committed, the client does not know)."""

    def __init__(self, target_port: int, policy):
        self.target = ("127.0.0.1", target_port)
        self.policy = policy
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cuts: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, client):
        buf = b""
        try:
            while True:
                head, buf = _read_until(client, buf, b"\r\n\r\n")
                if head is None:
                    return
                method, path = head.split(b" ", 2)[:2]
                method, path = method.decode(), path.decode()
                body, buf = _read_exact(client, buf, _content_length(head) or 0)
                if body is None:
                    return
                with self.lock:
                    action = self.policy(method, path)
                    if action:
                        self.cuts.append((action, method, path))
                up = socket.create_connection(self.target)
                try:
                    if action == "before":   # the server never sees the whole request
                        up.sendall(head + body[: len(body) // 2] if body else head[: len(head) // 2])
                        return
                    up.sendall(head + body)
                    rhead, ubuf = _read_until(up, b"", b"\r\n\r\n")
                    if rhead is None:
                        return
                    n = _content_length(rhead)
                    if method == "HEAD" or n is None:
                        rbody = ubuf if method == "HEAD" else ubuf + _drain(up)
                    else:
                        rbody, _ = _read_exact(up, ubuf, n)
                    if action == "after":
                        return
                    client.sendall(rhead + (rbody or b""))
                finally:
                    up.close()
        except OSError:
            return
        finally:
            client.close()

    def close(self):
        self.closed = True
        self.lsock.close()


def _drain(sock) -> bytes:
    out = b""
    while True:
        d = sock.recv(65536)
        if not d:
            return out
        out += d


def cut_each_once():
    """Policy: the first time each distinct request (method + path + query) is seen, cut
    it, alternating "after" and "before"; let the repeat through. With chunked uploads
    this cuts the connection at every chunk boundary, at open and at finalize."""
    seen: set = set()
    n = [0]

    def policy(method, path):
        if method == "GET" or (method, path) in seen:
            return None
        seen.add((method, path))
        n[0] += 1
        return "after" if n[0] % 2 else "before"
    return policy


