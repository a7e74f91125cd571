import time
from collections import Counter

from provisioning.demo import build_demo_plan
from provisioning.idcard import gender_of, is_valid
from provisioning.model import CATEGORIES, LEVELS


def test_demo_plan_shape(sites_csv):
    t = time.perf_counter()
    plan = build_demo_plan(sites_csv)
    assert time.perf_counter() - t < 2.0
    assert plan["format"] == "hall-site-plan/1" and plan["demo"] is True
    assert plan["site"]["site_no"] == "1"
    assert [r["name"] for r in plan["rooms"]] == ["第1考场", "第2考场"]
    assert [s["sitting_id"] for s in plan["sittings"]] == ["D1S1-R01", "D1S1-R02"]
    first = plan["site"]["exam_dates"][0]
    assert all(s["planned_start"] == f"{first}T09:00:00+08:00" for s in plan["sittings"])
    cands = plan["candidates"]
    assert len(cands) == 60
    assert len({c["ticket"] for c in cands}) == 60
    assert all(len(c["ticket"]) == 16 and c["ticket"].isdigit() for c in cands)
    assert {c["category"] for c in cands} == set(CATEGORIES)
    assert {(c["category"], c["level"]) for c in cands} == {(c, l) for c in CATEGORIES for l in LEVELS}
    for c in cands:
        assert is_valid(c["id_number"]) and c["id_number"].startswith("5001")
        assert 1960 <= int(c["id_number"][6:10]) <= 1995
        assert gender_of(c["id_number"]) == c["gender"]
        assert c["unit"] and c["department"] and c["name"]
    seats = Counter((c["sitting_id"], c["seat_no"]) for c in cands)
    assert max(seats.values()) == 1
    assert set(plan["papers"]) == set(plan["keys"]) == {c["ticket"] for c in cands}
    media_used = set()
    for c in cands:
        qs = plan["papers"][c["ticket"]]["questions"]
        assert [q["no"] for q in qs] == list(range(1, 101))
        assert len(plan["keys"][c["ticket"]]) == 100
        for q in qs:
            assert q["stem"].startswith("【演示题】")
            assert [o["key"] for o in q["options"]] == list("ABCDE")
            if q["image"]:
                media_used.add(q["image"])
        assert "answer" not in str(qs[0])
    assert media_used and media_used <= set(plan["media"])
    for name, data in plan["media"].items():
        import hashlib
        assert name == hashlib.sha256(data).hexdigest() + ".png" and data[:4] == b"\x89PNG"
    assert plan["staff"][0] == {"username": "chief", "display_name": "主考", "role": "chief",
                                "room_id": None, "password": "demo-chief"}
    assert plan["staff"][2]["room_id"] == "R02" and plan["staff"][2]["password"] == "demo-r02"
    assert set(plan["site_key"]) == {"private", "public"}


def test_demo_plan_deterministic(sites_csv):
    assert build_demo_plan(sites_csv, seed=7) == build_demo_plan(sites_csv, seed=7)
    assert build_demo_plan(sites_csv, seed=7)["keys"] != build_demo_plan(sites_csv, seed=8)["keys"]
