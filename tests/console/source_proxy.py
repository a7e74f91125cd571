"""A TCP forwarder whose connections to the server come from another loopback address
(127.0.0.2 by default): a browser that goes through it is, to the hall, a tablet on the
WiFi, not the laptop (security.staff_allowlist allows 127.0.0.1 only)."""
from __future__ import annotations

import select
import socket
import threading


class SourceProxy:
    def __init__(self, target_port: int, source: str = "127.0.0.2"):
        self.target, self.source = ("127.0.0.1", target_port), source
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopped = False
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            s = socket.socket()
            s.bind((self.source, 0))
            try:
                s.connect(self.target)
            except OSError:
                c.close()
                continue
            self.socks += [c, s]
            threading.Thread(target=self._pump, args=(c, s), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self.stopped:
                r, _, _ = select.select([a, b], [], [], 0.2)
                for x in r:
                    data = x.recv(65536)
                    if not data:
                        raise OSError("eof")
                    peers[x].sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            for x in (a, b):
                try:
                    x.close()
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopped = True
        self.lsock.close()
        for x in self.socks:
            try:
                x.close()
            except OSError:
                pass
