"""Tools for the flooding tests: phones that measure their ack latency while another one
floods, a flooder that writes pre-built websocket frames without reading, and the
server's resident memory. Everything speaks raw Socket.IO (RawSio) over real sockets to
the real server in its subprocess."""
from __future__ import annotations

import json
import socket
import threading
import time

import websocket

from hallproc import RawSio


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def log_in(hall, cand: dict, source: str = "127.0.0.1") -> RawSio:
    """A raw phone logged in and confirmed (the sitting is started by the caller)."""
    raw = RawSio(hall.url, source=source, timeout=10)
    r = raw.call("login", {"token": hall.qr_token(cand["sitting_id"]), "ticket": cand["ticket"],
                           "id6": cand["id_number"][-6:], "device": "dev-" + cand["ticket"]}, timeout=10)
    assert r and r["ok"], r
    raw.session = r["session"]
    assert raw.call("confirm", {}, timeout=10)["ok"]
    return raw


def open_paper(raw: RawSio) -> None:
    r = raw.call("open", {}, timeout=10)
    assert r and r["ok"], r


class LatencyProbe(threading.Thread):
    """A phone answering once every `every` seconds, waiting for each ack, and recording
    (time sent, ack latency in ms or None when no ack came within `timeout`)."""

    def __init__(self, raw: RawSio, questions: int, every: float, timeout: float = 10):
        super().__init__(daemon=True)
        self.raw, self.questions, self.every, self.timeout = raw, questions, every, timeout
        self.samples: list[tuple[float, float | None]] = []
        self.errors: list = []
        self.stop = threading.Event()
        self.seq = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.seq += 1
            q = self.seq % self.questions + 1
            t0 = time.monotonic()
            try:
                a = self.raw.call("answer", {"q": q, "choice": "ABCD"[self.seq % 4], "seq": self.seq},
                                  timeout=self.timeout)
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
                return
            lat = (time.monotonic() - t0) * 1000
            if a is None or not a.get("ok"):
                self.errors.append(a)
            self.samples.append((t0, lat if a is not None else None))
            self.stop.wait(max(0.0, self.every - lat / 1000))

    def window(self, start: float, end: float) -> list[float]:
        """Latencies of answers sent in [start, end); a missing ack counts as the timeout."""
        return [lat if lat is not None else self.timeout * 1000 for t, lat in self.samples if start <= t < end]


def latencies(probes: list[LatencyProbe], start: float, end: float) -> list[float]:
    return [x for p in probes for x in p.window(start, end)]


def event_frame(event: str, payload, ack_id: int | None = 1) -> bytes:
    """One masked websocket text frame carrying a Socket.IO event, ready to write many times."""
    text = "42" + ("" if ack_id is None else str(ack_id)) + json.dumps([event, payload], separators=(",", ":"))
    return websocket.ABNF.create_frame(text, websocket.ABNF.OPCODE_TEXT).format()


class Flooder(threading.Thread):
    """Writes frames to a logged-in RawSio's socket and never reads a byte back. Stops when
    `frames` is exhausted, after `seconds`, or when the server closes the connection."""

    def __init__(self, raw: RawSio, frames, seconds: float, burst: int = 64, pause: float = 0.0):
        super().__init__(daemon=True)
        self.sock: socket.socket = raw.ws.sock
        self.frames, self.seconds, self.burst, self.pause = frames, seconds, burst, pause
        self.sent = 0
        self.closed_by_server = False
        self.ended = None

    def run(self) -> None:
        end = time.monotonic() + self.seconds
        self.sock.settimeout(5)
        batch: list[bytes] = []
        try:
            for f in self.frames:
                batch.append(f)
                if len(batch) >= self.burst:
                    self.sock.sendall(b"".join(batch))
                    self.sent += len(batch)
                    batch.clear()
                    if time.monotonic() > end:
                        break
                    if self.pause:
                        time.sleep(self.pause)
            if batch:
                self.sock.sendall(b"".join(batch))
                self.sent += len(batch)
        except (BrokenPipeError, ConnectionResetError):
            self.closed_by_server = True
        except OSError:
            self.closed_by_server = self._peer_gone()
        self.ended = time.monotonic()

    def _peer_gone(self) -> bool:
        try:
            self.sock.settimeout(0)
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


def closed_by_server(raw: RawSio, within: float) -> bool:
    """Has the server closed this socket? Reads (and discards) what it sent until end-of-file."""
    sock = raw.ws.sock
    end = time.monotonic() + within
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            if sock.recv(1 << 20) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False
