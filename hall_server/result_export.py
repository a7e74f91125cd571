"""The site's result bundle, built from the hall database (format and signature:
contracts/result_bundle.py; docs/sync.md).

``build_payload`` reads everything the centre needs in one read transaction; 应到/实到/缺考
follow hall_server/exam/counts.py, the console's and the room record's definition.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from contracts.audit_chain import GENESIS, verify_chain
from contracts.result_bundle import FORMAT, WATERMARK_TABLES, sign_payload

from .exam.counts import sitting_attendance


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
    # 放行码信封 (issue 17 item 7): each sitting's seal number, and when and by whom it was opened.
    envelopes = _rows(conn, f"SELECT * FROM release_envelopes WHERE sitting_id IN ({qm}) ORDER BY sitting_id",
                      tuple(sids)) if _has_table(conn, "release_envelopes") else []
    opened_envelope = {e["sitting_id"]: e for e in envelopes if e["opened_at"] is not None}
    # One candidate's exceptions (issue 17 items 1-3): stopped, moved, rescheduled (待重考).
    exceptions = _rows(conn, f"SELECT * FROM candidate_exceptions WHERE sitting_id IN ({qm}) OR to_sitting IN ({qm})"
                             " ORDER BY id", tuple(sids) * 2) if _has_table(conn, "candidate_exceptions") else []

    # 考场情况记录表, one per sitting (场次 x 考场), filled from the data above.
    # 应到/实到/缺考 as hall_server/exam/counts.py defines them (the console's and the printed
    # form's numbers), as of the last recorded event: no wall clock, so the bundle stays
    # deterministic; an ended sitting has no one pending.
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
        sid = s["sitting_id"]
        for e in exceptions:
            if e["kind"] == "stop" and e["sitting_id"] == sid:
                other.append(f'stop: {e["ticket"]} 停考/代为交卷：{e["reason"]}')
            elif e["kind"] == "move" and e["sitting_id"] == sid:
                other.append(f'move_out: {e["ticket"]} 调至 {e["to_sitting"]}：{e["reason"]}')
            elif e["kind"] == "move" and e["to_sitting"] == sid:
                other.append(f'move_in: {e["ticket"]} 由 {e["sitting_id"]} 调入：{e["reason"]}')
        retake_reason = {e["ticket"]: e["reason"] for e in exceptions if e["kind"] == "reschedule"}
        if s["sitting_id"] in opened_envelope:
            e = opened_envelope[s["sitting_id"]]
            other.insert(0, f'release_envelope: 未能联系区县定考办，开启放行码信封（封条号 {e["seal_no"]}，开启人 {e["opened_by"]}）')
        room_records.append({
            "date": s["date"], "site_name": meta.get("site_name", ""), "sitting_id": s["sitting_id"],
            "sitting_no": s["sitting_no"], "room": room_name.get(s["room_id"], s["room_id"]),
            "expected": seen.expected, "present": seen.present, "pending": seen.pending, "absentees": absent,
            # 待重考 (另择期再考): neither absent nor failed; the centre schedules their new exam
            "rescheduled": [{"ticket": c["ticket"], "name": c["name"], "reason": retake_reason.get(c["ticket"], "")}
                            for c in cs if c["ticket"] in set(seen.retakes)],
            "violations": vio, "other": other,
        })
    absentees = [a for rr in room_records for a in
                 ({"ticket": x["ticket"], "name": x["name"], "sitting_id": rr["sitting_id"]} for x in rr["absentees"])]
    rescheduled = [{**x, "sitting_id": rr["sitting_id"]} for rr in room_records for x in rr["rescheduled"]]

    # Camera proctoring (issue 16): flags, similarities, identity checks, small thumbnails.
    from .proctor.bundle import proctoring
    proctor = proctoring(conn, [c["ticket"] for c in candidates])

    gen = _max_id(conn, "audit_log")
    head = audit[-1]["hash"] if audit else GENESIS
    return {
        "format": FORMAT,
        "site": {"site_no": meta.get("site_no", ""), "site_name": meta.get("site_name", ""),
                 "district": meta.get("district", ""), "demo": meta.get("demo", "0") == "1",
                 "plan_bundle_id": meta.get("bundle_id", "")},
        "scope": sitting_id if sitting_id is not None else "*",
        "generation": gen,
        "watermarks": {t: _max_id(conn, t) for t in WATERMARK_TABLES},
        "audit_head": {"id": gen, "hash": head},
        "counts": {"candidates": len(candidates), "attempts": len(att_by_ticket),
                   "submitted": sum(1 for a in attempts if a["status"] in ("submitted", "terminated")),
                   "absent": len(absentees), "rescheduled": len(rescheduled)},
        "rooms": rooms, "sittings": sittings, "candidates": candidates, "attempts": attempts,
        "answer_log": answer_log, "device_events": device_events, "violations": violations,
        "incidents": incidents, "time_adjustments": time_adjustments, "paper_entries": paper_entries,
        "release_envelopes": envelopes, "exceptions": exceptions, "rescheduled": rescheduled,
        "absentees": absentees, "room_records": room_records,
        "proctoring": proctor,
        "audit_log": audit,
    }


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
