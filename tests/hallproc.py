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

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class HallProcess:
    def __init__(self, data_dir: Path, plan: dict | None = None, config_extra: str = "", port: int | None = None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.plan = plan
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = self.data_dir / "config.toml"
        self.config_path.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {self.port}\ndata_dir = "{self.data_dir}"\n'
            f'public_url = "{self.url}"\n' + config_extra, encoding="utf-8")
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir / "server.log"
        if plan is not None and not (self.data_dir / "hall.db").exists():
            from hall_server.importer import import_plan

            import_plan(self.data_dir / "hall.db", plan)

    def start(self, timeout: float = 20) -> "HallProcess":
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hall_server", "--config", str(self.config_path), "serve"],
                                     cwd=REPO, stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not come up: " + self.log.read_text()[-3000:])

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
            return sio.call("start_sitting", {"sitting": sitting_id}, namespace="/staff", timeout=10)
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
