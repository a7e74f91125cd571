"""Central storage (SQLite, WAL): bundles, chunked uploads, per-candidate results,
answer keys, pass marks, rejections. One Store per process; thread-safe via a lock and
short transactions (the ingest path is serialized: it is cheap and correctness matters
more than parallel writes).
"""
from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..audit_chain import canonical_json
from ..result_bundle import MAX_BUNDLE_BYTES, BundleRejected, bundle_id, verify_result_bundle

RECEIPT_FORMAT = "hall-receipt/1"
WATERMARK_KEYS = ("audit_log", "answer_log", "device_events", "violations", "incidents", "time_adjustments")
MAX_OPEN_UPLOADS = 2000
MAX_SPOOL_BYTES = 4 * 1024 ** 3       # declared sizes of all open uploads together
UPLOAD_TTL_S = 7 * 24 * 3600          # an open upload untouched this long is dropped

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bundles (
    bundle_id   TEXT PRIMARY KEY,
    site_no     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    watermarks  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    received_at REAL NOT NULL,
    receipt     TEXT NOT NULL,
    counts      TEXT NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bundles_site ON bundles(site_no);
CREATE TABLE IF NOT EXISTS bundle_blobs (bundle_id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id  TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    received   INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('open', 'done')),
    outcome    TEXT,                     -- accepted | duplicate: what the first finalize answered
    error      TEXT                      -- JSON of the rejection, when finalize refused it
);
CREATE INDEX IF NOT EXISTS uploads_sha ON uploads(sha256, size, status);
-- One row per candidate the centre has heard of (roster or bundle), latest generation wins.
CREATE TABLE IF NOT EXISTS results (
    ticket        TEXT PRIMARY KEY,
    site_no       TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    id_number     TEXT NOT NULL DEFAULT '',
    category      TEXT NOT NULL DEFAULT '',
    level         TEXT NOT NULL DEFAULT '',
    unit          TEXT NOT NULL DEFAULT '',
    department    TEXT NOT NULL DEFAULT '',
    sitting_id    TEXT,
    expected      INTEGER NOT NULL DEFAULT 0,   -- on the centre's roster
    in_bundle     INTEGER NOT NULL DEFAULT 0,   -- reported by a site bundle
    bundle_id     TEXT,
    generation    INTEGER,
    status        TEXT,                         -- attempt status, or 'absent'
    opened_at     REAL,
    submitted_at  REAL,
    deadline_at   REAL,
    submit_reason TEXT,
    device_changes INTEGER,
    violation     TEXT,                         -- worst: minor | cheating | serious
    answers       TEXT,                         -- JSON [[q, choice], ...]
    site_score    REAL,
    centre_score  REAL,
    correct       INTEGER,
    score_note    TEXT
);
CREATE INDEX IF NOT EXISTS results_site ON results(site_no);
CREATE TABLE IF NOT EXISTS answer_keys (
    ticket   TEXT PRIMARY KEY,
    key_json TEXT NOT NULL,
    points   REAL NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS pass_marks (
    category TEXT NOT NULL,
    level    TEXT NOT NULL,
    mark     REAL NOT NULL,
    set_at   REAL NOT NULL,
    PRIMARY KEY (category, level)
);
CREATE TABLE IF NOT EXISTS rejections (
    id        INTEGER PRIMARY KEY,
    ts        REAL NOT NULL,
    site_no   TEXT,
    bundle_id TEXT,
    code      TEXT NOT NULL,
    message   TEXT NOT NULL,
    source    TEXT NOT NULL
);
"""

VIOLATION_RANK = {None: 0, "minor": 1, "cheating": 2, "serious": 3}


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def load_site_keys(path: str | Path) -> dict[str, str]:
    """provisioning's site_keys.json: {site_no: public_key_b64} or
    {site_no: {"public": b64, "bundle_id": ..., "name": ...}} -> {site_no: public_b64}."""
    return {k: v["public"] for k, v in load_site_registry(path).items()}


def load_site_registry(path: str | Path) -> dict[str, dict]:
    """site_keys.json -> {site_no: {"public": b64, "bundle_id": plan bundle id or ""}}."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    out = {}
    for k, v in raw.items():
        if isinstance(v, dict):
            out[str(k)] = {"public": str(v.get("public") or v.get("public_key")),
                           "bundle_id": str(v.get("bundle_id") or "")}
        else:
            out[str(k)] = {"public": str(v), "bundle_id": ""}
    return out


def load_answer_keys(path: str | Path) -> dict[str, dict]:
    """The centre's answer keys, from any of:
    * a JSON file {ticket: ["A", ...]} or {ticket: {"key": [...], "points": 1}};
    * a provisioning centre file (out/centre/papers/site_NNN.json: {"site_no", "keys": {ticket: [...]}, ...});
    * a folder of such files (e.g. out/centre/papers/)."""
    p = Path(path)
    files = sorted(p.glob("*.json")) if p.is_dir() else [p]
    out: dict[str, dict] = {}
    for f in files:
        raw = json.loads(f.read_text(encoding="utf-8"))
        if isinstance(raw, dict) and isinstance(raw.get("keys"), dict) and "site_no" in raw:
            raw = raw["keys"]
        for t, v in raw.items():
            out[str(t)] = v if isinstance(v, dict) else {"key": v}
    return out


def score_answers(answers: Iterable, key: list, points: float) -> tuple[float, int]:
    correct = 0
    for q, choice in answers:
        if choice is not None and isinstance(q, int) and 0 < q <= len(key) and key[q - 1] == choice:
            correct += 1
    return correct * points, correct


def _compare(a: Mapping[str, int], b: Mapping[str, int]) -> str:
    """Componentwise order of two watermark vectors: 'eq' | 'lt' | 'gt' | 'incomparable'."""
    le = all(int(a.get(k, 0)) <= int(b.get(k, 0)) for k in WATERMARK_KEYS)
    ge = all(int(a.get(k, 0)) >= int(b.get(k, 0)) for k in WATERMARK_KEYS)
    if le and ge:
        return "eq"
    return "lt" if le else "gt" if ge else "incomparable"


class Store:
    def __init__(self, db_path: str | Path, site_keys: Mapping[str, str] | None = None,
                 centre_key_b64: str | None = None, clock=time.time,
                 plan_ids: Mapping[str, str] | None = None):
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.spool = self.path.with_name(self.path.name + ".spool")
        self.spool.mkdir(exist_ok=True)
        self.clock = clock
        self.lock = threading.RLock()
        self._finalizing: dict[str, threading.Lock] = {}
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.executescript(SCHEMA)
        self.site_keys: dict[str, str] = dict(site_keys or {})
        self.plan_ids: dict[str, str] = {k: v for k, v in (plan_ids or {}).items() if v}  # site_no -> issued plan
        if centre_key_b64 is None:
            centre_key_b64 = self._meta("centre_key_private")
            if centre_key_b64 is None:
                centre_key_b64 = _b64(Ed25519PrivateKey.generate().private_bytes_raw())
                self._set_meta("centre_key_private", centre_key_b64)
        self.centre_key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(centre_key_b64))
        self.centre_public_b64 = _b64(self.centre_key.public_key().public_bytes_raw())

    # ------------------------------------------------------------------ helpers
    def _meta(self, key: str) -> str | None:
        r = self._q("SELECT value FROM meta WHERE key = ?", (key,))
        return r[0][0] if r else None

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def _q(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        """A read under the lock (the connection is shared: never read mid-transaction)."""
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def close(self) -> None:
        self.conn.close()

    class _Tx:
        def __init__(self, store):
            self.s = store

        def __enter__(self):
            self.s.lock.acquire()
            self.s.conn.execute("BEGIN IMMEDIATE")
            return self.s.conn

        def __exit__(self, et, e, tb):
            try:
                self.s.conn.execute("COMMIT" if et is None else "ROLLBACK")
            finally:
                self.s.lock.release()

    def tx(self):
        return Store._Tx(self)

    # ------------------------------------------------------------------ roster / keys / marks
    def load_roster(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Candidates the centre expects: dicts with ticket, site_no, name, id_number,
        category, level, unit, department."""
        n = 0
        with self.tx() as c:
            for r in rows:
                c.execute("""INSERT INTO results(ticket, site_no, name, id_number, category, level, unit,
                             department, expected) VALUES (?,?,?,?,?,?,?,?,1)
                             ON CONFLICT(ticket) DO UPDATE SET expected = 1, site_no = excluded.site_no""",
                          (str(r["ticket"]), str(r["site_no"]), r.get("name", ""), r.get("id_number", ""),
                           r.get("category", ""), r.get("level", ""), r.get("unit", ""), r.get("department", "")))
                n += 1
        return n

    def load_roster_csv(self, path: str | Path) -> int:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return self.load_roster(list(csv.DictReader(f)))

    def load_answer_keys(self, keys: Mapping[str, Mapping]) -> int:
        with self.tx() as c:
            for t, v in keys.items():
                c.execute("INSERT OR REPLACE INTO answer_keys(ticket, key_json, points) VALUES (?,?,?)",
                          (str(t), json.dumps(list(v["key"]), ensure_ascii=False), float(v.get("points", 1))))
        self.rescore()
        return len(keys)

    def set_pass_mark(self, category: str, level: str, mark: float) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO pass_marks(category, level, mark, set_at) VALUES (?,?,?,?)",
                      (category, level, float(mark), self.clock()))

    def pass_marks(self) -> dict[tuple[str, str], float]:
        return {(r[0], r[1]): r[2] for r in self._q("SELECT category, level, mark FROM pass_marks")}

    def rescore(self, tickets: Iterable[str] | None = None) -> int:
        """Recompute centre_score from the stored raw answers and the centre's keys."""
        with self.tx() as c:
            if tickets is None:
                rows = c.execute("SELECT ticket, answers, status FROM results WHERE in_bundle = 1").fetchall()
                keyrows = c.execute("SELECT ticket, key_json, points FROM answer_keys").fetchall()
            else:
                tl = list(tickets)
                rows, keyrows = [], []
                for i in range(0, len(tl), 500):      # only the keys we need (SQLite variable limit)
                    part = tl[i:i + 500]
                    qm = ",".join("?" * len(part))
                    rows += c.execute(f"SELECT ticket, answers, status FROM results WHERE ticket IN ({qm})",
                                      part).fetchall()
                    keyrows += c.execute(f"SELECT ticket, key_json, points FROM answer_keys WHERE ticket IN ({qm})",
                                         part).fetchall()
            keys = {r[0]: (json.loads(r[1]), r[2]) for r in keyrows}
            for t, ans, status in rows:
                if status == "absent" or ans is None:
                    c.execute("UPDATE results SET centre_score = NULL, correct = NULL, score_note = NULL"
                              " WHERE ticket = ?", (t,))
                    continue
                if t not in keys:
                    c.execute("UPDATE results SET centre_score = NULL, correct = NULL, score_note = 'no_key'"
                              " WHERE ticket = ?", (t,))
                    continue
                key, pts = keys[t]
                score, correct = score_answers(json.loads(ans), key, pts)
                c.execute("UPDATE results SET centre_score = ?, correct = ?, score_note = NULL WHERE ticket = ?",
                          (score, correct, t))
            return len(rows)

    # ------------------------------------------------------------------ ingest
    def _receipt(self, payload: dict, bid: str, size: int, received_at: float, receipt_no: int) -> dict:
        body = {"format": RECEIPT_FORMAT, "receipt_no": receipt_no, "bundle_id": bid, "size": size,
                "site_no": payload["site"]["site_no"], "site_name": payload["site"].get("site_name", ""),
                "scope": payload["scope"], "generation": payload["generation"],
                "audit_head": payload["audit_head"], "counts": payload.get("counts", {}),
                "received_at": round(received_at, 3)}
        sig = _b64(self.centre_key.sign(canonical_json(body)))
        return {**body, "signature": {"alg": "Ed25519", "public_key": self.centre_public_b64, "value": sig}}

    def existing_receipt(self, bid: str) -> dict | None:
        r = self._q("SELECT receipt FROM bundles WHERE bundle_id = ?", (bid,))
        return json.loads(r[0][0]) if r else None

    def record_rejection(self, err: BundleRejected, bid: str | None, source: str) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO rejections(ts, site_no, bundle_id, code, message, source) VALUES (?,?,?,?,?,?)",
                      (self.clock(), err.extra.get("site_no"), bid, err.code, err.message_zh, source))

    def ingest(self, data: bytes, source: str = "upload") -> tuple[str, dict]:
        """Verify and store a bundle. Returns ('accepted' | 'duplicate', receipt).
        Raises BundleRejected (and records it) when refused."""
        bid = bundle_id(data)
        old = self.existing_receipt(bid)
        if old is not None:
            return "duplicate", old
        try:
            payload = verify_result_bundle(data, self.site_keys)
        except BundleRejected as e:
            self.record_rejection(e, bid, source)
            raise
        try:
            with self.tx() as c:
                # Re-check under the write lock: a concurrent upload of the same bytes.
                r = c.execute("SELECT receipt FROM bundles WHERE bundle_id = ?", (bid,)).fetchone()
                if r is not None:
                    return "duplicate", json.loads(r[0])
                self._check_not_stale(c, payload)
                now = self.clock()
                receipt_no = int(c.execute("SELECT COUNT(*) FROM bundles").fetchone()[0]) + 1
                receipt = self._receipt(payload, bid, len(data), now, receipt_no)
                c.execute("INSERT INTO bundles(bundle_id, site_no, scope, generation, watermarks, size, received_at,"
                          " receipt, counts, source) VALUES (?,?,?,?,?,?,?,?,?,?)",
                          (bid, payload["site"]["site_no"], payload["scope"], payload["generation"],
                           json.dumps(payload["watermarks"], sort_keys=True), len(data), now,
                           json.dumps(receipt, ensure_ascii=False, sort_keys=True),
                           json.dumps({**payload.get("counts", {}), "demo": bool(payload["site"].get("demo")),
                                       "plan_bundle_id": str(payload["site"].get("plan_bundle_id") or "")},
                                      sort_keys=True), source))
                c.execute("INSERT INTO bundle_blobs(bundle_id, data) VALUES (?, ?)", (bid, data))
                tickets = self._store_results(c, payload, bid)
        except BundleRejected as e:
            self.record_rejection(e, bid, source)
            raise
        self.rescore(tickets)
        return "accepted", receipt

    def _check_not_stale(self, c, payload: dict) -> None:
        site, scope = payload["site"]["site_no"], payload["scope"]
        new_w = payload["watermarks"]
        for r in c.execute("SELECT bundle_id, scope, generation, watermarks FROM bundles WHERE site_no = ?", (site,)):
            if not (r["scope"] == scope or r["scope"] == "*" or scope == "*"):
                continue
            order = _compare(new_w, json.loads(r["watermarks"]))
            if order == "lt":
                raise BundleRejected(
                    "stale", f"考点 {site} 已上传过更新的成绩包（第 {r['generation']} 代），此包为第 "
                    f"{payload['generation']} 代旧包，已拒绝；无需处理", site_no=site,
                    newer_bundle_id=r["bundle_id"], newer_generation=r["generation"])
            if order == "incomparable" or (order == "eq" and r["scope"] == scope):
                raise BundleRejected(
                    "conflict", f"考点 {site} 的成绩包与已收到的成绩包（{r['bundle_id'][:12]}）内容矛盾，"
                    "请联系市定考办核查", site_no=site, other_bundle_id=r["bundle_id"])

    def _store_results(self, c, payload: dict, bid: str) -> list[str]:
        site = payload["site"]["site_no"]
        gen = int(payload["generation"])
        attempts = {a["ticket"]: a for a in payload["attempts"]}
        worst: dict[str, str] = {}
        for v in payload.get("violations", []):
            t = v.get("ticket")
            if VIOLATION_RANK.get(v.get("level"), 0) > VIOLATION_RANK.get(worst.get(t), 0):
                worst[t] = v["level"]
        touched = []
        for cand in payload["candidates"]:
            t = cand["ticket"]
            cur = c.execute("SELECT generation, site_no FROM results WHERE ticket = ?", (t,)).fetchone()
            if cur is not None and cur["generation"] is not None and int(cur["generation"]) > gen \
                    and cur["site_no"] == site:
                continue  # a newer bundle from this site already covers this candidate
            a = attempts.get(t)
            ans = json.dumps([[x[0], x[1]] for x in a.get("answers", [])], ensure_ascii=False) if a else None
            vals = dict(
                ticket=t, site_no=site, name=cand.get("name", ""), id_number=cand.get("id_number", ""),
                category=cand.get("category", ""), level=cand.get("level", ""), unit=cand.get("unit", ""),
                department=cand.get("department", ""), sitting_id=cand.get("sitting_id"), bundle_id=bid,
                generation=gen, status=a["status"] if a else "absent",
                opened_at=a.get("opened_at") if a else None, submitted_at=a.get("submitted_at") if a else None,
                deadline_at=a.get("deadline_at") if a else None, submit_reason=a.get("submit_reason") if a else None,
                device_changes=a.get("device_changes") if a else None, violation=worst.get(t), answers=ans,
                site_score=a.get("site_score") if a else None)
            cols = ",".join(vals)
            c.execute(f"INSERT INTO results({cols}, in_bundle) VALUES ({','.join('?' * len(vals))}, 1)"
                      f" ON CONFLICT(ticket) DO UPDATE SET "
                      + ",".join(f"{k} = excluded.{k}" for k in vals if k != "ticket") + ", in_bundle = 1",
                      tuple(vals.values()))
            touched.append(t)
        return touched

    # ------------------------------------------------------------------ chunked uploads
    def _part(self, upload_id: str) -> Path:
        return self.spool / f"{upload_id}.part"

    def open_upload(self, sha256: str, size: int) -> dict:
        """Start or resume an upload of the bundle with this hash. If the centre already
        has it, returns {'status': 'accepted', 'receipt': ...} at once."""
        if not (isinstance(sha256, str) and len(sha256) == 64 and all(ch in "0123456789abcdef" for ch in sha256)):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        if not isinstance(size, int) or size <= 0 or size > MAX_BUNDLE_BYTES:
            raise ValueError(f"size must be 1..{MAX_BUNDLE_BYTES}")
        rec = self.existing_receipt(sha256)
        if rec is not None:
            return {"status": "accepted", "duplicate": True, "receipt": rec}
        with self.tx() as c:
            r = c.execute("SELECT upload_id FROM uploads WHERE sha256 = ? AND size = ? AND status = 'open'"
                          " ORDER BY created_at LIMIT 1", (sha256, size)).fetchone()
            if r is not None:
                uid = r[0]
            else:
                stale = [x[0] for x in c.execute("SELECT upload_id FROM uploads WHERE status = 'open'"
                                                 " AND updated_at < ?", (self.clock() - UPLOAD_TTL_S,))]
                for old in stale:
                    c.execute("DELETE FROM uploads WHERE upload_id = ?", (old,))
                    self._part(old).unlink(missing_ok=True)
                n_open, spool = c.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM uploads"
                                          " WHERE status = 'open'").fetchone()
                if n_open >= MAX_OPEN_UPLOADS or spool + size > MAX_SPOOL_BYTES:
                    raise OverflowError("too many open uploads")
                uid = secrets.token_hex(16)
                now = self.clock()
                c.execute("INSERT INTO uploads(upload_id, sha256, size, received, created_at, updated_at, status)"
                          " VALUES (?,?,?,0,?,?, 'open')", (uid, sha256, size, now, now))
                self._part(uid).write_bytes(b"")
        return {"status": "open", **self.upload_state(uid)}

    def upload_state(self, upload_id: str) -> dict | None:
        rows = self._q("SELECT * FROM uploads WHERE upload_id = ?", (upload_id,))
        if not rows:
            return None
        r = rows[0]
        return {"upload_id": r["upload_id"], "sha256": r["sha256"], "size": r["size"],
                "offset": r["received"], "status": r["status"]}

    def put_chunk(self, upload_id: str, offset: int, chunk: bytes) -> dict:
        """Append a chunk at ``offset``. The committed offset only moves after the bytes
        are on disk (fsync). A chunk at a stale offset that matches what is already there
        is accepted as a harmless repeat; any other offset mismatch -> ('conflict', state)."""
        with self.tx() as c:
            r = c.execute("SELECT * FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
            if r is None:
                raise KeyError(upload_id)
            if r["status"] != "open":
                return {"result": "done", **self.upload_state(upload_id)}
            committed, size = int(r["received"]), int(r["size"])
            if offset + len(chunk) > size:
                raise ValueError("chunk past the declared size")
            if offset != committed:
                if offset < committed and offset + len(chunk) <= committed:
                    with open(self._part(upload_id), "rb") as f:
                        f.seek(offset)
                        if f.read(len(chunk)) == chunk:
                            return {"result": "ok", **self.upload_state(upload_id)}
                return {"result": "conflict", **self.upload_state(upload_id)}
            p = self._part(upload_id)
            with open(p, "r+b") as f:
                f.truncate(committed)       # drop any torn tail from an earlier crash
                f.seek(committed)
                f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            c.execute("UPDATE uploads SET received = ?, updated_at = ? WHERE upload_id = ?",
                      (committed + len(chunk), self.clock(), upload_id))
        return {"result": "ok", **self.upload_state(upload_id)}

    def finalize_upload(self, upload_id: str) -> tuple[str, dict]:
        """('accepted'|'duplicate', receipt) or raise BundleRejected / ('incomplete', state).
        Finalizes of one upload run one at a time: a retry that arrives while the first is
        still ingesting waits for it and then gets the same answer."""
        with self.lock:
            ulock = self._finalizing.setdefault(upload_id, threading.Lock())
        with ulock:
            return self._finalize(upload_id)

    def _finalize(self, upload_id: str) -> tuple[str, dict]:
        st = self.upload_state(upload_id)
        if st is None:
            raise KeyError(upload_id)
        if st["status"] == "done":
            rec = self.existing_receipt(st["sha256"])
            if rec is not None:   # a repeated finalize (the answer was lost): the same answer again
                outcome = self._q("SELECT outcome FROM uploads WHERE upload_id = ?", (upload_id,))[0][0]
                return outcome or "duplicate", rec
            err = self._q("SELECT error FROM uploads WHERE upload_id = ?", (upload_id,))[0][0]
            if err:   # a repeated finalize of a refused bundle: the same answer again
                e = json.loads(err)
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
            if done:
                c.execute("UPDATE uploads SET status = 'done', updated_at = ?, error = ?, outcome = ?"
                          " WHERE upload_id = ?",
                          (self.clock(), json.dumps(error, ensure_ascii=False) if error else None, outcome,
                           upload_id))
            else:
                c.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        try:
            self._part(upload_id).unlink()
        except FileNotFoundError:
            pass

    # ------------------------------------------------------------------ reading
    def bundle_bytes(self, bid: str) -> bytes | None:
        r = self._q("SELECT data FROM bundle_blobs WHERE bundle_id = ?", (bid,))
        return bytes(r[0][0]) if r else None

    def bundles(self) -> list[dict]:
        return [dict(r) for r in self._q(
            "SELECT bundle_id, site_no, scope, generation, size, received_at, counts, source FROM bundles"
            " ORDER BY received_at, bundle_id")]

    def rejections(self, limit: int = 200) -> list[dict]:
        return [dict(r) for r in self._q("SELECT * FROM rejections ORDER BY id DESC LIMIT ?", (limit,))]

    RESULT_COLS = ("ticket, site_no, name, id_number, category, level, unit, department, sitting_id, expected,"
                   " in_bundle, bundle_id, generation, status, opened_at, submitted_at, deadline_at, submit_reason,"
                   " device_changes, violation, site_score, centre_score, correct, score_note")

    def results(self, site_no: str | None = None, with_answers: bool = False) -> list[dict]:
        cols = self.RESULT_COLS + (", answers" if with_answers else "")
        if site_no is None:
            rows = self._q(f"SELECT {cols} FROM results ORDER BY site_no, ticket")
        else:
            rows = self._q(f"SELECT {cols} FROM results WHERE site_no = ? ORDER BY ticket", (site_no,))
        return [dict(r) for r in rows]
