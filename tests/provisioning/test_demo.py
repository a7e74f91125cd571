import time
from collections import Counter

from provisioning.demo import build_demo_plan
from provisioning.idcard import gender_of, is_valid
from contracts.exam import CATEGORIES, LEVELS


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
        kind = {b"\x89PNG": "png", b"\xff\xd8\xff\xe0": "jpg"}[data[:4]]
        assert name == f"{hashlib.sha256(data).hexdigest()}.{kind}"
    assert plan["staff"][0] == {"username": "chief", "display_name": "主考", "role": "chief",
                                "room_id": None, "password": "demo-chief"}
    by_user = {s["username"]: s for s in plan["staff"]}
    assert by_user["r02"]["room_id"] == "R02" and by_user["r02"]["password"] == "demo-r02"
    # two invigilators per room and a site-wide patrol (issue 17 item 6)
    assert by_user["r02b"]["room_id"] == "R02" and by_user["r02b"]["role"] == "invigilator"
    assert by_user["patrol"] == {"username": "patrol", "display_name": "巡考", "role": "patrol", "room_id": None,
                                 "password": "demo-patrol"}
    assert set(plan["site_key"]) == {"private", "public"}


def test_demo_plan_deterministic(sites_csv):
    assert build_demo_plan(sites_csv, seed=7) == build_demo_plan(sites_csv, seed=7)
    assert build_demo_plan(sites_csv, seed=7)["keys"] != build_demo_plan(sites_csv, seed=8)["keys"]


def test_demo_bank_is_realistic(sites_csv):
    """Issue 13 item 2: the demo's papers look like real ones: long A2 case stems
    (150-400 characters), A3 groups on one shared case that stay together, large images."""
    from PIL import Image
    import io

    plan = build_demo_plan(sites_csv)
    for name, data in plan["media"].items():
        w, h = Image.open(io.BytesIO(data)).size
        assert w >= 1000 and h >= 700, (name, w, h)          # not thumbnails: an ECG is read in detail
    long_stems, groups_seen, with_image = 0, 0, 0
    for ticket, paper in plan["papers"].items():
        qs = paper["questions"]
        lengths = [len(q["stem"]) - len("【演示题】") for q in qs]
        long_stems += sum(150 <= n <= 400 for n in lengths)
        assert max(lengths) <= 400
        with_image += any(q["image"] for q in qs)
        shared = [q for q in qs if "（共用题干）" in q["stem"]]
        case_of = {q["no"]: q["stem"].split("\n")[0] for q in shared}
        for q in shared:                                      # a group's questions follow each other
            same = sorted(n for n, c in case_of.items() if c == case_of[q["no"]])
            assert same == list(range(same[0], same[0] + len(same))), same
            groups_seen += len(same) > 1
    assert long_stems >= 20 * len(plan["papers"])            # about a third of each paper
    assert groups_seen > 0
    assert with_image >= 0.8 * len(plan["papers"])
