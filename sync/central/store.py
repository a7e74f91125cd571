"""Central storage: bundles, chunked uploads, per-candidate results, answer keys, pass
marks, rejections. SQLite (WAL, synchronous=FULL) for a city, PostgreSQL for a province or
the country: ``db`` is a file path or a ``postgresql://`` URL (``dbconn`` hides the
differences). One Store per process, thread-safe. Exactly-once ingest rests on the unique
bundle_id (``INSERT … ON CONFLICT DO NOTHING``), not on a check before the insert; the
replay check runs under a per-site lock, receipt numbers come from a counter row.
Partial uploads live as files in the spool folder (``<db>.spool`` next to a SQLite file;
``spool_dir``, default ``var/central-spool/<database>``, for PostgreSQL).
"""
from __future__ import annotations

import base64
import csv
import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..audit_chain import canonical_json
from ..result_bundle import BundleRejected, bundle_id, verify_result_bundle
from . import cases, photos
from .dbconn import Tx, is_postgres_url, open_database
from .uploads import UploadLimits, UploadsMixin

RECEIPT_FORMAT = "hall-receipt/1"
WATERMARK_KEYS = ("audit_log", "answer_log", "device_events", "violations", "incidents", "time_adjustments")
DEFAULT_PG_SPOOL = Path("var/central-spool")

# {ID} {INT} {REAL} {BLOB}: per-dialect types (dbconn). On SQLite this is the earlier
# schema plus `counters`, so existing centre files open as they are.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bundles (
    bundle_id   TEXT PRIMARY KEY,
    site_no     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    generation  {INT} NOT NULL,
    watermarks  TEXT NOT NULL,
    size        {INT} NOT NULL,
    received_at {REAL} NOT NULL,
    receipt     TEXT NOT NULL,
    counts      TEXT NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bundles_site ON bundles(site_no);
