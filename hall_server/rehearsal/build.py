"""The rehearsal database, built from the real one (read-only: rooms, roster, staff only)."""
from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path

from ..demo import shift_to_today
from ..importer import import_plan

MARK = "1"                                    # meta rehearsal = "1"
PRACTICE_PREFIX = "【演练题】"
KNOWN_CATEGORIES = ("临床", "中医", "口腔", "公共卫生")
SEED = 1501


class RehearsalError(RuntimeError):
    """The rehearsal cannot be built; the message is Chinese."""


def practice_bank(questions: int):
    """A small synthetic bank (provisioning/synth.py's, images included) whose stems say 【演练题】."""
    from provisioning.synth import DEMO_STEM_PREFIX, demo_bank

    bank = demo_bank(SEED, per_category=max(40, 4 * questions), images_per_category=1)
    items = [dataclasses.replace(i, stem=PRACTICE_PREFIX + i.stem[len(DEMO_STEM_PREFIX):])
             if i.stem.startswith(DEMO_STEM_PREFIX) else i for i in bank.items]
    return dataclasses.replace(bank, items=items)


def _practice_candidates(room_no: int, sitting_id: str, count: int, first_seat: int) -> list[dict]:
    out = []
    for i in range(1, count + 1):
        n = room_no * 100 + i
        out.append({"ticket": f"99{room_no:04d}{i:04d}", "name": f"演练考生{room_no}-{i}", "gender": "",
                    "id_number": f"50000019900101{n % 1000:03d}{n % 10}", "category": KNOWN_CATEGORIES[(i - 1) % 4],
                    "level": "执业医师", "unit": "演练", "department": "", "sitting_id": sitting_id,
                    "seat_no": first_seat + i})
    return out


def read_real(real_db: Path) -> dict:
    """What the rehearsal takes from the real database: never papers, keys or sealed sittings."""
    if not real_db.exists():
        raise RehearsalError(f"找不到考点数据库 {real_db}：请先导入考点数据包（hall import），演练用本考点的考场和名单")
    conn = sqlite3.connect(f"file:{real_db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        meta = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
        if meta.get("rehearsal") == MARK:
            raise RehearsalError(f"{real_db} 本身是演练数据库")
        rooms = [dict(r) for r in conn.execute("SELECT room_id, name, capacity FROM rooms ORDER BY room_id")]
        first = {}
        for s in conn.execute("SELECT sitting_id, room_id FROM sittings ORDER BY date, planned_start, sitting_no"):
            first.setdefault(s["room_id"], s["sitting_id"])
        roster = {room: [dict(c) for c in conn.execute(
            "SELECT ticket, name, gender, id_number, category, level, unit, department, seat_no FROM candidates"
            " WHERE sitting_id = ? ORDER BY seat_no, ticket", (sid,))] for room, sid in first.items()}
        staff = [dict(r) for r in conn.execute(
            "SELECT username, display_name, password_hash, role, room_id FROM staff ORDER BY username")]
    finally:
        conn.close()
    return {"meta": meta, "rooms": rooms, "roster": roster, "staff": staff}


def build(real_db: Path, out_db: Path, rc: dict, tz) -> dict:
    """Build the rehearsal database; returns a summary and the practice logins (lines)."""
    from provisioning.assemble import auto_blueprint, assemble_papers
    from provisioning.keys import site_keypair

    real = read_real(real_db)
    meta = real["meta"]
    sittings, candidates, practice = [], [], []
    for no, room in enumerate(real["rooms"], start=1):
        sid = f"YL-{room['room_id']}"
        sittings.append({"sitting_id": sid, "sitting_no": 1, "room_id": room["room_id"]})
        roster = [{**c, "sitting_id": sid} for c in real["roster"].get(room["room_id"], [])]
        seat = max((c["seat_no"] or 0 for c in roster), default=0)
        extra = _practice_candidates(no, sid, rc["practice_candidates_per_room"], seat)
        candidates += roster + extra
        practice += [(room["name"], c) for c in extra]
    if not candidates:
        raise RehearsalError("考点数据库中没有考生和考场：请先导入考点数据包")
    bank = practice_bank(rc["questions"])
    blueprint = auto_blueprint(bank, rc["questions"])
    papers, keys, _ = assemble_papers(bank, blueprint, [
        {**c, "category": c["category"] if c["category"] in KNOWN_CATEGORIES else KNOWN_CATEGORIES[0]}
        for c in candidates], SEED)
    plan = {
        "format": "hall-site-plan/1", "demo": False,
        "site": {"site_no": meta.get("site_no", ""), "name": meta.get("site_name", ""),
                 "district": meta.get("district", ""), "exam_dates": []},
        "exam": {"title": (meta.get("exam_title") or "医师定期考核业务水平测评") + "（模拟演练）",
                 "duration_minutes": rc["duration_minutes"], "late_entry_minutes": rc["late_entry_minutes"],
                 "earliest_submit_minutes": rc["earliest_submit_minutes"], "question_count": rc["questions"],
                 "points_per_question": 1, "timezone": meta.get("timezone", "")},
        "rooms": real["rooms"], "sittings": sittings, "candidates": candidates, "papers": papers, "keys": keys,
        "media": bank.media, "staff": real["staff"],
        # Its own key: no rehearsal QR, session or result is valid for the real exam.
        "site_key": site_keypair(),
    }
    shift_to_today(plan, tz=tz)
    out_db.parent.mkdir(parents=True, exist_ok=True)
    summary = import_plan(out_db, plan)
    conn = sqlite3.connect(out_db, isolation_level=None)
    try:
        conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                         [("rehearsal", MARK), ("rehearsal_built_at", repr(time.time())),
                          ("rehearsal_of", meta.get("bundle_id", ""))])
    finally:
        conn.close()
    lines = ["演练考生（准考证号 / 身份证号后6位 / 姓名 / 考场）：供监考员和工作人员用自己的手机练习登录",
             *(f"{c['ticket']}  {c['id_number'][-6:]}  {c['name']}  {room}" for room, c in practice)]
    (out_db.parent / "演练考生.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {**summary, "practice": lines}
