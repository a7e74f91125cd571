"""The rehearsal database, built from the real one (read-only: rooms, roster, staff only)."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contracts.site_plan import load_plan

from ..demo import shift_to_today
from ..importer import import_plan

MARK = "1"                                    # meta rehearsal = "1"


class RehearsalError(RuntimeError):
    """The rehearsal cannot be built; the message is Chinese."""


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


def practice_plan(real: dict, rc: dict) -> dict:
    """Provisioning's practice plan for these rooms and rosters (a child process, as the demo's:
    the hall imports no provisioning code)."""
    request = {**real, "rules": {k: rc[k] for k in ("practice_candidates_per_room", "questions", "duration_minutes",
                                                     "late_entry_minutes", "earliest_submit_minutes")}}
    with tempfile.TemporaryDirectory(prefix="hall-rehearsal-") as tmp:
        req, out = Path(tmp) / "request.json", Path(tmp) / "plan.json"
        req.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
        r = subprocess.run([sys.executable, "-m", "provisioning", "practice-plan", "--request", str(req),
                            "--out", str(out)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RehearsalError(f"无法生成演练题和考生: {r.stderr.strip()[-500:]}")
        return load_plan(out)


def build(real_db: Path, out_db: Path, rc: dict, tz) -> dict:
    """Build the rehearsal database; returns a summary and the practice logins (lines)."""
    real = read_real(real_db)
    if not real["rooms"] or (not any(real["roster"].values()) and not rc["practice_candidates_per_room"]):
        raise RehearsalError("考点数据库中没有考生和考场：请先导入考点数据包")
    plan = practice_plan(real, rc)
    practice = plan.pop("practice")
    shift_to_today(plan, tz=tz)
    out_db.parent.mkdir(parents=True, exist_ok=True)
    summary = import_plan(out_db, plan)
    conn = sqlite3.connect(out_db, isolation_level=None)
    try:
        conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                         [("rehearsal", MARK), ("rehearsal_built_at", repr(time.time())),
                          ("rehearsal_of", real["meta"].get("bundle_id", ""))])
    finally:
        conn.close()
    lines = ["演练考生（准考证号 / 身份证号后6位 / 姓名 / 考场）：供监考员和工作人员用自己的手机练习登录",
             *(f"{c['ticket']}  {c['id_number'][-6:]}  {c['name']}  {c['room']}" for c in practice)]
    (out_db.parent / "演练考生.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {**summary, "practice": lines}
