"""Loading a site plan (docs/site-plan.md) into an empty hall database, all or nothing."""
from __future__ import annotations

import hashlib
import json
import mimetypes
from pathlib import Path

from .auth.passwords import hash_password
from .db import schema


class ImportError_(ValueError):
    pass


REQUIRED = ("format", "site", "exam", "rooms", "sittings", "candidates", "papers", "keys", "staff", "site_key")


def paper_hash(questions: list) -> str:
    return hashlib.sha256(json.dumps(questions, ensure_ascii=False, sort_keys=True,
                                     separators=(",", ":")).encode()).hexdigest()[:32]


def import_bundle(db_path: str | Path, bundle_path: str | Path, central_public_key,
                  expected_site_no: str | None = None, synchronous: str = "FULL",
                  activation_code: str | None = None) -> dict:
    """Verify a signed site bundle and import it; papers stay sealed until each sitting's
    release code is entered at its start. Nothing is imported from a refused bundle."""
    from provisioning.bundle import BundleError, bundle_to_plan, dump_sealed, read_bundle

    try:
        manifest, sealed = read_bundle(bundle_path, central_public_key, expected_site_no, activation_code)
        plan = bundle_to_plan(manifest, {})
    except BundleError as e:
        raise ImportError_(str(e)) from None
    plan["bundle_id"] = manifest["bundle_id"]
    return import_plan(db_path, plan, synchronous, sealed={sid: dump_sealed(e) for sid, e in sealed.items()})


def import_plan(db_path: str | Path, plan: dict, synchronous: str = "FULL",
                sealed: dict[str, str] | None = None) -> dict:
    missing = [k for k in REQUIRED if k not in plan]
    if missing:
        raise ImportError_(f"数据包缺少字段: {', '.join(missing)}")
    if plan["format"] != "hall-site-plan/1":
        raise ImportError_(f"不支持的数据包格式: {plan['format']}")
    db = schema.open_db(db_path, synchronous)
    conn = db.conn
    if schema.get_meta(db, "site_no") is not None:
        conn.close()
        raise ImportError_(f"数据库 {db_path} 已导入考点 {schema.get_meta(db, 'site_no')}，不能重复导入")
    exam = plan["exam"]
    try:
        conn.execute("BEGIN IMMEDIATE")
        meta = {
            "site_no": str(plan["site"]["site_no"]),
            "site_name": plan["site"]["name"],
            "district": plan["site"].get("district", ""),
            "exam_dates": json.dumps(plan["site"].get("exam_dates", []), ensure_ascii=False),
            "exam_title": exam.get("title", "医师定期考核业务水平测评"),
            "demo": "1" if plan.get("demo") else "0",
            "site_key_private": plan["site_key"]["private"],
            "site_key_public": plan["site_key"]["public"],
            "bundle_id": plan.get("bundle_id", ""),
            # the exam's time zone, when the bundle names one (hall_server/zone.py)
            "timezone": exam.get("timezone") or plan["site"].get("timezone") or "",
        }
        conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", meta.items())
        for r in plan["rooms"]:
            conn.execute("INSERT INTO rooms(room_id, name, capacity) VALUES (?, ?, ?)",
                         (r["room_id"], r["name"], r["capacity"]))
        for s in plan["sittings"]:
            conn.execute(
                "INSERT INTO sittings(sitting_id, sitting_no, room_id, date, planned_start, duration_s,"
                " late_entry_s, earliest_submit_s, question_count) VALUES (?,?,?,?,?,?,?,?,?)",
                (s["sitting_id"], s["sitting_no"], s["room_id"], s["date"], s["planned_start"],
                 int(s.get("duration_minutes", exam["duration_minutes"]) * 60),
                 int(s.get("late_entry_minutes", exam["late_entry_minutes"]) * 60),
                 int(s.get("earliest_submit_minutes", exam["earliest_submit_minutes"]) * 60),
                 int(s.get("question_count", exam["question_count"]))))
        for c in plan["candidates"]:
            conn.execute(
                "INSERT INTO candidates(ticket, name, gender, id_number, category, level, unit, department,"
                " sitting_id, seat_no) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (c["ticket"], c["name"], c.get("gender", ""), c["id_number"], c["category"], c.get("level", ""),
                 c.get("unit", ""), c.get("department", ""), c["sitting_id"], c.get("seat_no")))
            if c.get("photo"):  # 证件照 (optional): inside the signed plan, so sealed like the roster
                import base64
                import hashlib

                photo = base64.b64decode(c["photo"])
                conn.execute("INSERT INTO roster_photos(ticket, sha256, data) VALUES (?, ?, ?)",
                             (c["ticket"], hashlib.sha256(photo).hexdigest(), photo))
        points = exam.get("points_per_question", 1)
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('points_per_question', ?)", (str(points),))
        missing_keys = set(plan["papers"]) - set(plan["keys"])
        if missing_keys:
            raise ImportError_(f"考生 {sorted(missing_keys)[0]} 缺少答案")
        insert_papers(conn, plan["papers"], plan["keys"], plan.get("media", {}), points)
        for sitting_id, text in (sealed or {}).items():
            conn.execute("INSERT INTO sealed_sittings(sitting_id, sealed) VALUES (?, ?)", (sitting_id, text))
        for s in plan["staff"]:
            conn.execute("INSERT INTO staff(username, display_name, password_hash, role, room_id) VALUES (?,?,?,?,?)",
                         (s["username"], s["display_name"], s.get("password_hash") or hash_password(s["password"]),
                          s["role"], s.get("room_id")))
        conn.execute("COMMIT")
    except Exception as e:
        conn.execute("ROLLBACK")
        conn.close()
        if isinstance(e, ImportError_):
            raise
        raise ImportError_(f"导入失败，未导入任何数据: {e}") from e
    conn.close()
    return {"site_no": meta["site_no"], "rooms": len(plan["rooms"]), "sittings": len(plan["sittings"]),
            "candidates": len(plan["candidates"]), "sealed_sittings": len(sealed or {})}


def insert_papers(conn, papers: dict, keys: dict, media: dict, points: float) -> None:
    """Papers of one released sitting, inside the caller's transaction."""
    for ticket, paper in papers.items():
        qs = paper["questions"]
        if len(keys[ticket]) != len(qs):
            raise ImportError_(f"考生 {ticket} 的答案与试卷题数不符")
        conn.execute("INSERT INTO papers(ticket, paper_json, paper_hash) VALUES (?, ?, ?)",
                     (ticket, json.dumps({"questions": qs}, ensure_ascii=False), paper_hash(qs)))
        conn.execute("INSERT INTO paper_keys(ticket, key_json, points) VALUES (?, ?, ?)",
                     (ticket, json.dumps(keys[ticket]), points))
    for name, data in media.items():
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        conn.execute("INSERT OR IGNORE INTO media(name, content_type, data) VALUES (?, ?, ?)", (name, ctype, data))
