"""Tools for the fault suite (tests/faults): a server process whose disk we can fill or
break, a TCP proxy that can cut every phone's connection at once, and a phone that behaves
like the real app (queues unsaved answers, reconnects, resumes, resends).

No conftest.py here on purpose (tests/core imports `conftest` by name)."""
from __future__ import annotations

import os
import random
import resource
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import socketio

from hallproc import REPO, HallProcess, acked_missing, free_port, stored_answers, wait_healthy

__all__ = ["FaultHall", "TcpProxy", "AppPhone", "setup_answering", "acked_lost", "Tmpfs", "LoopExt4", "REPO"]


class FaultHall(HallProcess):
    """HallProcess whose output goes through a pipe (so a file-size limit or a full disk
    cannot break the server's logging) and whose file-size limit we can change while it
    runs (prlimit: the disk "fills" and "frees" mid-exam, no root needed to lower it).
    `server_extra` adds keys to the [server] table (config_extra cannot: TOML forbids
    a second [server])."""

    def __init__(self, *a, server_extra: str = "", **kw):
        super().__init__(*a, **kw)
        if server_extra:
            text = self.config_path.read_text(encoding="utf-8")
            self.config_path.write_text(text.replace("[server]\n", "[server]\n" + server_extra, 1), encoding="utf-8")

    def start(self, timeout: float = 20) -> "FaultHall":
        self.proc = subprocess.Popen([sys.executable, "-m", "hall_server", "--config", str(self.config_path), "serve"],
                                     cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log = open(self.log, "ab")
        threading.Thread(target=self._drain, args=(self.proc.stdout, log), daemon=True).start()
        wait_healthy(self.url, timeout, self.proc, self.log)
        return self

    @staticmethod
    def _drain(pipe, log) -> None:
        for chunk in iter(lambda: pipe.read1(65536), b""):
            try:
                log.write(chunk)
                log.flush()
            except OSError:
                pass  # the disk under test is full or read-only: the test will say so
        try:
            log.close()
        except OSError:
            pass

    def limit_file_size(self, nbytes: int) -> None:
        """From now on no file of the server may grow beyond nbytes (EFBIG, which SQLite
        reports as 'database or disk is full'). CPython ignores SIGXFSZ."""
        _, hard = resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (nbytes, hard))

    def unlimit_file_size(self) -> None:
        _, hard = resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))

    def health(self) -> dict:
        return requests.get(self.url + "/healthz", timeout=5).json()


# -- mounts (root only) ---------------------------------------------------------------

def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


class Tmpfs:
    """A small tmpfs: a real disk that really fills up (ENOSPC)."""

    def __init__(self, path: Path, size: str = "4m"):
        self.path = Path(path)
        self.size = size

    @staticmethod
    def why_not() -> str | None:
        if os.geteuid() != 0:
            return "needs root to mount a tmpfs"
        if shutil.which("mount") is None:
            return "no mount(8)"
        return None

    def __enter__(self) -> "Tmpfs":
        self.path.mkdir(parents=True, exist_ok=True)
        r = _run("mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.path))
        if r.returncode != 0:
            raise OSError(f"mount tmpfs failed: {r.stderr}")
        return self

    def fill(self) -> Path:
        """Take every free byte; returns the filler file."""
        filler = self.path / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 65536, 4096, 512, 1):
                try:
                    while os.write(fd, b"\0" * size) == size:
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)
        return filler

    def __exit__(self, *exc) -> None:
        _run("umount", "-l", str(self.path))