CREATE TABLE IF NOT EXISTS bundle_blobs (bundle_id TEXT PRIMARY KEY, data {BLOB} NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id  TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    size       {INT} NOT NULL,
    received   {INT} NOT NULL DEFAULT 0,
    created_at {REAL} NOT NULL,
    updated_at {REAL} NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('open', 'done')),
    outcome    TEXT,                     -- accepted | duplicate: what the first finalize answered
    error      TEXT,                     -- JSON of the rejection, when finalize refused it
    site_no    TEXT                      -- the site whose key signed the open
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
    expected      {INT} NOT NULL DEFAULT 0,   -- on the centre's roster
    in_bundle     {INT} NOT NULL DEFAULT 0,   -- reported by a site bundle
    bundle_id     TEXT,
    generation    {INT},
    status        TEXT,                         -- attempt status, or 'absent'
    opened_at     {REAL},
    submitted_at  {REAL},
    deadline_at   {REAL},
    submit_reason TEXT,
    device_changes {INT},
    violation     TEXT,                         -- worst: minor | cheating | serious
    answers       TEXT,                         -- JSON [[q, choice], ...]
    site_score    {REAL},
    centre_score  {REAL},
    correct       {INT},
    score_note    TEXT
);
CREATE INDEX IF NOT EXISTS results_site ON results(site_no);
CREATE TABLE IF NOT EXISTS answer_keys (
    ticket   TEXT PRIMARY KEY,
    key_json TEXT NOT NULL,
    points   {REAL} NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS pass_marks (
    category TEXT NOT NULL,
    level    TEXT NOT NULL,
    mark     {REAL} NOT NULL,
    set_at   {REAL} NOT NULL,
    PRIMARY KEY (category, level)
);
CREATE TABLE IF NOT EXISTS rejections (
    id        {ID},
    ts        {REAL} NOT NULL,
    site_no   TEXT,
    bundle_id TEXT,
    code      TEXT NOT NULL,
    message   TEXT NOT NULL,
    source    TEXT NOT NULL
);
-- District office accounts (accounts.py): only the token's sha256.
CREATE TABLE IF NOT EXISTS accounts (
    account      TEXT PRIMARY KEY,          -- office-<no>
    office       TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    issued_at    {REAL} NOT NULL
);
-- Every action of a person at the centre (review, approval, deferral, pass mark, token).
CREATE TABLE IF NOT EXISTS actions (
    id     {ID},
    ts     {REAL} NOT NULL,
    actor  TEXT NOT NULL,
    office TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    data   TEXT NOT NULL
);
-- Violation cases (cases.py): the site's 判定, the district's 复核, the city's 核准.
CREATE TABLE IF NOT EXISTS cases (
    case_id      TEXT PRIMARY KEY,          -- <site_no>:<violation id at the site>
    site_no      TEXT NOT NULL,
    ticket       TEXT NOT NULL,
    sitting_id   TEXT,
    site_level   TEXT NOT NULL,
    facts        TEXT NOT NULL DEFAULT '',
    staff        TEXT NOT NULL DEFAULT '',
    recorded_at  {REAL},
    evidence     TEXT NOT NULL DEFAULT '{{}}',
    state        TEXT NOT NULL,             -- pending_review | pending_approval | approved
    review_level TEXT,
    final_level  TEXT,
    source       TEXT NOT NULL,             -- report (pushed the same day) | bundle
    in_bundle    {INT} NOT NULL DEFAULT 0,
    updated_at   {REAL} NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_site ON cases(site_no);
CREATE INDEX IF NOT EXISTS cases_ticket ON cases(ticket);
CREATE TABLE IF NOT EXISTS case_steps (
    id      {ID},
    case_id TEXT NOT NULL,
    step    TEXT NOT NULL,                  -- site | review | approve
    actor   TEXT NOT NULL,
    office  TEXT NOT NULL,
    ts      {REAL} NOT NULL,
    level   TEXT NOT NULL,
    note    TEXT NOT NULL DEFAULT '',
    reason  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS case_steps_case ON case_steps(case_id);
-- Photo review (photos.py): the bundle's camera evidence per candidate, and each reviewer's
-- decision under the manual's four rules (the latest counts; all are kept).
CREATE TABLE IF NOT EXISTS photo_evidence (
    site_no        TEXT NOT NULL,
    ticket         TEXT NOT NULL,
    min_similarity {REAL},
    flags          TEXT NOT NULL DEFAULT '[]',
    data           TEXT NOT NULL,
    received_at    {REAL} NOT NULL,
    PRIMARY KEY (site_no, ticket)
);
CREATE TABLE IF NOT EXISTS photo_reviews (
    id      {ID},
    site_no TEXT NOT NULL,
    ticket  TEXT NOT NULL,
    rule    TEXT NOT NULL,
    note    TEXT NOT NULL DEFAULT '',
    actor   TEXT NOT NULL,
    office  TEXT NOT NULL,
    ts      {REAL} NOT NULL
);
CREATE INDEX IF NOT EXISTS photo_reviews_ticket ON photo_reviews(ticket);
-- Deferrals (延期考核): asked by the district, decided by the city.
CREATE TABLE IF NOT EXISTS deferrals (
    ticket       TEXT PRIMARY KEY,
    site_no      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    state        TEXT NOT NULL,             -- requested | approved | refused
    requested_by TEXT NOT NULL,
    requested_at {REAL} NOT NULL,
    decided_by   TEXT,
    decided_at   {REAL},
    note         TEXT NOT NULL DEFAULT ''
);
-- Make-up sittings (补考) run at their own site numbers; their roster says who sits where.
CREATE TABLE IF NOT EXISTS makeup_roster (
    ticket  TEXT PRIMARY KEY,
    site_no TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS makeup_roster_site ON makeup_roster(site_no);
-- Anomaly reports pushed by a site on the day (signed, idempotent); the bundle reconciles them.
CREATE TABLE IF NOT EXISTS site_reports (
    site_no     TEXT NOT NULL,
    kind        TEXT NOT NULL,              -- violation | incident
    report_id   {INT} NOT NULL,             -- the row's id at the site
    record      TEXT NOT NULL,
    received_at {REAL} NOT NULL,
    in_bundle   {INT} NOT NULL DEFAULT 0,
    PRIMARY KEY (site_no, kind, report_id)
);
-- Receipt numbers: the row lock makes them unique and gapless across processes too.
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value {INT} NOT NULL);
INSERT INTO counters(name, value) SELECT 'receipt_no', COUNT(*) FROM bundles WHERE true
    ON CONFLICT(name) DO NOTHING;
"""

# Make-up (补考) results: the same row as a first sitting's, in a table of their own.
SCHEMA += SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS results ("):
                 SCHEMA.index("CREATE INDEX IF NOT EXISTS results_site")].replace(
    "TABLE IF NOT EXISTS results (", "TABLE IF NOT EXISTS makeup_results (")
RESULT_TABLES = ("results", "makeup_results")

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


def default_spool(db: str | Path) -> Path:
    """Where partial uploads wait: next to a SQLite file; for PostgreSQL a folder under the
    working directory named after the server and database (several centres may share a cwd)."""
    if not is_postgres_url(db):
        p = Path(db)
        return p.with_name(p.name + ".spool")
    u = urlsplit(str(db))
    name = f"{u.hostname or 'local'}_{u.port or 5432}_{u.path.lstrip('/') or 'postgres'}"
    return DEFAULT_PG_SPOOL / re.sub(r"[^A-Za-z0-9_.-]", "_", name)


class _AlreadyStored(Exception):
    """The same bytes were stored meanwhile: roll back, answer with the stored receipt."""


class Store(UploadsMixin):
    sites_csv: str | Path | None = None       # set by the app: which district each site is in
    def __init__(self, db: str | Path, site_keys: Mapping[str, str] | None = None,
                 centre_key_b64: str | None = None, clock=time.time,
                 plan_ids: Mapping[str, str] | None = None, spool_dir: str | Path | None = None,
                 upload_limits: UploadLimits | None = None):
        self.db = open_database(db)
        self.kind = self.db.kind
        self.spool = Path(spool_dir) if spool_dir else default_spool(db)
        self.upload_limits = upload_limits or UploadLimits()
        self.clock = clock
        self.lock = threading.Lock()
        self._finalizing: dict[str, threading.Lock] = {}
        self.db.create_schema(SCHEMA)
        self.db.add_column("uploads", "site_no", "TEXT")      # centre files from before signed opens
        self.site_keys: dict[str, str] = dict(site_keys or {})
        self.plan_ids: dict[str, str] = {k: v for k, v in (plan_ids or {}).items() if v}  # site_no -> issued plan
        if centre_key_b64 is None:
            centre_key_b64 = self.meta_setdefault(
                "centre_key_private", _b64(Ed25519PrivateKey.generate().private_bytes_raw()))
        self.centre_key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(centre_key_b64))
        self.centre_public_b64 = _b64(self.centre_key.public_key().public_bytes_raw())

    # ------------------------------------------------------------------ helpers
    def meta(self, key: str) -> str | None:
        r = self._q("SELECT value FROM meta WHERE key = ?", (key,))
        return r[0][0] if r else None

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO meta(key, value) VALUES (?, ?)"
                      " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def meta_setdefault(self, key: str, value: str) -> str:
        """Store ``value`` unless the key is set; return what is stored (two processes
        starting at once agree on one value)."""
        with self.tx() as c:
            c.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", (key, value))
            return c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def _q(self, sql: str, args: tuple = ()) -> list:
        return self.db.query(sql, args)

    def count(self, table: str) -> int:
        assert table.isidentifier()
        return int(self._q(f"SELECT COUNT(*) FROM {table}")[0][0])

    def close(self) -> None:
        self.db.close()

    def tx(self):
        return self.db.tx()

    # ------------------------------------------------------------------ roster / keys / marks
    def load_roster(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Candidates the centre expects: dicts with ticket, site_no, name, id_number,
        category, level, unit, department."""
        vals = sorted((str(r["ticket"]), str(r["site_no"]), r.get("name", ""), r.get("id_number", ""),
                       r.get("category", ""), r.get("level", ""), r.get("unit", ""), r.get("department", ""))
                      for r in rows)          # ticket order everywhere: no lock-order deadlocks
        with self.tx() as c:
            c.executemany("""INSERT INTO results(ticket, site_no, name, id_number, category, level, unit,
                             department, expected) VALUES (?,?,?,?,?,?,?,?,1)
                             ON CONFLICT(ticket) DO UPDATE SET expected = 1, site_no = excluded.site_no""", vals)
        return len(vals)

    def load_makeup_roster(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Who sits the make-up where: {ticket, site_no} (the make-up sites' own numbers)."""
        vals = sorted((str(r["ticket"]), str(r["site_no"])) for r in rows)
        with self.tx() as c:
            c.executemany("INSERT INTO makeup_roster(ticket, site_no) VALUES (?,?)"
                          " ON CONFLICT(ticket) DO UPDATE SET site_no = excluded.site_no", vals)
        return len(vals)

    def load_roster_csv(self, path: str | Path) -> int:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return self.load_roster(list(csv.DictReader(f)))

    def load_answer_keys(self, keys: Mapping[str, Mapping]) -> int:
        with self.tx() as c:
            c.executemany("INSERT INTO answer_keys(ticket, key_json, points) VALUES (?,?,?)"
                          " ON CONFLICT(ticket) DO UPDATE SET key_json = excluded.key_json,"
                          " points = excluded.points",
                          sorted((str(t), json.dumps(list(v["key"]), ensure_ascii=False), float(v.get("points", 1)))
                                 for t, v in keys.items()))
        self.rescore()
        return len(keys)

    def set_pass_mark(self, category: str, level: str, mark: float) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO pass_marks(category, level, mark, set_at) VALUES (?,?,?,?)"
                      " ON CONFLICT(category, level) DO UPDATE SET mark = excluded.mark, set_at = excluded.set_at",
                      (category, level, float(mark), self.clock()))

    def pass_marks(self) -> dict[tuple[str, str], float]:
        return {(r[0], r[1]): r[2] for r in self._q("SELECT category, level, mark FROM pass_marks")}

    def rescore(self, tickets: Iterable[str] | None = None) -> int:
        """Recompute centre_score from the stored raw answers and the centre's keys."""
        with self.tx() as c:
            return sum(self._rescore(c, tickets, t) for t in RESULT_TABLES)

    def _rescore(self, c: Tx, tickets: Iterable[str] | None, table: str = "results") -> int:
        assert table in RESULT_TABLES
        if tickets is None:
            rows = c.execute(f"SELECT ticket, answers, status FROM {table} WHERE in_bundle = 1").fetchall()
            keyrows = c.execute("SELECT ticket, key_json, points FROM answer_keys").fetchall()
        else:
            tl = sorted(set(tickets))
            rows, keyrows = [], []
            for i in range(0, len(tl), 500):      # only the keys we need (SQLite variable limit)
                part = tl[i:i + 500]
                qm = ",".join("?" * len(part))
                rows += c.execute(f"SELECT ticket, answers, status FROM {table} WHERE ticket IN ({qm})",
                                  part).fetchall()
                keyrows += c.execute(f"SELECT ticket, key_json, points FROM answer_keys WHERE ticket IN ({qm})",
                                     part).fetchall()
        keys = {r[0]: (json.loads(r[1]), r[2]) for r in keyrows}
        updates = []
        for t, ans, status in rows:
            if status == "absent" or ans is None:
                updates.append((None, None, None, t))
            elif t not in keys:
                updates.append((None, None, "no_key", t))
            else:
                key, pts = keys[t]
                score, correct = score_answers(json.loads(ans), key, pts)
                updates.append((score, correct, None, t))
        updates.sort(key=lambda u: u[3])
        c.executemany(f"UPDATE {table} SET centre_score = ?, correct = ?, score_note = ? WHERE ticket = ?", updates)
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
            payload = verify_result_bundle(data, self.site_keys)    # outside any transaction: the slow part
            receipt = self._store_bundle(data, bid, payload, source)
        except BundleRejected as e:
            self.record_rejection(e, bid, source)
            raise
        if receipt is None:
            return "duplicate", self.existing_receipt(bid)
        return "accepted", receipt

    def _store_bundle(self, data: bytes, bid: str, payload: dict, source: str) -> dict | None:
        """One transaction: replay check, results, re-score, receipt, bundle. None when the
        same bytes were stored first by a concurrent upload (everything here rolled back)."""
        try:
            with self.tx() as c:
                # Bundles of one site one at a time (the replay check reads what the others wrote).
                c.lock(f"hall-central:site:{payload['site']['site_no']}")
                if c.execute("SELECT 1 FROM bundles WHERE bundle_id = ?", (bid,)).fetchone():
                    raise _AlreadyStored      # before the replay check, which would call it a conflict
                self._check_not_stale(c, payload)
                table = self._round_table(c, payload["site"]["site_no"])
                tickets = self._store_results(c, payload, bid, table)
                self._rescore(c, tickets, table)
                now = self.clock()
                cases.from_bundle(c, payload, now)        # violations to review, day reports settled
                photos.from_bundle(c, payload, now)       # the camera's evidence for photo review
                # Last: the counter row stays locked until commit, keep that short.
                receipt_no = int(c.execute("UPDATE counters SET value = value + 1 WHERE name = 'receipt_no'"
                                           " RETURNING value").fetchone()[0])
                receipt = self._receipt(payload, bid, len(data), now, receipt_no)
                stored = c.execute(
                    "INSERT INTO bundles(bundle_id, site_no, scope, generation, watermarks, size, received_at,"
                    " receipt, counts, source) VALUES (?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(bundle_id) DO NOTHING RETURNING bundle_id",
                    (bid, payload["site"]["site_no"], payload["scope"], payload["generation"],
                     json.dumps(payload["watermarks"], sort_keys=True), len(data), now,
                     json.dumps(receipt, ensure_ascii=False, sort_keys=True),
                     json.dumps({**payload.get("counts", {}), "demo": bool(payload["site"].get("demo")),
                                 "plan_bundle_id": str(payload["site"].get("plan_bundle_id") or "")},
                                sort_keys=True), source)).fetchone()
                if stored is None:
                    raise _AlreadyStored
                c.execute("INSERT INTO bundle_blobs(bundle_id, data) VALUES (?, ?)", (bid, data))
        except _AlreadyStored:
            return None
        return receipt

    def _check_not_stale(self, c: Tx, payload: dict) -> None:
        site, scope = payload["site"]["site_no"], payload["scope"]
        new_w = payload["watermarks"]
        for r in c.execute("SELECT bundle_id, scope, generation, watermarks FROM bundles WHERE site_no = ?"
                           " ORDER BY received_at, bundle_id", (site,)).fetchall():
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

    RESULT_FIELDS = ("ticket", "site_no", "name", "id_number", "category", "level", "unit", "department",
                     "sitting_id", "bundle_id", "generation", "status", "opened_at", "submitted_at",
                     "deadline_at", "submit_reason", "device_changes", "violation", "answers", "site_score")

    @staticmethod
    def _round_table(c: Tx, site: str) -> str:
        """A make-up site's bundle (its site_no is on the make-up roster) fills makeup_results."""
        makeup = c.execute("SELECT 1 FROM makeup_roster WHERE site_no = ? LIMIT 1", (site,)).fetchone()
        return "makeup_results" if makeup else "results"

    def _store_results(self, c: Tx, payload: dict, bid: str, table: str = "results") -> list[str]:
        site = payload["site"]["site_no"]
        gen = int(payload["generation"])
        attempts = {a["ticket"]: a for a in payload["attempts"]}
        worst: dict[str, str] = {}
        for v in payload.get("violations", []):
            t = v.get("ticket")
            if VIOLATION_RANK.get(v.get("level"), 0) > VIOLATION_RANK.get(worst.get(t), 0):
                worst[t] = v["level"]
        rows = []
        for cand in payload["candidates"]:
            t = cand["ticket"]
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
            rows.append(tuple(vals[k] for k in self.RESULT_FIELDS))
        rows.sort()
        cols = ", ".join(self.RESULT_FIELDS)
        # Only the site's own rows change (another site's are never written, _check_owner then
        # refuses the bundle); a row stays when a newer bundle of the site already covers it.
        c.executemany(f"INSERT INTO {table}({cols}, in_bundle) VALUES ({','.join('?' * len(self.RESULT_FIELDS))}, 1)"
                      " ON CONFLICT(ticket) DO UPDATE SET "
                      + ", ".join(f"{k} = excluded.{k}" for k in self.RESULT_FIELDS if k != "ticket")
                      + f", in_bundle = 1 WHERE {table}.site_no = excluded.site_no AND"
                      f" ({table}.generation IS NULL OR {table}.generation <= excluded.generation)", rows)
        tickets = [r[0] for r in rows]
        self._check_owner(c, site, tickets, table)
        return tickets

    def _check_owner(self, c: Tx, site: str, tickets: list[str], table: str = "results") -> None:
        """Every candidate of a bundle must be the signing site's: on the centre's roster for
        that site (when a roster is loaded), and never a ticket the centre holds for another
        site. Checked after the upsert, in its transaction: a concurrent claim by another site
        is seen here too (the upsert left that row alone) and the whole bundle rolls back."""
        if table == "makeup_results":      # a make-up site owns exactly its make-up roster
            roster, sql = True, "SELECT r.ticket, COALESCE(m.site_no, r.site_no), m.site_no IS NOT NULL" \
                " FROM makeup_results r LEFT JOIN makeup_roster m ON m.ticket = r.ticket WHERE r.ticket IN ({})"
        else:
            roster = c.execute("SELECT 1 FROM results WHERE expected = 1 LIMIT 1").fetchone() is not None
            sql = "SELECT ticket, site_no, expected FROM results WHERE ticket IN ({})"
        foreign, unknown = [], []
        for i in range(0, len(tickets), 500):
            part = tickets[i:i + 500]
            for t, owner, expected in c.execute(sql.format(",".join("?" * len(part))), part).fetchall():
                if owner != site:
                    foreign.append((t, owner))
                elif roster and not expected:
                    unknown.append(t)
        if foreign:
            foreign.sort()
            shown = "、".join(f"{t}（考点 {o}）" for t, o in foreign[:5]) + (" 等" if len(foreign) > 5 else "")
            raise BundleRejected(
                "foreign_candidate", f"考点 {site} 的成绩包含有 {len(foreign)} 名其他考点的考生：{shown}；"
                "整包拒收，未做任何改动，请联系市定考办核查", site_no=site,
                tickets=[t for t, _ in foreign[:50]])
        if unknown:
            unknown.sort()
            shown = "、".join(unknown[:5]) + (" 等" if len(unknown) > 5 else "")
            raise BundleRejected(
                "foreign_candidate", f"考点 {site} 的成绩包含有 {len(unknown)} 名不在中心为该考点下发名单中的考生：{shown}；"
                "整包拒收，未做任何改动，请联系市定考办核查", site_no=site, tickets=unknown[:50])

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

    def results(self, site_no: str | None = None, with_answers: bool = False, table: str = "results",
                site_nos: Iterable[str] | None = None) -> list[dict]:
        """First-sitting rows (``table="makeup_results"``: the make-up sittings'), of one site,
        of the sites in ``site_nos`` (a district's), or all."""
        assert table in RESULT_TABLES
        cols = self.RESULT_COLS + (", answers" if with_answers else "")
        if site_no is not None:
            site_nos = [site_no]
        if site_nos is None:
            rows = self._q(f"SELECT {cols} FROM {table}")
        else:
            rows, wanted = [], sorted(set(site_nos))
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                rows += self._q(f"SELECT {cols} FROM {table} WHERE site_no IN ({','.join('?' * len(part))})", part)
        # sorted here: a PostgreSQL database's collation may order text unlike SQLite's bytes
        return sorted((dict(r) for r in rows), key=lambda r: (r["site_no"], r["ticket"]))
