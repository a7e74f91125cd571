"""The replica folder on the stick: two database files written in turn, and the marker that
names the one that is complete.

    CURRENT.json         the complete copy: file, snapshot's exam time, page digest, site
    hall-replica-a.db  \\ one is the file CURRENT.json names (complete and fsynced); the
    hall-replica-b.db  / other is the copy before it, or the one being rewritten now

A copy goes into the file the marker does not name, only the pages that differ from what
that file holds; the file is fsynced, then the marker is replaced (temp file, fsync,
rename, fsync of the folder). A crash or a pulled stick at any moment leaves the marker
naming a complete file. The marker's per-page digest lets the spare prove the file is
exactly that snapshot before using it.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from ..durable import fsync_dir, write_atomic
from .pages import changed_runs, digest, file_hashes, page_hashes

FILES = ("hall-replica-a.db", "hall-replica-b.db")
MARKER = "CURRENT.json"
FORMAT = "hall-replica/1"
_SUMMARY = ("file", "seq", "taken_at", "pages", "page_size", "digest")


class ReplicaError(RuntimeError):
    """A replica folder that cannot be used; the message is Chinese, for the staff."""


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


class ReplicaDir:
    def __init__(self, path) -> None:
        self.path = Path(path)
        # Fingerprints of what each file holds, once known (read from the stick at the first
        # copy, then kept): None = unknown, e.g. after a failed write.
        self._known: dict[str, list[int] | None] = {}

    # -- reading --------------------------------------------------------------------
    def marker(self) -> dict | None:
        try:
            data = json.loads((self.path / MARKER).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise ReplicaError(f"副本标记 {self.path / MARKER} 无法读取: {e}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("file") not in FILES:
            raise ReplicaError(f"{self.path / MARKER} 不是 hall 的副本标记")
        return data

    def verify(self, entry: dict) -> str | None:
        """None if the file `entry` names is exactly the snapshot it describes, else why not."""
        path = self.path / entry["file"]
        try:
            size = path.stat().st_size
        except OSError as e:
            return f"无法读取 {path.name}: {e}"
        if size != entry["pages"] * entry["page_size"]:
            return f"{path.name} 大小不符（{size} 字节，应为 {entry['pages'] * entry['page_size']}）"
        try:
            got = file_hashes(path, entry["page_size"])
        except OSError as e:
            return f"无法读取 {path.name}: {e}"
        if got is None or digest(got) != entry["digest"]:
            return f"{path.name} 内容与标记不符（写入未完成或U盘损坏）"
        return None

    def latest(self) -> tuple[Path, dict, list[str]]:
        """The newest copy that verifies, its description, and what was passed over (Chinese)."""
        m = self.marker()
        if m is None:
            raise ReplicaError(f"{self.path} 中没有副本（缺少 {MARKER}）：请确认选择的是副本文件夹")
        notes: list[str] = []
        for entry in (m, m.get("previous")):
            if not entry:
                continue
            problem = self.verify(entry)
            if problem is None:
                return self.path / entry["file"], {**m, **{k: entry[k] for k in _SUMMARY}}, notes
            notes.append(problem)
        raise ReplicaError("副本无法使用: " + "；".join(notes))

    # -- writing --------------------------------------------------------------------
    def claim(self, source_id: str) -> None:
        """Before the first copy: a marker left by another database (another site, a
        rehearsal) is removed, so it can never name a file this copier has half rewritten.
        Only the folder itself is created: its parent is the stick's mount point, and a stick
        that is not mounted must fail loudly, not fill the laptop's own disk."""
        self.path.mkdir(exist_ok=True)
        try:
            m = self.marker()
        except ReplicaError:
            m = {}
        if m is not None and m.get("source_id") != source_id:
            (self.path / MARKER).unlink(missing_ok=True)
            shutil.rmtree(self.path / "photos", ignore_errors=True)   # another site's photos
            fsync_dir(self.path)
        # A -wal or -shm beside a copy only appears when someone opened it in place with
        # SQLite; SQLite would apply such a stale log to the next copy. Never part of a copy.
        for name in FILES:
            for suffix in ("-wal", "-shm", "-journal"):
                (self.path / (name + suffix)).unlink(missing_ok=True)

    def write(self, image: bytes, page_size: int, info: dict) -> tuple[dict, int]:
        """Write one snapshot; returns the new marker and the number of pages written."""
        t0 = time.monotonic()
        try:
            current = self.marker()
        except ReplicaError:
            current = None
        target = FILES[1] if current and current["file"] == FILES[0] else FILES[0]
        hashes = page_hashes(image, page_size)
        known = self._known.get(target)
        if known is None:
            known = file_hashes(self.path / target, page_size)
        runs = changed_runs(hashes, known)
        self._known[target] = None   # unknown until the writes below are on the stick
        mv = memoryview(image)
        fd = os.open(self.path / target, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            for start, count in runs:
                _pwrite_all(fd, mv[start * page_size:(start + count) * page_size], start * page_size)
            os.ftruncate(fd, len(image))
            os.fsync(fd)
        finally:
            os.close(fd)
        self._known[target] = hashes
        written = sum(c for _, c in runs)
        marker = {"format": FORMAT, **info, "file": target, "pages": len(hashes), "page_size": page_size,
                  "digest": digest(hashes), "written_pages": written, "write_s": round(time.monotonic() - t0, 4),
                  "previous": {k: current[k] for k in _SUMMARY}
                  if current and current.get("source_id") == info.get("source_id") else None}
        write_json_atomic(self.path / MARKER, marker)
        return marker, written