class LoopExt4:
    """An ext4 file system on a loop device, mounted errors=remount-ro: triggering a file
    system error turns it read-only under the running server, as a failing SSD or a
    yanked USB disk would."""

    def __init__(self, path: Path, image: Path, size_mb: int = 16):
        self.path, self.image, self.size_mb = Path(path), Path(image), size_mb
        self.dev: str | None = None

    @staticmethod
    def why_not() -> str | None:
        if os.geteuid() != 0:
            return "needs root for a loop mount"
        for tool in ("mount", "mkfs.ext4", "losetup", "e2fsck", "findmnt"):
            if shutil.which(tool) is None:
                return f"no {tool}"
        if not Path("/dev/loop-control").exists():
            return "no /dev/loop-control (loop devices not available in this container)"
        return None

    def __enter__(self) -> "LoopExt4":
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.image, "wb") as f:
            f.truncate(self.size_mb * 1024 * 1024)
        r = _run("mkfs.ext4", "-q", "-F", str(self.image))
        if r.returncode != 0:
            raise OSError(f"mkfs.ext4 failed: {r.stderr}")
        self.mount()
        return self

    def mount(self) -> None:
        r = _run("mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.path))
        if r.returncode != 0:
            raise OSError(f"loop mount failed: {r.stderr}")
        self.dev = Path(_run("findmnt", "-n", "-o", "SOURCE", str(self.path)).stdout.strip()).name

    def break_fs(self) -> None:
        """The kernel's own path for a failing disk: ext4 error -> emergency read-only."""
        Path(f"/sys/fs/ext4/{self.dev}/trigger_fs_error").write_text("hall fault test\n")

    def is_readonly(self) -> bool:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 3 and parts[1] == str(self.path):
                return "ro" in parts[3].split(",") or "emergency_ro" in parts[3]
        return False

    def repair(self) -> None:
        """What the staff would do: unmount, fsck, mount again (server must be stopped)."""
        _run("umount", str(self.path))
        _run("e2fsck", "-fy", str(self.image))
        self.mount()

    def __exit__(self, *exc) -> None:
        _run("umount", "-l", str(self.path))
        try:
            self.image.unlink()
        except OSError:
            pass


# -- the network ---------------------------------------------------------------------

class TcpProxy:
    """Phones -> proxy -> server. `cut()` resets every connection at once (the WiFi access
    point reboots); `holding` stops forwarding without closing anything (phones walk out
    of range: half-open connections); `mute_down` delivers requests but loses every reply
    (answers committed, acks lost); `refuse` rejects new connections meanwhile."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(512)
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.holding = threading.Event()   # blackhole: read nothing, forward nothing
        self.mute_down = threading.Event()  # server -> phone bytes are lost (acks vanish)
        self.refuse = threading.Event()
        self.stopped = False
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.refuse.is_set():
                _reset(c)
                continue
            try:
                s = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(c)
                continue
            with self.lock:
                self.pairs.append((c, s))
                self.connections += 1
            threading.Thread(target=self._pump, args=(c, s), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                if self.holding.is_set():
                    time.sleep(0.02)
                    continue
                r, _, _ = select.select([a, b], [], [], 0.05)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("eof")
                    if s is b and self.mute_down.is_set():
                        continue
                    peers[s].sendall(data)
        except (OSError, ValueError):  # ValueError: cut() closed the socket under select()
            pass
        finally:
            _reset(a)
            _reset(b)
            with self.lock:
                if (a, b) in self.pairs:
                    self.pairs.remove((a, b))

    def cut(self) -> int:
        """RST every live connection, both sides; returns how many."""
        with self.lock:
            pairs = list(self.pairs)
            self.pairs.clear()
        for a, b in pairs:
            _reset(a)
            _reset(b)
        return len(pairs)

    def live(self) -> int:
        with self.lock:
            return len(self.pairs)

    def close(self) -> None:
        self.stopped = True
        self.lsock.close()
        self.cut()


def _reset(s: socket.socket) -> None:
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


# -- phones --------------------------------------------------------------------------

class AppPhone(threading.Thread):
    """What static_client does, minus the screen: every answer goes into local storage
    first; the phone marks q saved only when an ack's seq >= the seq it sent; on any
    failure it reconnects (with backoff), sends `resume`, and resends what is unsaved."""

    def __init__(self, url: str, cand: dict, questions: int, seed: int, call_timeout: float = 2.0):
        super().__init__(daemon=True)
        self.url, self.cand, self.questions = url, cand, questions
        self.rng = random.Random(seed)
        self.call_timeout = call_timeout
        self.local: dict[int, tuple[str | None, int]] = {}
        self.saved_seq: dict[int, int] = {}
        self.acked: dict[int, tuple[str | None, int]] = {}   # latest ack per q
        self.seq = cand.get("seq", 0)
        self.sio: socketio.Client | None = None
        self.stop = threading.Event()
        self.stats = {"sent": 0, "acked": 0, "failures": 0, "reconnects": 0, "storage": 0, "resent": 0}
        self.errors: list = []
        self.unacked: set[tuple[int, int]] = set()  # (q, seq) sent whose ack never came

    # connection ---------------------------------------------------------------------
    def _try_connect(self) -> bool:
        sio = socketio.Client(reconnection=False, request_timeout=2)
        try:
            sio.connect(self.url, transports=["websocket"], wait_timeout=3)
            r = sio.call("resume", {"session": self.cand["session"], "device": self.cand["device"]},
                         timeout=self.call_timeout)
        except Exception:
            _quiet_disconnect(sio)
            return False
        if not r.get("ok"):
            self.errors.append(("resume", r))
            _quiet_disconnect(sio)
            return False
        self.sio = sio
        self.stats["reconnects"] += 1
        return True

    def _drop(self) -> None:
        self.stats["failures"] += 1
        sio, self.sio = self.sio, None
        if sio is not None:
            threading.Thread(target=_quiet_disconnect, args=(sio,), daemon=True).start()

    def unsaved(self) -> list[int]:
        return [q for q, (_, s) in self.local.items() if self.saved_seq.get(q, -1) < s]

    def _send(self, q: int) -> bool:
        if self.sio is None:
            return False
        choice, seq = self.local[q]
        try:
            self.stats["sent"] += 1
            r = self.sio.call("answer", {"q": q, "choice": choice, "seq": seq}, timeout=self.call_timeout)
        except Exception:
            self.unacked.add((q, seq))
            self._drop()
            return False
        if r.get("ok"):
            self.stats["acked"] += 1
            if r["seq"] >= seq:
                self.saved_seq[q] = max(self.saved_seq.get(q, -1), r["seq"])
            prev = self.acked.get(q)
            if prev is None or r["seq"] >= prev[1]:
                self.acked[q] = (r["choice"], r["seq"])
            return True
        if r["error"]["code"] == "storage":
            self.stats["storage"] += 1
        else:
            self.errors.append(("answer", q, choice, seq, r))
        return False

    # the candidate ------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self.stop.is_set():
                # The candidate taps an answer: it is stored on the phone first.
                q = self.rng.randint(1, self.questions)
                self.seq += 1
                self.local[q] = (self.rng.choice(["A", "B", "C", "D", None]), self.seq)
                if self.sio is None and not self._try_connect():
                    time.sleep(0.1)   # offline: keep answering, retry the connection soon
                    continue
                for uq in self.unsaved()[:4]:   # the queue, including this answer
                    if uq != q:
                        self.stats["resent"] += 1
                    if not self._send(uq):
                        break
                time.sleep(self.rng.uniform(0, 0.02))
        except Exception as e:  # reported by the test
            self.errors.append(("crash", repr(e)))

    def flush(self, timeout: float = 20) -> None:
        """After the fault: keep reconnecting and resending until everything is saved."""
        give_up = time.monotonic() + timeout
        while self.unsaved() and time.monotonic() < give_up:
            if self.sio is None and not self._try_connect():
                time.sleep(0.1)
                continue
            for q in self.unsaved():
                if not self._send(q):
                    break
            if self.unsaved():
                time.sleep(0.05)

    def close(self) -> None:
        if self.sio is not None:
            _quiet_disconnect(self.sio)


def _quiet_disconnect(sio) -> None:
    try:
        sio.disconnect()
    except Exception:
        pass


def setup_answering(hall: HallProcess, plan: dict, cands: list[dict]) -> list[dict]:
    """Log in, confirm, start the sittings and open the paper for each candidate; returns
    what each phone keeps in storage (session, device)."""
    from hallproc import Phone

    out = []
    for c in cands:
        p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
        assert p.login(c["sitting_id"])["ok"]
        assert p.call("confirm")["ok"]
        out.append({"ticket": c["ticket"], "session": p.session, "device": p.device, "sitting": c["sitting_id"],
                    "phone": p})
    for sid in sorted({c["sitting"] for c in out}):
        hall.start_sitting(sid)
    for c in out:
        r = c["phone"].call("open")
        assert r["ok"], r
        c["deadline"] = r["state"]["deadline"]
        c.pop("phone").close()
    return out


def acked_lost(hall: HallProcess, acked: dict) -> list:
    """Acknowledged (ticket, q) -> (choice, seq) not (or no longer) in the database."""
    return acked_missing(acked, stored_answers(hall.data_dir / "hall.db"))
