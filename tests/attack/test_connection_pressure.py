"""Connections from many addresses (issue 12, item 15): half-open HTTP requests must be
closed after a few seconds, and when the server nears max_connections the exam's own
phones (a valid room QR token, a valid session) must still get in. Every address is a
real loopback source (127.x.y.z) against the real server; sizes are scaled down with
max_connections so that the test runs on a shared laptop."""
from __future__ import annotations

import errno
import json
import resource
import selectors
import socket
import threading
import time

import pytest
import websocket

from floodkit import log_in, open_paper
from factories import fast_plan
from fuzzkit import RawSio, hall_with

PLAN = fast_plan(candidates_per_room=4, rooms=1, questions=10, duration_minutes=30)
SITTING = PLAN["sittings"][0]["sitting_id"]
HEADER_TIMEOUT = 2.0


@pytest.fixture(autouse=True)
def _many_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def http_get(port: int, path: str, source: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """A GET from a chosen loopback address: (status, body)."""
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    try:
        s.connect(("127.0.0.1", port))
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: hall\r\nConnection: close\r\n{extra}\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def time_to_eof(s: socket.socket, since: float, limit: float, drip: bytes = b"") -> float | None:
    """Seconds from `since` until the server closes `s` (None: still open after `limit`);
    with `drip`, one more header line every 0.5 s, as a slowloris does."""
    s.settimeout(0.5)
    while time.monotonic() - since < limit:
        try:
            if s.recv(4096) == b"":
                return time.monotonic() - since
        except socket.timeout:
            if drip:
                try:
                    s.sendall(drip)
                except OSError:
                    return time.monotonic() - since
        except OSError:
            return time.monotonic() - since
    return None


def test_half_open_requests_are_closed_after_the_header_timeout(tmp_path):
    h = hall_with(tmp_path / "h", PLAN, server_extra=f"header_timeout_seconds = {HEADER_TIMEOUT}\n").start()
    try:
        kinds = [("half a header", b"GET / HTTP/1.1\r\nHost: x\r\n", b""), ("nothing at all", b"", b""),
                 ("a header line every 0.5 s", b"GET /healthz HTTP/1.1\r\n", b"X-Slow: 1\r\n")]
        limit = HEADER_TIMEOUT + 6
        took = {}

        def one(i, name, first, drip):
            s = socket.socket()
            s.bind((f"127.0.3.{i + 1}", 0))
            s.connect(("127.0.0.1", h.port))
            since = time.monotonic()
            s.sendall(first)
            took[name] = time_to_eof(s, since, limit, drip)
            s.close()

        threads = [threading.Thread(target=one, args=(i, *k)) for i, k in enumerate(kinds)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("\nclosed after (s):", {k: v and round(v, 2) for k, v in took.items()})
        for name, t in took.items():
            assert t is not None and t < HEADER_TIMEOUT + 1.5, f"{name}: still open after {t or limit:.1f} s"
        # a kept-alive connection idle between two requests is closed the same way
        s = socket.socket()
        s.bind(("127.0.3.9", 0))
        s.connect(("127.0.0.1", h.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        t = time_to_eof(s, time.monotonic(), limit)
        assert t is not None and t < HEADER_TIMEOUT + 1.5, t
        # and ordinary requests are served as before
        assert http_get(h.port, "/healthz", "127.0.3.10")[0] == 200
    finally:
        h.stop()


class HalfOpenFlood(threading.Thread):
    """`per_source` half-open requests from each source address, reopened as soon as the
    server closes one, until stopped. Non-blocking, so the whole flood is one thread."""

    def __init__(self, port: int, sources: list[str], per_source: int):
        super().__init__(daemon=True)
        self.port, self.sources, self.per_source = port, sources, per_source
        self.stop = threading.Event()
        self.opened = self.closed_by_server = 0
        self.open_now = 0

    def _open(self, sel, src: str) -> None:
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind((src, 0))
            err = s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            return
        if err not in (0, errno.EINPROGRESS):
            s.close()
            return
        sel.register(s, selectors.EVENT_WRITE, [src, "connecting"])

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        for src in self.sources:
            for _ in range(self.per_source):
                self._open(sel, src)
        while not self.stop.is_set():
            for key, ev in sel.select(0.1):
                s, (src, phase) = key.fileobj, key.data
                if phase == "connecting":
                    try:
                        s.send(b"GET /r/x HTTP/1.1\r\nHost: hall\r\nX-Pad: ")  # ...and never the rest
                        sel.modify(s, selectors.EVENT_READ, [src, "open"])
                        self.opened += 1
                        continue
                    except OSError:
                        pass
                else:
                    try:
                        if s.recv(4096):
                            continue
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    self.closed_by_server += 1
                sel.unregister(s)
                s.close()
                self._open(sel, src)  # the attacker comes straight back
            self.open_now = sum(1 for k in sel.get_map().values() if k.data[1] == "open")
        for key in list(sel.get_map().values()):
            key.fileobj.close()


def hold_websockets(url: str, sources: list[str], per_source: int, query: str = "") -> tuple[list[RawSio], int]:
    """Socket.IO connections that join "/" and then just stay; (held, refused)."""
    held, refused = [], 0
    for src in sources:
        for _ in range(per_source):
            try:
                held.append(RawSio(url, source=src, timeout=5, query=query))
            except (websocket.WebSocketException, OSError):
                refused += 1
    return held, refused


def test_a_new_phone_gets_in_while_many_addresses_hold_the_server(tmp_path):
    """300+ websockets from 40 addresses (each under the per-address cap) near a cap of
    600, and a sustained flood of half-open requests from 150 more addresses (2,250 at a
    time, each reopened at once when closed): a phone scanning the room QR still loads the
    app, logs in and gets its first answer saved within a few seconds, and a phone that
    was logged in before gets back in with its session."""
    h = hall_with(tmp_path / "h", PLAN, server_extra=(
        f"max_connections = 600\nheader_timeout_seconds = {HEADER_TIMEOUT}\n")).start()
    held, flood = [], None
    cands = PLAN["candidates"]
    try:
        earlier = log_in(h, cands[1], source="127.0.98.1")
        h.start_sitting(SITTING)
        open_paper(earlier)
        session = earlier.session
        earlier.close()
        held, refused = hold_websockets(h.url, [f"127.0.{40 + i // 200}.{i % 200 + 1}" for i in range(40)], 10)
        flood = HalfOpenFlood(h.port, [f"127.1.{i // 200}.{i % 200 + 1}" for i in range(150)], 15)
        flood.start()
        time.sleep(HEADER_TIMEOUT + 1)  # the flood is at full strength and has been reaped once
        print(f"\nwebsockets held {len(held)}, refused {refused}; half-open now {flood.open_now}, "
              f"opened {flood.opened}, closed by the server {flood.closed_by_server}")

        token = h.qr_token(SITTING)
        t0 = time.monotonic()
        status, _ = http_get(h.port, f"/r/{token}", "127.0.99.1")
        assert status == 200, status
        status, _ = http_get(h.port, "/static/client/app.js", "127.0.99.1",
                             {"Referer": f"{h.url}/r/{token}"})
        assert status == 200, status
        phone = RawSio(h.url, source="127.0.99.1", timeout=10, query=f"&t={token}")
        c = cands[0]
        r = phone.call("login", {"token": token, "ticket": c["ticket"], "id6": c["id_number"][-6:],
                                 "device": "dev-new"}, timeout=10)
        assert r and r["ok"], r
        assert phone.call("confirm", {}, timeout=10)["ok"]
        assert phone.call("open", {}, timeout=10)["ok"]
        ack = phone.call("answer", {"q": 1, "choice": "A", "seq": 1}, timeout=10)
        new_phone_s = time.monotonic() - t0
        assert ack and ack["ok"], ack

        t0 = time.monotonic()
        back = RawSio(h.url, source="127.0.98.1", timeout=10, query=f"&t={token}&s={session}")
        r = back.call("resume", {"session": session, "device": "dev-" + cands[1]["ticket"]}, timeout=10)
        back_s = time.monotonic() - t0
        assert r and r["ok"], r
        print(f"new phone: page, app.js, websocket, login, open, first answer saved in {new_phone_s:.2f} s; "
              f"reconnecting phone resumed in {back_s:.2f} s; half-open closed by the server so far: "
              f"{flood.closed_by_server}")
        assert new_phone_s < 5 and back_s < 3
        assert flood.closed_by_server > 1000  # the flood was real, and was cut
        phone.close()
        back.close()
    finally:
        if flood is not None:
            flood.stop.set()
            flood.join(10)
        for raw in held:
            raw.close()
        h.stop()


def test_near_the_cap_only_tokens_then_only_sessions_get_in(tmp_path):
    """max_connections 40: without credentials at most 20 (reserved_share 0.5); with a room
    token at most 30 (session_reserved_share 0.25); with a session up to 40."""
    h = hall_with(tmp_path / "h", PLAN, server_extra="max_connections = 40\n").start()
    held = []
    cands = PLAN["candidates"]
    try:
        raw = log_in(h, cands[0], source="127.0.50.1")
        session = raw.session
        raw.close()
        token = h.qr_token(SITTING)
        time.sleep(0.3)
        anon, refused = hold_websockets(h.url, [f"127.0.51.{i}" for i in range(1, 12)], 2)
        held += anon
        assert (len(anon), refused) == (20, 2), (len(anon), refused)
        status, body = http_get(h.port, "/healthz", "127.0.52.1")
        assert status == 503 and json.loads(body)["error"]["code"] == "busy", (status, body)
        assert http_get(h.port, f"/r/{token}", "127.0.52.2")[0] == 200  # a phone with the room QR
        tok, refused = hold_websockets(h.url, [f"127.0.53.{i}" for i in range(1, 7)], 2, query=f"&t={token}")
        held += tok
        assert (len(tok), refused) == (10, 2), (len(tok), refused)
        assert http_get(h.port, f"/r/{token}", "127.0.52.3")[0] == 503
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert hold_websockets(h.url, ["127.0.54.1"], 1, query=f"&t={forged}&s=nope")[0] == []
        back = RawSio(h.url, source="127.0.50.1", timeout=5, query=f"&t={token}&s={session}")
        held.append(back)
        r = back.call("resume", {"session": session, "device": "dev-" + cands[0]["ticket"]})
        assert r and r["ok"], r
        assert http_get(h.port, "/healthz", "127.0.0.1")[0] == 200  # the staff laptop itself
        for raw in anon:
            raw.close()
        time.sleep(0.5)
        assert http_get(h.port, "/healthz", "127.0.52.4")[0] == 200  # room again for everyone
        log = h.log.read_text(errors="replace")
        assert "connections in use: refusing requests" in log
    finally:
        for raw in held:
            raw.close()
        h.stop()
