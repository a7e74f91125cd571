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


def import_plan(db_path: str | Path, plan: dict, synchronous: str = "FULL") -> dict:
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
        points = exam.get("points_per_question", 1)
        for ticket, paper in plan["papers"].items():
            qs = paper["questions"]
            conn.execute("INSERT INTO papers(ticket, paper_json, paper_hash) VALUES (?, ?, ?)",
                         (ticket, json.dumps({"questions": qs}, ensure_ascii=False), paper_hash(qs)))
            key = plan["keys"].get(ticket)
            if key is None or len(key) != len(qs):
                raise ImportError_(f"考生 {ticket} 的答案与试卷题数不符")
            conn.execute("INSERT INTO paper_keys(ticket, key_json, points) VALUES (?, ?, ?)",
                         (ticket, json.dumps(key), points))
        for name, data in plan.get("media", {}).items():
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            conn.execute("INSERT INTO media(name, content_type, data) VALUES (?, ?, ?)", (name, ctype, data))
        for s in plan["staff"]:
            conn.execute("INSERT INTO staff(username, display_name, password_hash, role, room_id) VALUES (?,?,?,?,?)",
                         (s["username"], s["display_name"], hash_password(s["password"]), s["role"], s.get("room_id")))
        conn.execute("COMMIT")
    except Exception as e:
        conn.execute("ROLLBACK")
        conn.close()
        if isinstance(e, ImportError_):
            raise
        raise ImportError_(f"导入失败，未导入任何数据: {e}") from e
    conn.close()
    return {"site_no": meta["site_no"], "rooms": len(plan["rooms"]), "sittings": len(plan["sittings"]),
            "candidates": len(plan["candidates"])}
