"""Small site plans for tests: real format, tiny papers, test-sized durations."""
from __future__ import annotations

import base64
import random

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

CATEGORIES = ["临床", "中医", "口腔", "公共卫生"]
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ["建国", "秀英", "志强", "丽华", "海燕", "文博", "静", "伟", "敏", "磊"]


def keypair(seed: int) -> dict:
    rng = random.Random(seed)
    key = Ed25519PrivateKey.from_private_bytes(bytes(rng.getrandbits(8) for _ in range(32)))
    priv = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"private": base64.b64encode(priv).decode(), "public": base64.b64encode(pub).decode()}


def make_plan(candidates_per_room: int = 10, rooms: int = 2, questions: int = 10, seed: int = 7,
              duration_minutes: float = 60, earliest_submit_minutes: float = 15,
              late_entry_minutes: float = 10, planned_start: str = "2030-09-04T09:00:00+08:00",
              site_no: str = "1") -> dict:
    rng = random.Random(seed)
    plan = {
        "format": "hall-site-plan/1", "demo": True,
        "site": {"site_no": site_no, "name": "测试考点医院", "district": "渝中区", "exam_dates": ["2030-09-04"]},
        "exam": {"title": "医师定期考核业务水平测评", "duration_minutes": duration_minutes,
                 "late_entry_minutes": late_entry_minutes, "earliest_submit_minutes": earliest_submit_minutes,
                 "question_count": questions, "points_per_question": 1},
        "rooms": [], "sittings": [], "candidates": [], "papers": {}, "keys": {}, "media": {},
        "staff": [{"username": "chief", "display_name": "主考", "role": "chief", "room_id": None,
                   "password": "chief-pw"}],
        "site_key": keypair(seed),
    }
    n = 0
    for r in range(1, rooms + 1):
        room_id = f"R{r:02d}"
        sitting_id = f"D1S1-{room_id}"
        plan["rooms"].append({"room_id": room_id, "name": f"第{r}考场", "capacity": candidates_per_room})
        plan["sittings"].append({"sitting_id": sitting_id, "sitting_no": 1, "room_id": room_id,
                                 "date": planned_start[:10], "planned_start": planned_start})
        plan["staff"].append({"username": f"r{r:02d}", "display_name": f"第{r}考场监考", "role": "invigilator",
                              "room_id": room_id, "password": f"r{r:02d}-pw"})
        for seat in range(1, candidates_per_room + 1):
            n += 1
            ticket = f"2030{r:02d}{seat:04d}{n:06d}"
            cat = CATEGORIES[n % 4]
            plan["candidates"].append({
                "ticket": ticket, "name": rng.choice(SURNAMES) + rng.choice(GIVEN), "gender": "男女"[n % 2],
                "id_number": f"500101198{n % 10}0101{n:03d}{'X' if n % 7 == 0 else n % 10}",
                "category": cat, "level": "执业医师", "unit": f"第{n % 3 + 1}人民医院", "department": "内科",
                "sitting_id": sitting_id, "seat_no": seat})
            qs, key = [], []
            for q in range(1, questions + 1):
                opts = ["A", "B", "C", "D", "E"][: 4 + (q % 2)]
                qs.append({"no": q, "stem": f"【测试题】{cat}第{q}题", "image": None,
                           "options": [{"key": k, "text": f"选项{k}"} for k in opts]})
                key.append(rng.choice(opts))
            plan["papers"][ticket] = {"questions": qs}
            plan["keys"][ticket] = key
    return plan


def fast_plan(**kw):
    """Durations short enough to reach every rule within a test."""
    args = dict(duration_minutes=0.1, earliest_submit_minutes=0.02, late_entry_minutes=10)
    args.update(kw)
    return make_plan(**args)
