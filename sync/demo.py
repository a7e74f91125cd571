"""Synthetic hall databases for tests, benchmarks and rehearsals (DEMO data only).

make_demo_hall() writes a realistic finished site: rooms, sittings, candidates, papers,
keys, attempts (submitted, time-up, terminated, device change), answers + answer_log,
violations, incidents, absentees and a valid audit chain.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .audit_chain import append_entry

CATEGORIES = ["临床", "中医", "口腔", "公共卫生"]
LEVELS = ["执业医师", "执业助理医师"]
OPTIONS = "ABCDE"
T0 = 1693789200.0  # 2023-09-04 09:00 +08:00


def new_site_key() -> tuple[str, str]:
    sk = Ed25519PrivateKey.generate()
    return (base64.b64encode(sk.private_bytes_raw()).decode(),
            base64.b64encode(sk.public_key().public_bytes_raw()).decode())


def make_demo_hall(path: str | Path, site_no: str, private_b64: str, *, site_name: str | None = None,
                   district: str = "渝中区", n_candidates: int = 20, questions: int = 100,
                   rooms: int = 2, seed: int = 1, absent: int = 2) -> dict:
    """Create a finished hall DB. Returns {"keys": {ticket: [..]}, "tickets": [...],
    "roster": [candidate dicts with site_no]}."""
    from hall_server.db.schema import open_db

    rnd = random.Random(f"{site_no}-{seed}")
    db = open_db(path)
    c = db.conn
    pub = base64.b64encode(Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_b64))
                           .public_key().public_bytes_raw()).decode()
    c.execute("BEGIN")
    for k, v in {"site_no": str(site_no), "site_name": site_name or f"DEMO 考点{site_no}", "district": district, "demo": "1",
                 "site_key_private": private_b64, "site_key_public": pub}.items():
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (k, v))
    ts = T0 - 3600
    def audit(action, **kw):
        nonlocal ts
        ts += 1.25
        append_entry(c, ts=ts, actor=kw.pop("actor", "chief"), action=action, **kw)

    audit("plan_imported", data={"site_no": str(site_no)})
    sittings = []
    for r in range(1, rooms + 1):
        rid = f"R{r:02d}"
        c.execute("INSERT INTO rooms(room_id, name, capacity) VALUES (?,?,?)", (rid, f"第{r}考场", 40))
        sid = f"D1S1-{rid}"
        c.execute("""INSERT INTO sittings(sitting_id, sitting_no, room_id, date, planned_start, duration_s,
                     late_entry_s, earliest_submit_s, question_count, status, started_at, started_by, ended_at)
                     VALUES (?,1,?,?,?,3600,600,900,?, 'ended', ?, 'chief', ?)""",
                  (sid, rid, "2023-09-04", "2023-09-04T09:00:00+08:00", questions, T0, T0 + 3700))
        sittings.append(sid)
        audit("sitting_started", sitting_id=sid)
    keys, tickets, roster = {}, [], []
    vio_id = inc_id = dev_id = 0
    for i in range(n_candidates):
        t = f"50{int(site_no):03d}2023{i + 1:06d}"
        sid = sittings[i % len(sittings)]
        cand = {"ticket": t, "name": f"考生{site_no}-{i + 1}", "gender": "男女"[i % 2],
                "id_number": f"500101198{i % 10}0101{i:04d}"[:18], "category": CATEGORIES[i % 4],
                "level": LEVELS[(i // 4) % 2], "unit": f"DEMO 单位{(i % 3) + 1}（考点{site_no}）",
                "department": "内科", "sitting_id": sid, "seat_no": i // len(sittings) + 1}
        c.execute("INSERT INTO candidates(ticket, name, gender, id_number, category, level, unit, department,"
                  " sitting_id, seat_no) VALUES (:ticket,:name,:gender,:id_number,:category,:level,:unit,"
                  ":department,:sitting_id,:seat_no)", cand)
        roster.append({**cand, "site_no": str(site_no)})
        key = [rnd.choice(OPTIONS) for _ in range(questions)]
        keys[t] = key
        paper = json.dumps({"q": questions, "t": t})
        c.execute("INSERT INTO papers(ticket, paper_json, paper_hash) VALUES (?,?,?)",
                  (t, paper, hashlib.sha256(paper.encode()).hexdigest()))
        c.execute("INSERT INTO paper_keys(ticket, key_json, points) VALUES (?,?,1)", (t, json.dumps(key)))
        tickets.append(t)
        if i >= n_candidates - absent:
            if i == n_candidates - absent:   # marked 缺考 by the hall; any others simply have no attempt
                c.execute("INSERT INTO attempts(ticket, sitting_id, status) VALUES (?,?, 'absent')", (t, sid))
                audit("mark_absent", sitting_id=sid, actor="system", data={"tickets": [t]})
            continue
        opened = T0 + 60 + i
        c.execute("INSERT INTO attempts(ticket, sitting_id, status) VALUES (?,?, 'answering')", (t, sid))
        skill = rnd.uniform(0.45, 0.95)
        score = 0.0
        seq = 0
        for q in range(1, questions + 1):
            choice = key[q - 1] if rnd.random() < skill else rnd.choice(OPTIONS)
            if rnd.random() < 0.1:  # changed mind once
                seq += 1
                c.execute("INSERT INTO answer_log(ticket, q, choice, seq, saved_at, device_id) VALUES (?,?,?,?,?,?)",
                          (t, q, rnd.choice(OPTIONS), seq, opened + q * 20, f"dev-{t}"))
            seq += 1
            saved = opened + q * 20 + 5
            c.execute("INSERT INTO answers(ticket, q, choice, seq, saved_at) VALUES (?,?,?,?,?)", (t, q, choice, seq, saved))
            c.execute("INSERT INTO answer_log(ticket, q, choice, seq, saved_at, device_id) VALUES (?,?,?,?,?,?)",
                      (t, q, choice, seq, saved, f"dev-{t}"))
            score += choice == key[q - 1]
        status, reason = "submitted", ("time_up" if i % 5 == 0 else "candidate")
        changes = 1 if i % 7 == 3 else 0
        if changes:
            dev_id += 1
            c.execute("INSERT INTO device_events(id, ticket, kind, device_id, data, ts) VALUES (?,?,?,?,?,?)",
                      (dev_id, t, "takeover", f"dev2-{t}", "{}", opened + 600))
        if i == 1:
            status, reason = "terminated", "terminated"
            vio_id += 1
            c.execute("INSERT INTO violations(id, ticket, sitting_id, level, facts, ts, staff) VALUES (?,?,?,?,?,?,?)",
                      (vio_id, t, sid, "cheating", "使用手机搜索答案", opened + 900, "inv1"))
            audit("violation", sitting_id=sid, ticket=t, actor="inv1", data={"level": "cheating"})
        elif i == 2:
            vio_id += 1
            c.execute("INSERT INTO violations(id, ticket, sitting_id, level, facts, ts, staff) VALUES (?,?,?,?,?,?,?)",
                      (vio_id, t, sid, "minor", "未按指定座位就座", opened + 100, "inv1"))
            audit("violation", sitting_id=sid, ticket=t, actor="inv1", data={"level": "minor"})
        submitted = opened + (3600 if reason == "time_up" else 2400 + i)
        c.execute("""UPDATE attempts SET status=?, signin_order=?, logged_in_at=?, confirmed_at=?,
                     opened_at=?, deadline_at=?, submitted_at=?, submit_reason=?, receipt=?, score=?, answered=?,
                     device_id=?, device_changes=? WHERE ticket=?""",
                  (status, i + 1, opened - 120, opened - 60, opened, opened + 3600, submitted, reason,
                   f"RCPT-{i:04d}", score, questions, f"dev-{t}", changes, t))
        audit("submit", sitting_id=sid, ticket=t, actor="system" if reason == "time_up" else "candidate",
              data={"reason": reason, "answered": questions})
    if c.execute("SELECT 1 FROM sqlite_master WHERE name = 'time_adjustments'").fetchone():
        c.execute("INSERT INTO time_adjustments(sitting_id, ticket, kind, seconds, reason, started_at, ended_at, staff)"
                  " VALUES (?, NULL, 'pause', 180, '停电', ?, ?, 'chief')", (sittings[0], T0 + 1200, T0 + 1380))
        audit("pause", sitting_id=sittings[0], data={"seconds": 180})
    inc_id += 1
    c.execute("INSERT INTO incidents(id, sitting_id, kind, text, ts, staff) VALUES (?,?,?,?,?,?)",
              (inc_id, sittings[0], "power", "09:20 停电 3 分钟，UPS 供电，考试未中断", T0 + 1200, "chief"))
    audit("incident", sitting_id=sittings[0], data={"kind": "power"})
    for sid in sittings:
        audit("sitting_ended", sitting_id=sid)
    c.execute("COMMIT")
    db.conn.close()
    return {"keys": keys, "tickets": tickets, "roster": roster, "public": pub}
