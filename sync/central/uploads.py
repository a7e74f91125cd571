"""Resumable uploads into the spool (the Store's mixin; protocol in docs/sync.md).

A reservation costs the centre a row and a spool file, so it is opened only with a site's
proof for that one file (``contracts.upload_proof``); the spool's byte budget counts the bytes
actually received, never the sizes declared; a reservation nobody has sent bytes to for
``idle_s`` is dropped the next time room is needed, and one site can hold only a few open
at a time. So a stranger cannot open any, and a site cannot block the others.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from contracts.result_bundle import MAX_BUNDLE_BYTES, BundleRejected
from contracts.upload_proof import verify_open


@dataclass(frozen=True)
class UploadLimits:
    idle_s: float = 30 * 60                # an open upload with no bytes for this long may be dropped
    max_open: int = 2000                   # open uploads, all sites together
    max_open_per_site: int = 16            # open uploads of one site (a county run sends them one by one)
    max_spool_bytes: int = 4 * 1024 ** 3   # bytes received into open uploads, all together


class UploadBusy(Exception):
    """No room in the spool now (503 busy: the client retries later)."""


class UploadsMixin:
    spool: Path
    upload_limits: UploadLimits
    _finalizing: dict
    lock: threading.Lock

    def _part(self, upload_id: str) -> Path:
        return self.spool / f"{upload_id}.part"

    @staticmethod
    def _state(r) -> dict:
        return {"upload_id": r["upload_id"], "sha256": r["sha256"], "size": r["size"],
                "offset": r["received"], "status": r["status"]}

    def _drop_idle(self, c) -> int:
        """Drop open uploads idle longer than the limit (inside the caller's transaction)."""
        stale = [x[0] for x in c.execute("SELECT upload_id FROM uploads WHERE status = 'open' AND updated_at < ?",
                                         (self.clock() - self.upload_limits.idle_s,)).fetchall()]
        for old in stale:
            c.execute("DELETE FROM uploads WHERE upload_id = ?", (old,))
            self._part(old).unlink(missing_ok=True)
        return len(stale)

    def open_upload(self, sha256: str, size: int, site_no: str | None = None, sig: str | None = None) -> dict:
        """Start or resume an upload of the bundle with this hash, for the site whose key
        signed the request (``contracts.upload_proof``; raises OpenRefused). If the centre already
        has it, returns {'status': 'accepted', 'receipt': ...} at once. UploadBusy: no room."""
        if not (isinstance(sha256, str) and len(sha256) == 64 and all(ch in "0123456789abcdef" for ch in sha256)):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0 or size > MAX_BUNDLE_BYTES:
            raise ValueError(f"size must be 1..{MAX_BUNDLE_BYTES}")
        site = verify_open({"sha256": sha256, "size": size, "site_no": site_no, "sig": sig}, self.site_keys)
        rec = self.existing_receipt(sha256)
        if rec is not None:
            return {"status": "accepted", "duplicate": True, "receipt": rec}
        self.spool.mkdir(parents=True, exist_ok=True)
        lim = self.upload_limits
        with self.tx() as c:
            c.lock(f"hall-central:upload:{sha256}")      # two opens of one bundle resume one upload
            r = c.execute("SELECT * FROM uploads WHERE sha256 = ? AND size = ? AND status = 'open'"
                          " ORDER BY created_at LIMIT 1", (sha256, size)).fetchone()
            if r is not None:
                return {"status": "open", **self._state(r)}
            self._drop_idle(c)
            n_open = c.execute("SELECT COUNT(*) FROM uploads WHERE status = 'open'").fetchone()[0]
            n_site = c.execute("SELECT COUNT(*) FROM uploads WHERE status = 'open' AND site_no = ?",
                               (site,)).fetchone()[0]
            if n_open >= lim.max_open or n_site >= lim.max_open_per_site:
                raise UploadBusy("too many open uploads")
            uid = secrets.token_hex(16)
            now = self.clock()
            r = c.execute("INSERT INTO uploads(upload_id, sha256, size, received, created_at, updated_at, status,"
                          " site_no) VALUES (?,?,?,0,?,?, 'open', ?) RETURNING *",
                          (uid, sha256, size, now, now, site)).fetchone()
            self._part(uid).write_bytes(b"")
            return {"status": "open", **self._state(r)}

    def upload_state(self, upload_id: str) -> dict | None:
        rows = self.query("SELECT * FROM uploads WHERE upload_id = ?", (upload_id,))
        return self._state(rows[0]) if rows else None

    def _spool_room(self, c, need: int) -> bool:
        used = c.execute("SELECT COALESCE(SUM(received), 0) FROM uploads WHERE status = 'open'").fetchone()[0]
        return int(used) + need <= self.upload_limits.max_spool_bytes

    def put_chunk(self, upload_id: str, offset: int, chunk: bytes) -> dict:
        """Append a chunk at ``offset``. The committed offset only moves after the bytes
        are on disk (fsync). A chunk at a stale offset that matches what is already there
        is accepted as a harmless repeat; any other offset mismatch -> ('conflict', state).
        UploadBusy when the spool's received bytes would pass the budget."""
        with self.tx() as c:
            r = c.execute("SELECT * FROM uploads WHERE upload_id = ?" + c.for_update, (upload_id,)).fetchone()
            if r is None:
                raise KeyError(upload_id)
            st = self._state(r)
            if r["status"] != "open":
                return {"result": "done", **st}
            committed, size = int(r["received"]), int(r["size"])
            if offset + len(chunk) > size:
                raise ValueError("chunk past the declared size")
            if offset != committed:
                if offset < committed and offset + len(chunk) <= committed:
                    with open(self._part(upload_id), "rb") as f:
                        f.seek(offset)
                        if f.read(len(chunk)) == chunk:
                            return {"result": "ok", **st}
                return {"result": "conflict", **st}
            if not self._spool_room(c, len(chunk)):
                self._drop_idle(c)
                if not self._spool_room(c, len(chunk)):
                    raise UploadBusy("spool full")
            with open(self._part(upload_id), "r+b") as f:
                f.truncate(committed)       # drop any torn tail from an earlier crash
                f.seek(committed)
                f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            c.execute("UPDATE uploads SET received = ?, updated_at = ? WHERE upload_id = ?",
                      (committed + len(chunk), self.clock(), upload_id))
        return {"result": "ok", **st, "offset": committed + len(chunk)}

    def finalize_upload(self, upload_id: str) -> tuple[str, dict]:
        """('accepted'|'duplicate', receipt) or raise BundleRejected / ('incomplete', state).
        Finalizes of one upload run one at a time: a retry that arrives while the first is
        still ingesting waits for it and then gets the same answer."""
        with self.lock:
            ulock = self._finalizing.setdefault(upload_id, threading.Lock())
        with ulock:
            return self._finalize(upload_id)

    def _finalize(self, upload_id: str) -> tuple[str, dict]:
        rows = self.query("SELECT * FROM uploads WHERE upload_id = ?", (upload_id,))
        if not rows:
            raise KeyError(upload_id)
        r = rows[0]
        st = self._state(r)
        if st["status"] == "done":
            rec = self.existing_receipt(st["sha256"])
            if rec is not None:   # a repeated finalize (the answer was lost): the same answer again
                return r["outcome"] or "duplicate", rec
            if r["error"]:   # a repeated finalize of a refused bundle: the same answer again
                e = json.loads(r["error"])
                raise BundleRejected(e.pop("code"), e.pop("message"), **e)
            raise KeyError(upload_id)
        if st["offset"] < st["size"]:
            return "incomplete", st
        data = self._part(upload_id).read_bytes()[: st["size"]]
        if hashlib.sha256(data).hexdigest() != st["sha256"]:
            self._discard(upload_id)
            err = BundleRejected("hash_mismatch", "收到的数据与声明的哈希不符（传输中损坏），请重新上传")
            self.record_rejection(err, st["sha256"], "upload")
            raise err
        try:
            status, receipt = self.ingest(data, source="upload")
        except BundleRejected as e:
            self._discard(upload_id, done=True, error=e.as_dict())
            raise
        self._discard(upload_id, done=True, outcome=status)
        return status, receipt

    def _discard(self, upload_id: str, done: bool = False, error: dict | None = None,
                 outcome: str | None = None) -> None:
        with self.tx() as c:
            if done:   # only the first finalize's answer is kept (another process may have been first)
                c.execute("UPDATE uploads SET status = 'done', updated_at = ?, error = ?, outcome = ?"
                          " WHERE upload_id = ? AND status = 'open'",
                          (self.clock(), json.dumps(error, ensure_ascii=False) if error else None, outcome,
                           upload_id))
            else:
                c.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        self._part(upload_id).unlink(missing_ok=True)
