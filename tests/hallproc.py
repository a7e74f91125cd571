"""The real appliance in a subprocess: eventlet server, real SQLite file, real sockets."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import socketio
import websocket

REPO = Path(__file__).resolve().parents[1]


def stored_answers(db_path) -> dict:
    """(ticket, q) -> (choice, seq) in a hall database file, read-only: what survived."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return {(t, q): (c, s) for t, q, c, s in conn.execute("SELECT ticket, q, choice, seq FROM answers")}
    finally:
        conn.close()


def acked_missing(acked: dict, stored: dict) -> list:
    """Acknowledged (ticket, q) -> (choice, seq) that `stored` does not hold: absent, older,
    or the same seq with another choice. [(key, acked, stored)]."""
    return [(k, v, stored.get(k)) for k, v in acked.items()
            if k not in stored or stored[k][1] < v[1] or (stored[k][1] == v[1] and stored[k][0] != v[0])]


def free_port() -> int:
    """A loopback port nobody listens on now (never hard-code one: five engineers share the box)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float = 20, proc: subprocess.Popen | None = None,
                 log: Path | None = None) -> float:
    """Seconds until `url`/healthz answers 200; RuntimeError (with the log's tail) if `proc`
    exits first or the time runs out."""
    tail = lambda: log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            time.sleep(0.2)                       # let a pipe-draining thread write the last lines
            raise RuntimeError(f"server exited {proc.returncode}: {tail()}")
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return time.monotonic() - t0
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not come up: " + tail())


def staff_events() -> list[str]:
    """Every event the console may send, as the server registers them (realtime/staff.py):
    the fuzzer attacks each and the docs test finds each in docs/protocol.md, so a new
    console action is covered without editing a list."""
    from hall_server.realtime.staff import StaffChannel

    names: set[str] = set()

    class Recorder:
        def on(self, name, namespace=None):
            names.add(name)
            return lambda fn: fn

    StaffChannel(Recorder(), None, None).register()
    return sorted(names - {"connect", "disconnect"})


class HallProcess:
    def __init__(self, data_dir: Path, plan: dict | None = None, config_extra: str = "", port: int | None = None,
                 host: str = "127.0.0.1"):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.plan = plan
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = self.data_dir / "config.toml"
        if "[proctor]" not in config_extra:
            # Tests of other features open papers without the login photo and without the
            # face worker process; the camera's own tests (tests/proctor) set [proctor].
            config_extra += "\n[proctor]\nlogin_capture_required = false\nface_worker = false\n"
        self.config_path.write_text(
            f'[server]\nhost = "{host}"\nport = {self.port}\ndata_dir = "{self.data_dir}"\n'
            f'public_url = "{self.url}"\n' + config_extra, encoding="utf-8")
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir / "server.log"
        if plan is not None and not (self.data_dir / "hall.db").exists():
            from factories import import_site

            import_site(self.data_dir / "hall.db", plan)

    def start(self, timeout: float = 20, env: dict | None = None) -> "HallProcess":
        """`env`: extra environment for the server (e.g. libfaketime for clock steps)."""
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen([sys.executable, "-m", "hall_server", "--config", str(self.config_path),
                                          "serve"], cwd=REPO, stdout=logf, stderr=subprocess.STDOUT,
                                         env={**os.environ, **env} if env else None)
        wait_healthy(self.url, timeout, self.proc, self.log)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush, like pulling the laptop's plug."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    # -- helpers for tests ----------------------------------------------------------
    def qr_token(self, sitting_id: str, issued_at: int | None = None, expires_at: int | None = None) -> str:
        from hall_server.auth import qr_tokens

        now = int(time.time())
        key = qr_tokens.private_key(self.plan["site_key"]["private"])
        return qr_tokens.issue(key, self.plan["site"]["site_no"], sitting_id,
                               issued_at if issued_at is not None else now,
                               expires_at if expires_at is not None else now + 7200)

    def staff_session(self, username: str = "chief", password: str = "chief-pw") -> requests.Session:
        s = requests.Session()
        r = s.post(self.url + "/console/login", data={"username": username, "password": password},
                   allow_redirects=False, timeout=10)
        assert r.status_code == 302, r.text
        return s

    def staff_socket(self, username: str = "chief", password: str = "chief-pw") -> socketio.Client:
        http = self.staff_session(username, password)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        sio = socketio.Client(reconnection=False)
        sio.connect(self.url, namespaces=["/staff"], headers={"Cookie": cookie}, transports=["websocket"],
                    wait_timeout=10)
        return sio

    def start_sitting(self, sitting_id: str) -> dict:
        sio = self.staff_socket()
        try:
            # test plans are dated 2030: starting today needs the second confirmation
            return sio.call("start_sitting", {"sitting": sitting_id, "confirm_date": True}, namespace="/staff",
                            timeout=10)
        finally:
            sio.disconnect()

    def db(self):
        import sqlite3

        conn = sqlite3.connect(self.data_dir / "hall.db")
        conn.row_factory = sqlite3.Row
        return conn


class Phone:
    """A candidate's phone speaking docs/protocol.md."""

    def __init__(self, hall: HallProcess, ticket: str, id6: str, device: str | None = None):
        self.hall = hall
        self.ticket, self.id6 = ticket, id6
        self.device = device or f"dev-{ticket}"
        self.sio = socketio.Client(reconnection=False)
        self.session: str | None = None
        self.seq = 0
        self.pushed: list[tuple[str, dict]] = []
        self.sio.on("state", lambda d: self.pushed.append(("state", d)))
        self.sio.on("replaced", lambda d: self.pushed.append(("replaced", d)))

    def connect(self) -> "Phone":
        self.sio.connect(self.hall.url, transports=["websocket"], wait_timeout=10)
        return self

    def call(self, event: str, payload=None, timeout: float = 10):
        return self.sio.call(event, payload if payload is not None else {}, timeout=timeout)

    def login(self, sitting_id: str, token: str | None = None) -> dict:
        r = self.call("login", {"token": token or self.hall.qr_token(sitting_id), "ticket": self.ticket,
                                "id6": self.id6, "device": self.device})
        if r.get("ok"):
            self.session = r["session"]
        return r

    def answer(self, q: int, choice) -> dict:
        self.seq += 1
        return self.call("answer", {"q": q, "choice": choice, "seq": self.seq})

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:
            pass


class RawSio:
    """Engine.IO 4 / Socket.IO 5 spoken by hand over a websocket, for packets a real client
    would never send. `source` picks the local address (any 127.x.y.z on Linux loopback),
    so one test can look like many phones; `query` is appended to the handshake URL
    ("&t=<room token>&s=<session>", as the phone app sends them)."""

    def __init__(self, url: str, source: str = "127.0.0.1", cookie: str | None = None, connect_ns: str | None = "/",
                 timeout: float = 5, query: str = ""):
        host, port = url.split("//")[1].split(":")
        sock = socket.socket()
        sock.settimeout(timeout)
        sock.bind((source, 0))
        sock.connect((host, int(port)))
        headers = [f"Cookie: {cookie}"] if cookie else []
        self.ws = websocket.create_connection(f"ws://{host}:{port}/socket.io/?EIO=4&transport=websocket{query}",
                                              socket=sock, header=headers, timeout=timeout)
        first = self.ws.recv()
        assert first.startswith("0"), first
        self.handshake = json.loads(first[1:])
        self.next_id = 1
        self.closed = False
        self.backlog: list = []
        if connect_ns is not None:
            self.connect_ns(connect_ns)

    def connect_ns(self, ns: str = "/", auth=None) -> str:
        """'40' packet; returns the server's reply packet ('40{...}' accepted, '44...' refused)."""
        prefix = "" if ns == "/" else ns + ","
        self.send("40" + prefix + (json.dumps(auth) if auth is not None else ""))
        return self.recv_packet(lambda p: p.startswith("40" + prefix) or p.startswith("44" + prefix))

    def send(self, data) -> None:
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def emit(self, event: str, *args, ns: str = "/", ack: bool = True) -> int | None:
        prefix = "" if ns == "/" else ns + ","
        aid = None
        if ack:
            aid = self.next_id
            self.next_id += 1
        self.send("42" + prefix + (str(aid) if aid is not None else "") + json.dumps([event, *args]))
        return aid

    def recv_packet(self, want=lambda p: True, timeout: float = 5):
        """Next packet matching `want` (answering pings on the way); None on timeout;
        raises ConnectionError if the server closed the connection."""
        for i, p in enumerate(self.backlog):
            if want(p):
                return self.backlog.pop(i)
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                return None
            self.ws.settimeout(left)
            try:
                p = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                return None
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as e:
                self.closed = True
                raise ConnectionError("closed by server") from e
            if p == "":
                self.closed = True
                raise ConnectionError("closed by server")
            if p == "2":
                self.ws.send("3")
                continue
            if want(p):
                return p
            self.backlog.append(p)

    def ack(self, aid: int, ns: str = "/", timeout: float = 5):
        prefix = "43" + ("" if ns == "/" else ns + ",") + str(aid)
        p = self.recv_packet(lambda p: p.startswith(prefix + "[") or p.startswith(prefix + "{"), timeout)
        if p is None:
            return None
        return json.loads(p[len(prefix):])[0]

    def call(self, event: str, data=None, ns: str = "/", timeout: float = 5):
        aid = self.emit(event, {} if data is None else data, ns=ns)
        return self.ack(aid, ns=ns, timeout=timeout)

    def state(self, timeout: float = 0.5) -> str:
        """"open" (still answers a request), "stalled" (connected, no answer) or "closed"."""
        try:
            a = self.call("sync", {}, timeout=timeout)
        except (ConnectionError, websocket.WebSocketException, OSError):
            self.closed = True
            return "closed"
        return "open" if a is not None else "stalled"

    def alive(self) -> bool:
        return self.state(3) == "open"

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass
