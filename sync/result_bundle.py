"""The signed result bundle: everything a site's centre needs about what happened.

Bytes on disk / on the wire (canonical JSON, UTF-8, no whitespace, sorted keys):

    {"format": "hall-result-bundle/1",
     "payload": {...},                                   # see build_payload()
     "sig": {"alg": "Ed25519", "site_no": "17", "public_key": "<b64>",
             "value": "<b64 signature over canonical_json(payload)>"}}

* Deterministic: no wall-clock time, every list sorted by its key, Ed25519 signatures
  are deterministic. Building twice from the same DB gives the same bytes.
* Content-addressed: ``bundle_id(data) = sha256 hex of the bytes`` is its identity.
* ``payload.generation`` = max(audit_log.id); ``payload.watermarks`` = max id of each
  append-only table. The centre refuses a bundle older than one it already accepted.
* Only one byte form is valid: the centre re-serializes and refuses a non-canonical file.
"""
from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .audit_chain import GENESIS, canonical_json, verify_chain

FORMAT = "hall-result-bundle/1"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


class BundleRejected(Exception):
    """A bundle the centre must refuse. ``code`` is stable ASCII; ``message_zh`` is shown
    to the county office as is."""

    def __init__(self, code: str, message_zh: str, **extra: Any):
        super().__init__(f"{code}: {message_zh}")
        self.code = code
        self.message_zh = message_zh
        self.extra = extra

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message_zh, **self.extra}


def bundle_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    """Strict base64: only the one canonical spelling (unused padding bits must be zero,
    otherwise two different files would carry the same signature)."""
    raw = base64.b64decode(s.encode("ascii"), validate=True)
    if base64.b64encode(raw).decode("ascii") != s:
        raise ValueError("non-canonical base64")
    return raw


def _rows(conn: sqlite3.Connection, sql: str, args: tuple = ()) -> list[dict]:
    return [dict(r) for r in conn.execute(sql, args).fetchall()]


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute("SELECT key, value FROM meta")}


def _open_ro(db_path: str | Path) -> sqlite3.Connection:
    p = Path(db_path)
    if not p.exists():
        raise FileNotFoundError(str(p))
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _has_table(conn, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def _max_id(conn, table: str) -> int:
    if not _has_table(conn, table):
        return 0
    return int(conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])


def build_payload(conn: sqlite3.Connection, sitting_id: str | None = None) -> dict:
    """The unsigned payload, read in one read transaction (a consistent snapshot)."""
    meta = _meta(conn)
    if sitting_id is not None:
        if conn.execute("SELECT 1 FROM sittings WHERE sitting_id = ?", (sitting_id,)).fetchone() is None:
            raise KeyError(f"unknown sitting {sitting_id!r}")
        sit_where, sit_args = "WHERE s.sitting_id = ?", (sitting_id,)
    else:
        sit_where, sit_args = "", ()

    sittings = _rows(conn, f"SELECT s.* FROM sittings s {sit_where} ORDER BY s.sitting_id", sit_args)
    sids = [s["sitting_id"] for s in sittings]
    room_ids = sorted({s["room_id"] for s in sittings})
    qm = ",".join("?" * len(sids)) or "NULL"
    rooms = _rows(conn, f"SELECT * FROM rooms WHERE room_id IN ({','.join('?' * len(room_ids)) or 'NULL'})"
                        " ORDER BY room_id", tuple(room_ids))
    candidates = _rows(conn, f"""SELECT c.ticket, c.name, c.gender, c.id_number, c.category, c.level,
            c.unit, c.department, c.sitting_id, c.seat_no, p.paper_hash
            FROM candidates c LEFT JOIN papers p ON p.ticket = c.ticket
            WHERE c.sitting_id IN ({qm}) ORDER BY c.ticket""", tuple(sids))
    tickets = [c["ticket"] for c in candidates]
    tq = "SELECT ticket FROM candidates WHERE sitting_id IN (%s)" % qm

    attempts = _rows(conn, f"SELECT * FROM attempts WHERE ticket IN ({tq}) ORDER BY ticket", tuple(sids))
    answers: dict[str, list] = {}
    for r in conn.execute(f"SELECT ticket, q, choice, seq, saved_at FROM answers WHERE ticket IN ({tq})"
                          " ORDER BY ticket, q", tuple(sids)):
        answers.setdefault(r[0], []).append([r[1], r[2], r[3], r[4]])
    for a in attempts:
        a["site_score"] = a.pop("score")
        a["answers"] = answers.get(a["ticket"], [])   # [q, choice, seq, saved_at]
    answer_log = [[r[0], r[1], r[2], r[3], r[4], r[5], r[6]] for r in conn.execute(
        f"SELECT id, ticket, q, choice, seq, saved_at, device_id FROM answer_log WHERE ticket IN ({tq})"
        " ORDER BY id", tuple(sids))]
    device_events = _rows(conn, f"SELECT * FROM device_events WHERE ticket IN ({tq}) ORDER BY id", tuple(sids))
    violations = _rows(conn, f"SELECT * FROM violations WHERE sitting_id IN ({qm}) ORDER BY id", tuple(sids))
    if sitting_id is None:
        incidents = _rows(conn, "SELECT * FROM incidents ORDER BY id")
    else:
        incidents = _rows(conn, "SELECT * FROM incidents WHERE sitting_id = ? OR sitting_id IS NULL ORDER BY id",
                          (sitting_id,))
    audit = _rows(conn, "SELECT id, ts, actor, action, sitting_id, ticket, data, prev_hash, hash"
                        " FROM audit_log ORDER BY id")
    # Extra time / pauses granted by staff, and the two keyings of paper answer cards (答题卡).
    time_adjustments = _rows(conn, f"SELECT * FROM time_adjustments WHERE sitting_id IN ({qm}) ORDER BY id",
                             tuple(sids)) if _has_table(conn, "time_adjustments") else []
    paper_entries = _rows(conn, f"SELECT * FROM paper_entries WHERE ticket IN ({tq}) ORDER BY ticket, pass_no",
                          tuple(sids)) if _has_table(conn, "paper_entries") else []

    # 考场情况记录表, one per sitting (场次 x 考场), filled from the data above.
    # 应到/实到/缺考 as hall_server/exam/counts.py defines them (the console's and the printed
    # form's numbers), as of the last recorded event: no wall clock, so the bundle stays
    # deterministic; an ended sitting has no one pending.
    from hall_server.exam.counts import sitting_attendance
    att_by_ticket = {a["ticket"]: a for a in attempts if a["status"] != "absent"}
    any_attempt = {a["ticket"]: a for a in attempts}
    as_of = float(audit[-1]["ts"]) if audit else 0.0
    room_name = {r["room_id"]: r["name"] for r in rooms}
    room_records = []
    for s in sittings:
        cs = [c for c in candidates if c["sitting_id"] == s["sitting_id"]]
        seen = sitting_attendance(s, [{"ticket": c["ticket"], **any_attempt.get(c["ticket"], {})} for c in cs], as_of)
        gone = set(seen.absentees)
        absent = [{"ticket": c["ticket"], "name": c["name"]} for c in cs if c["ticket"] in gone]
        vio = [{"ticket": v["ticket"], "name": next((c["name"] for c in cs if c["ticket"] == v["ticket"]), ""),
                "level": v["level"], "facts": v["facts"]} for v in violations if v["sitting_id"] == s["sitting_id"]]
        other = [f'{i["kind"]}: {i["text"]}' for i in incidents if i["sitting_id"] == s["sitting_id"]]
        room_records.append({
            "date": s["date"], "site_name": meta.get("site_name", ""), "sitting_id": s["sitting_id"],
            "sitting_no": s["sitting_no"], "room": room_name.get(s["room_id"], s["room_id"]),
            "expected": seen.expected, "present": seen.present, "pending": seen.pending, "absentees": absent,
            "violations": vio, "other": other,
        })
    absentees = [a for rr in room_records for a in
                 ({"ticket": x["ticket"], "name": x["name"], "sitting_id": rr["sitting_id"]} for x in rr["absentees"])]

    # Camera proctoring (issue 16): flags, similarities, identity checks, small thumbnails.
    from hall_server.proctor.bundle import proctoring
    proctor = proctoring(conn, tickets)

    gen = _max_id(conn, "audit_log")
    head = audit[-1]["hash"] if audit else GENESIS
    return {
        "format": FORMAT,
        "site": {"site_no": meta.get("site_no", ""), "site_name": meta.get("site_name", ""),
                 "district": meta.get("district", ""), "demo": meta.get("demo", "0") == "1",
                 "plan_bundle_id": meta.get("bundle_id", "")},
        "scope": sitting_id if sitting_id is not None else "*",
        "generation": gen,
        "watermarks": {t: _max_id(conn, t) for t in
                       ("audit_log", "answer_log", "device_events", "violations", "incidents", "time_adjustments")},
        "audit_head": {"id": gen, "hash": head},
        "counts": {"candidates": len(candidates), "attempts": len(att_by_ticket),
                   "submitted": sum(1 for a in attempts if a["status"] in ("submitted", "terminated")),
                   "absent": len(absentees)},
        "rooms": rooms, "sittings": sittings, "candidates": candidates, "attempts": attempts,
        "answer_log": answer_log, "device_events": device_events, "violations": violations,
        "incidents": incidents, "time_adjustments": time_adjustments, "paper_entries": paper_entries,
        "absentees": absentees, "room_records": room_records,
        "proctoring": proctor,
        "audit_log": audit,
    }


def sign_payload(payload: dict, private_key_b64: str, site_no: str) -> bytes:
    sk = Ed25519PrivateKey.from_private_bytes(_unb64(private_key_b64))
    pub = sk.public_key().public_bytes_raw()
    body = canonical_json(payload)
    env = {"format": FORMAT, "payload": payload,
           "sig": {"alg": "Ed25519", "site_no": str(site_no), "public_key": _b64(pub),
                   "value": _b64(sk.sign(body))}}
    return canonical_json(env)


def build_result_bundle(db_path: str | Path, sitting_id: str | None = None) -> bytes:
    """Canonical signed bundle bytes for the whole site (or one sitting)."""
    conn = _open_ro(db_path)
    try:
        conn.execute("BEGIN")                 # one snapshot for every SELECT
        payload = build_payload(conn, sitting_id)
        meta = _meta(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    if meta.get("rehearsal") == "1":
        raise RuntimeError("这是模拟演练的数据（不计成绩），不能导出成绩包")
    priv = meta.get("site_key_private")
    if not priv:
        raise RuntimeError("本机没有考点签名密钥 (meta.site_key_private)，无法导出成绩包")
    ok, bad = verify_chain(payload["audit_log"])
    if not ok:
        raise RuntimeError(f"本机审计日志链在第 {bad} 条处断裂，拒绝导出")
    return sign_payload(payload, priv, meta.get("site_no", ""))


def site_signing_key(db_path: str | Path) -> tuple[str, str]:
    """(site_no, private key b64) of the hall DB: what signs its bundles and upload proofs."""
    conn = _open_ro(db_path)
    try:
        meta = _meta(conn)
    finally:
        conn.close()
    priv = meta.get("site_key_private")
    if not priv:
        raise RuntimeError("本机没有考点签名密钥 (meta.site_key_private)，无法签名")
    return meta.get("site_no", ""), priv


def _load_pub(b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(b64))


def verify_result_bundle(data: bytes, site_public_keys: Mapping[str, str]) -> dict:
    """Check a bundle as the centre must; return its payload plus ``bundle_id``.

    ``site_public_keys``: {site_no: base64 raw Ed25519 public key}, as issued
    (provisioning's site_keys.json). Raises BundleRejected with a stable code:
    too_large, malformed, not_canonical, bad_format, unknown_site, wrong_key,
    bad_signature, bad_audit_chain, inconsistent.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise BundleRejected("malformed", "成绩包不是文件数据")
    data = bytes(data)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleRejected("too_large", "成绩包过大")
    try:
        env = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleRejected("malformed", "成绩包文件已损坏或不完整（无法解析），请重新导出") from None
    if not isinstance(env, dict) or env.get("format") != FORMAT or not isinstance(env.get("payload"), dict) \
            or not isinstance(env.get("sig"), dict) or set(env) != {"format", "payload", "sig"} \
            or set(env["sig"]) != {"alg", "site_no", "public_key", "value"} or env["sig"]["alg"] != "Ed25519":
        raise BundleRejected("bad_format", "不是本系统的成绩包或版本不符")
    if canonical_json(env) != data:
        raise BundleRejected("not_canonical", "成绩包文件被改动过（格式不规范），请使用考点导出的原文件")
    payload, sig = env["payload"], env["sig"]
    site_no = sig.get("site_no")
    site = payload.get("site")
    if not isinstance(site_no, str) or not isinstance(site, dict) or site.get("site_no") != site_no \
            or payload.get("format") != FORMAT:
        raise BundleRejected("inconsistent", "成绩包的考点编号前后不一致")
    issued = site_public_keys.get(site_no)
    if not issued:
        raise BundleRejected("unknown_site", f"考点 {site_no} 不在本中心签发的考点密钥名单中", site_no=site_no)
    body = canonical_json(payload)
    try:
        value = _unb64(str(sig.get("value", "")))
    except ValueError:
        raise BundleRejected("bad_signature", "成绩包签名已损坏") from None
    try:
        _load_pub(issued).verify(value, body)
    except (InvalidSignature, ValueError):
        # Whose key did sign it? Tell the office plainly if it is another site's.
        for other_no, other_pub in site_public_keys.items():
            if other_no == site_no:
                continue
            try:
                _load_pub(other_pub).verify(value, body)
            except (InvalidSignature, ValueError):
                continue
            raise BundleRejected("wrong_key", f"成绩包声称来自考点 {site_no}，但是用考点 {other_no} 的密钥签名的",
                                 site_no=site_no, signed_by=other_no) from None
        raise BundleRejected("bad_signature", f"成绩包签名与考点 {site_no} 的密钥不符（文件被改动或密钥不对）",
                             site_no=site_no) from None
    if sig.get("public_key") != issued:
        raise BundleRejected("wrong_key", f"成绩包所附公钥与中心为考点 {site_no} 签发的不符", site_no=site_no)
    audit = payload.get("audit_log")
    if not isinstance(audit, list):
        raise BundleRejected("inconsistent", "成绩包缺少审计日志")
    try:
        ok, bad = verify_chain(audit)
    except (TypeError, ValueError, KeyError):
        ok, bad = False, None
    if not ok:
        raise BundleRejected("bad_audit_chain", f"审计日志链在第 {bad} 条处断裂", first_bad_id=bad)
    last_id = int(audit[-1]["id"]) if audit else 0
    head = audit[-1]["hash"] if audit else GENESIS
    if payload.get("audit_head") != {"id": last_id, "hash": head} or payload.get("generation") != last_id:
        raise BundleRejected("inconsistent", "成绩包的审计链头与日志不符")
    problem = _shape_problem(payload)
    if problem:
        raise BundleRejected("inconsistent", f"成绩包内容结构不符: {problem}", site_no=site_no)
    return {**payload, "bundle_id": bundle_id(data), "size": len(data)}


def _shape_problem(p: dict) -> str | None:
    """The fields the centre relies on, with their types (a hall bug must not become a 500)."""
    def is_int(x):
        return isinstance(x, int) and not isinstance(x, bool)
    if not isinstance(p.get("scope"), str):
        return "scope"
    w = p.get("watermarks")
    if not isinstance(w, dict) or not all(is_int(w.get(k)) for k in
                                          ("audit_log", "answer_log", "device_events", "violations", "incidents")):
        return "watermarks"
    for key in ("rooms", "sittings", "candidates", "attempts", "violations", "incidents", "device_events",
                "absentees", "room_records", "answer_log"):
        if not isinstance(p.get(key), list):
            return key
    if not isinstance(p.get("counts"), dict):
        return "counts"
    tickets = set()
    for c in p["candidates"]:
        if not isinstance(c, dict) or not isinstance(c.get("ticket"), str) or c["ticket"] in tickets:
            return "candidates"
        if not all(isinstance(c.get(k), str) for k in ("name", "category", "level", "unit")):
            return "candidates"
        tickets.add(c["ticket"])
    for a in p["attempts"]:
        if not isinstance(a, dict) or a.get("ticket") not in tickets or not isinstance(a.get("status"), str):
            return "attempts"
        ans = a.get("answers")
        if not isinstance(ans, list) or not all(
                isinstance(x, list) and len(x) == 4 and is_int(x[0]) and (x[1] is None or isinstance(x[1], str))
                for x in ans):
            return "attempts.answers"
    for v in p["violations"]:
        if not isinstance(v, dict) or not isinstance(v.get("ticket"), str):
            return "violations"
    pr = p.get("proctoring")   # optional: bundles of a hall before issue 16 have none
    if pr is not None:
        if not isinstance(pr, dict) or not isinstance(pr.get("candidates"), list):
            return "proctoring"
        for c in pr["candidates"]:
            if (not isinstance(c, dict) or c.get("ticket") not in tickets or not isinstance(c.get("captures"), list)
                    or not isinstance(c.get("flags"), list)
                    or not (c.get("min_similarity") is None or isinstance(c["min_similarity"], (int, float)))):
                return "proctoring"
    return None


def main_export(db_path: str, out: str, sitting_id: str | None = None) -> str:
    data = build_result_bundle(db_path, sitting_id)
    p = Path(out)
    tmp = p.with_name(p.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(p)
    return bundle_id(data)
