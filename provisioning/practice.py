"""The rehearsal's (模拟演练) plan: the site's own rooms, roster and staff, practice questions.

The hall asks for it (`python -m provisioning practice-plan`, as `hall demo` asks for the demo
plan) with what it read from its real database; provisioning adds a practice bank whose stems
say 【演练题】, a few practice candidates per room, papers, and a key of its own, so that no
rehearsal QR code, session or result is ever valid for the real exam.
"""
from __future__ import annotations

import dataclasses

from contracts.exam import CATEGORIES
from contracts.keys import site_keypair

from .assemble import assemble_papers, auto_blueprint
from .synth import DEMO_STEM_PREFIX, demo_bank

PRACTICE_PREFIX = "【演练题】"
SEED = 1501


def practice_bank(questions: int):
    """A small synthetic bank (synth.py's, images included) whose stems say 【演练题】."""
    bank = demo_bank(SEED, per_category=max(40, 4 * questions), images_per_category=1)
    items = [dataclasses.replace(i, stem=PRACTICE_PREFIX + i.stem[len(DEMO_STEM_PREFIX):])
             if i.stem.startswith(DEMO_STEM_PREFIX) else i for i in bank.items]
    return dataclasses.replace(bank, items=items)


def practice_candidates(room_no: int, sitting_id: str, count: int, first_seat: int) -> list[dict]:
    out = []
    for i in range(1, count + 1):
        n = room_no * 100 + i
        out.append({"ticket": f"99{room_no:04d}{i:04d}", "name": f"演练考生{room_no}-{i}", "gender": "",
                    "id_number": f"50000019900101{n % 1000:03d}{n % 10}", "category": CATEGORIES[(i - 1) % 4],
                    "level": "执业医师", "unit": "演练", "department": "", "sitting_id": sitting_id,
                    "seat_no": first_seat + i})
    return out


def practice_plan(request: dict) -> dict:
    """`request`: {"meta", "rooms", "roster" (room_id → candidates), "staff", "rules"} as the
    hall read them; returns an unsealed plan (dates are the hall's to set)."""
    meta, rc = request["meta"], request["rules"]
    sittings, candidates, practice = [], [], []
    for no, room in enumerate(request["rooms"], start=1):
        sid = f"YL-{room['room_id']}"
        sittings.append({"sitting_id": sid, "sitting_no": 1, "room_id": room["room_id"]})
        roster = [{**c, "sitting_id": sid} for c in request["roster"].get(room["room_id"], [])]
        seat = max((c["seat_no"] or 0 for c in roster), default=0)
        extra = practice_candidates(no, sid, rc["practice_candidates_per_room"], seat)
        candidates += roster + extra
        practice += [{"room": room["name"], **c} for c in extra]
    bank = practice_bank(rc["questions"])
    blueprint = auto_blueprint(bank, rc["questions"])
    papers, keys, _ = assemble_papers(bank, blueprint, [
        {**c, "category": c["category"] if c["category"] in CATEGORIES else CATEGORIES[0]}
        for c in candidates], SEED)
    return {
        "format": "hall-site-plan/1", "demo": False,
        "site": {"site_no": meta.get("site_no", ""), "name": meta.get("site_name", ""),
                 "district": meta.get("district", ""), "exam_dates": []},
        "exam": {"title": (meta.get("exam_title") or "医师定期考核业务水平测评") + "（模拟演练）",
                 "duration_minutes": rc["duration_minutes"], "late_entry_minutes": rc["late_entry_minutes"],
                 "earliest_submit_minutes": rc["earliest_submit_minutes"], "question_count": rc["questions"],
                 "points_per_question": 1, "timezone": meta.get("timezone", "")},
        "rooms": request["rooms"], "sittings": sittings, "candidates": candidates, "papers": papers, "keys": keys,
        "media": bank.media, "staff": request["staff"],
        "site_key": site_keypair(),
        "practice": practice,
    }
