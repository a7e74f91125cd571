"""Tools for the takeover tests: a phone that keeps its answers like the app and does, after
a reconnect, what static_client/candidate/app.js does; finding the copier process.

No conftest.py here (tests/core imports a module named `conftest`)."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import socketio

from hallproc import REPO, HallProcess, stored_answers  # noqa: F401 (the takeover tests import it from here)

ANSWERING = ("answering",)
HAS_ANSWERS = ("answering", "submitted", "terminated")


def wait(cond, timeout: float, what: str, step: float = 0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


class Spare(HallProcess):
    """The spare laptop: its own data folder, the primary's port, started by `hall takeover`."""

    def start_takeover(self, replica: Path, timeout: float = 30) -> float:
        t0 = time.time()
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen([sys.executable, "-m", "hall_server", "--config", str(self.config_path),
                                          "takeover", "--from", str(replica)], cwd=REPO, stdout=logf,
                                         stderr=subprocess.STDOUT)
        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"takeover exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                return requests.get(self.url + "/healthz", timeout=1).ok
            except requests.RequestException:
                return False
        wait(up, timeout, "the spare to serve")
        return time.time() - t0


def copier_pids(server_pid: int) -> list[int]:
    """The replica copier(s) the server started (its children running hall_server.replica)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            cmd = (d / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == server_pid and b"hall_server.replica" in cmd:
            out.append(int(d.name))
    return out


def kill(pid: int, sig=signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class TakeoverPhone(threading.Thread):
    """A candidate's phone: every answer goes into local storage first, is marked saved only
    when an ack's seq >= the one sent, and unsaved ones are resent. After each (re)connect,
    as app.js: `resume` (or, if the server no longer knows the session, log in again with the
    same ticket, ID digits and device: the candidate typing them), then `sync` and re-queue
    every answer the server lacks; open the paper again if the server lost the opening (the
    candidate tapping 开始答题), and submit again if the server lost the submission."""

    def __init__(self, url: str, cand: dict, questions: int, seed: int, token_for, call_timeout: float = 3.0):
        super().__init__(daemon=True)
        self.url, self.cand, self.questions = url, dict(cand), questions
        self.token_for = token_for
        self.rng = random.Random(seed)
        self.call_timeout = call_timeout
        self.local: dict[int, tuple[str | None, int]] = {}
        self.saved: dict[int, int] = {}                       # app.js e.a: highest seq acked for q
        self.acked: dict[int, tuple[str | None, int]] = {}    # latest ack per q, from either laptop
        self.seq = 0
        self.status = cand.get("status", "answering")
        self.opened = self.status in HAS_ANSWERS      # the candidate has tapped 开始答题
        self.was_answering = self.opened
        self.paused = False
        self.receipt: str | None = None
        self.submit_wanted = False
        self.tapping = threading.Event()
        self.tapping.set()
        self.stop = threading.Event()
        self.sio: socketio.Client | None = None
        self.lock = threading.RLock()
        self.log: list = []           # (time, what)
        self.errors: list = []
        self.first_ack_after: dict[str, float] = {}
        self.marks: dict[str, float] = {}
        self.resumed_at: float | None = None
        self.relogins = self.reopens = self.resubmits = self.requeued = 0

    # -- the wire -------------------------------------------------------------------
    def call(self, event: str, payload: dict):
        sio = self.sio
        if sio is None:
            raise ConnectionError("offline")
        try:
            return sio.call(event, payload, timeout=self.call_timeout)
        except Exception as e:
            self._drop()
            raise ConnectionError(str(e)) from e

    def _drop(self) -> None:
        sio, self.sio = self.sio, None
        if sio is not None:
            threading.Thread(target=_quiet_disconnect, args=(sio,), daemon=True).start()

    def _lost(self, sio) -> None:
        """The connection dropped (socket.io's disconnect event): reconnect from the loop."""
        if self.sio is sio:
            self.sio = None

    def _on_state(self, st) -> None:
        if isinstance(st, dict):
            with self.lock:
                self._state(st)

    def _state(self, st: dict) -> None:
        self.status = st["status"]
        self.was_answering = self.was_answering or self.status == "answering"
        self.paused = st["sitting"]["status"] == "paused"
        if st.get("receipt"):
            self.receipt = st["receipt"]

    def connect(self) -> bool:
        sio = socketio.Client(reconnection=False, request_timeout=3)
        sio.on("state", self._on_state)
        sio.on("disconnect", lambda *a: self._lost(sio))
        try:
            sio.connect(self.url, transports=["websocket"], wait_timeout=3)
        except Exception:
            _quiet_disconnect(sio)
            return False
        self.sio = sio
        try:
            r = self.call("resume", {"session": self.cand["session"], "device": self.cand["device"]})
            if not r["ok"] and r["error"]["code"] == "bad_session":
                # The spare never saw this login: the candidate logs in again (same phone).
                r = self.call("login", {"token": self.token_for(self.cand["sitting"]), "ticket": self.cand["ticket"],
                                        "id6": self.cand["id6"], "device": self.cand["device"]})
                if r["ok"]:
                    self.cand["session"] = r["session"]
                    self.relogins += 1
            if not r["ok"]:
                self.errors.append(("resume", r))
                self._drop()
                return False
            with self.lock:
                self._state(r["state"])
            self.resumed_at = time.time()
            self.after_auth()
        except ConnectionError:
            return False
        return True

    def after_auth(self) -> None:
        """What app.js does once logged in again: trust no 'saved' mark until synced."""
        if self.status == "logged_in" and self.opened:
            r = self.call("confirm", {})
            if r["ok"]:
                self._state(r["state"])
        if self.status in HAS_ANSWERS:
            self.sync()
        if self.status == "answering" and self.receipt and not self.submit_wanted:
            self.submit_wanted = True        # the laptop lost our submission: hand in again
            self.resubmits += 1

    def sync(self) -> None:
        r = self.call("sync", {})
        if not r["ok"]:
            return
        with self.lock:
            self._state(r["state"])
            self.merge(r["answers"])

    def merge(self, answers: dict) -> None:
        """app.js mergeServerAnswers: the server's stored (choice, seq) is the truth; what we
        believed saved that it lacks (or holds older) goes back in the queue."""
        seen = set()
        for k, (choice, seq) in answers.items():
            q = int(k)
            seen.add(q)
            mine = self.local.get(q)
            if mine is None or seq >= mine[1]:
                self.local[q] = (choice, seq)
                self.saved[q] = seq
            else:
                if self.saved.get(q, -1) >= mine[1]:
                    self.requeued += 1
                self.saved[q] = seq
            self.seq = max(self.seq, seq)
        for q, (choice, seq) in self.local.items():
            if q not in seen and self.saved.get(q, -1) >= seq:
                self.saved[q] = -1
                self.requeued += 1

    def unsaved(self) -> list[int]:
        with self.lock:
            return sorted((q for q, (_, s) in self.local.items() if self.saved.get(q, -1) < s),
                          key=lambda q: self.local[q][1])

    def send(self, q: int) -> bool:
        choice, seq = self.local[q]
        r = self.call("answer", {"q": q, "choice": choice, "seq": seq})
        if r["ok"]:
            with self.lock:
                if r["seq"] >= seq:
                    self.saved[q] = max(self.saved.get(q, -1), r["seq"])
                prev = self.acked.get(q)
                if prev is None or r["seq"] >= prev[1]:
                    self.acked[q] = (r["choice"], r["seq"])
            now = time.time()
            for name, t in self.marks.items():
                if name not in self.first_ack_after and now >= t:
                    self.first_ack_after[name] = now
            return True
        code = r["error"]["code"]
        if code == "paused":
            self.paused = True
        elif code in ("not_answering", "submitted"):
            self.sync()
        elif code != "storage":
            self.errors.append(("answer", q, choice, seq, r))
        return False

    def open_paper(self) -> None:
        r = self.call("open", {})
        if r["ok"]:
            self.reopens += 1 if self.was_answering else 0
            self._state(r["state"])
            self.sync()                      # app.js: the first answering state after auth syncs
        elif r["error"]["code"] not in ("paused", "not_started"):
            self.errors.append(("open", r))

    def submit(self) -> None:
        with self.lock:
            payload = {str(q): [c, s] for q, (c, s) in self.local.items()}
        r = self.call("submit", {"answers": payload})
        if r["ok"]:
            with self.lock:
                self.submit_wanted = False
                self.receipt = r["receipt"]
                self.merge(r["answers"])
                for k, (c, s) in r["answers"].items():
                    prev = self.acked.get(int(k))
                    if prev is None or s >= prev[1]:
                        self.acked[int(k)] = (c, s)
                self._state(r["state"])
        elif r["error"]["code"] in ("submitted", "not_answering"):
            self.submit_wanted = False
            self.sync()
        elif r["error"]["code"] not in ("paused", "storage", "too_early"):
            self.errors.append(("submit", r))

    def mark(self, name: str) -> None:
        """From now on, note when this phone next gets an answer acknowledged."""
        self.marks[name] = time.time()

    # -- the candidate --------------------------------------------------------------
    def tap(self) -> None:
        with self.lock:
            q = self.rng.randint(1, self.questions)
            self.seq += 1
            self.local[q] = (self.rng.choice(["A", "B", "C", "D", None]), self.seq)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    if self.sio is None and not self.connect():
                        time.sleep(0.2)
                        continue
                    if self.status == "confirmed" and self.opened and not self.paused:
                        self.open_paper()    # the server lost the opening: 开始答题 again
                    if self.submit_wanted and self.status == "answering" and not self.paused:
                        self.submit()
                    if (self.status == "answering" and not self.paused and not self.submit_wanted
                            and self.tapping.is_set()):
                        self.tap()
                    if self.status == "answering" and not self.paused:
                        for q in self.unsaved()[:4]:
                            if not self.send(q):
                                break
                except ConnectionError:
                    pass
                time.sleep(self.rng.uniform(0.03, 0.12))
        except Exception as e:  # reported by the test
            self.errors.append(("crash", repr(e)))

    def flush(self, timeout: float = 20) -> None:
        """Resend until everything is saved (the phone's loop has stopped)."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up and self.status == "answering" and self.unsaved():
            try:
                if self.sio is None and not self.connect():
                    time.sleep(0.2)
                    continue
                for q in self.unsaved():
                    if not self.send(q):
                        break
            except ConnectionError:
                time.sleep(0.1)

    def close(self) -> None:
        self._drop()


def _quiet_disconnect(sio) -> None:
    try:
        sio.disconnect()
    except Exception:
        pass
