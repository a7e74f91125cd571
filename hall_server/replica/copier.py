"""The copier: a child process of `hall serve` that snapshots the database into the replica
folder again and again (store.py), and reports each copy as one JSON line on stdout.

    python -m hall_server.replica --db DB --dest FOLDER --interval 1 --max-cpu-share 0.25

Its stdin is a pipe from the server: when the server dies, stdin reaches end-of-file and
the copier exits (the wait between copies is that read). A snapshot is one read
transaction (`serialize`, WAL: the writer never waits for it); its `taken_at` is the exam
time read before it starts, so every change committed before `taken_at` is in the copy.
A large database is copied less often: the copier keeps its CPU below `max_cpu_share` of
one core by waiting longer between copies.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

from ..exam.clock import ExamClock, boot_id
from .files import copy_new
from .store import ReplicaDir

PHOTOS = "photos"          # beside the copies on the stick

NICE = 10


def source_id(site_key_private: str) -> str:
    """The same for every copy of one site's database (primary, spare), different for another
    site or a rehearsal (its own key): a stick never mixes two databases."""
    return hashlib.sha256(b"hall-replica|" + site_key_private.encode()).hexdigest()[:16]


def open_source(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    # Pages come straight from the file's mapping (and the WAL), not one read() per page.
    conn.execute("PRAGMA mmap_size = 1073741824")
    return conn


def snapshot(conn: sqlite3.Connection) -> tuple[float, dict, bytes, int]:
    """(taken_at, meta, image, page size): exam time before the read, then one consistent image."""
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('site_no', 'site_name',"
                             " 'site_key_private', 'clock_boot_id', 'clock_anchor_wall', 'clock_anchor_elapsed')"))
    taken_at = ExamClock.from_meta(meta, boot_id()).now()
    image = conn.serialize()
    page_size = int.from_bytes(image[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size   # the header stores 64 KiB as 1
    return taken_at, meta, image, page_size


def parent_gone(wait: float) -> bool:
    """Wait up to `wait` seconds; True if the server closed our stdin (it exited)."""
    r, _, _ = select.select([sys.stdin], [], [], max(0.0, wait))
    return bool(r) and not os.read(sys.stdin.fileno(), 4096)


def report(**fields) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def run(db: Path, dest: Path, interval: float, max_cpu_share: float, base_url: str,
        photos: Path | None = None) -> int:
    store = ReplicaDir(dest)
    conn = None
    claimed = None
    photos_known: set[str] | None = None
    seq = 0
    host = socket.gethostname()
    while True:
        started, cpu0 = time.monotonic(), time.process_time()
        try:
            if conn is None:
                conn = open_source(db)
            taken_at, meta, image, page_size = snapshot(conn)
            sid = source_id(meta["site_key_private"])
            if claimed != sid:
                store.claim(sid)
                claimed = sid
                seq = max(seq, (store.marker() or {}).get("seq", 0))   # a restarted copier counts on
            copied = 0
            if photos is not None:   # after the snapshot, before the marker: every photo it names
                photos_known, copied = copy_new(photos, dest / PHOTOS, photos_known)
            seq += 1
            marker, written = store.write(image, page_size, {
                "source_id": sid, "seq": seq, "taken_at": taken_at, "written_at": time.time(),
                "site_no": meta.get("site_no", ""), "site_name": meta.get("site_name", ""),
                "base_url": base_url, "host": host})
            del image
            report(ok=True, seq=seq, taken_at=taken_at, pages=marker["pages"], written=written, photos=copied,
                   seconds=round(time.monotonic() - started, 3), cpu=round(time.process_time() - cpu0, 3))
        except (OSError, sqlite3.Error, KeyError, ValueError) as e:
            report(ok=False, error=f"{type(e).__name__}: {e}", seconds=round(time.monotonic() - started, 3))
            if isinstance(e, sqlite3.Error) and conn is not None:
                conn.close()
                conn = None
            # The stick may have been pulled and another (or the same) put back: claim the
            # folder again and learn its files afresh.
            store, claimed, photos_known = ReplicaDir(dest), None, None
        cpu = time.process_time() - cpu0
        busy = time.monotonic() - started
        if parent_gone(max(interval, cpu / max_cpu_share) - busy):
            return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hall_server.replica")
    ap.add_argument("--db", required=True)
    ap.add_argument("--dest", required=True)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--max-cpu-share", type=float, default=0.25)
    ap.add_argument("--base-url", default="")
    ap.add_argument("--photos", help="the proctoring photos folder (copied beside the database)")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _die_with_parent()
    # The phones come first: on a two-core laptop the copier takes only what the server leaves
    # (a copy of a 100 MB database costs about 0.2 s of CPU; docs/takeover.md).
    os.nice(NICE)
    try:
        return run(Path(a.db), Path(a.dest), a.interval, a.max_cpu_share, a.base_url,
                   Path(a.photos) if a.photos else None)
    except KeyboardInterrupt:
        return 0


def _die_with_parent() -> None:
    """Linux: SIGTERM when the server exits, even if the stdin pipe were inherited elsewhere."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
