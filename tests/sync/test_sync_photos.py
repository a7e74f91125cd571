"""Photos from the site to the centre's review (issue 16): thumbnails, flags and similarity
travel in the signed result bundle (size measured and bounded); the review page lists the
lowest similarity first; a district's decision under the manual's four rules is recorded
and changes the exported verdict and the make-up list. SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proctor"))

from proctorkit import astronaut_face, blank, jpeg, lfw_faces  # noqa: E402

from hall_server.proctor import ops as pops, photos  # noqa: E402
from sync.central.accounts import issue_office_token  # noqa: E402
from sync.central.offices import office_of_district  # noqa: E402
from sync.client import upload_bundle  # noqa: E402
from sync.result_bundle import build_result_bundle  # noqa: E402


def add_capture(db_path: Path, ticket: str, slot: int, data: bytes, faces: int, sim: float | None):
    """What the hall stores for a photo: the file, then the row and the face result, by the
    writer's own operations."""
    sha = photos.check_jpeg(data, 65536, 480).sha256
    photos.store(db_path.parent / "photos", data, sha)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("BEGIN")
    cid = f"cap-{ticket}-{slot}"
    pops.store_capture(conn, ticket, cid, slot, "file", sha, len(data), 100, 100, None, 1_700_000_000.0 + slot, 99)
    pops.record_face(conn, cid, faces, sim, "login" if sim is not None else None, 1_700_000_100.0)
    conn.execute("COMMIT")
    conn.close()


def _csv(url, path, headers):
    r = requests.get(url + path, headers=headers, timeout=20)
    assert r.status_code == 200, r.text
    return {row["准考证号"]: row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))}


def test_photo_review_decisions_change_the_exported_verdict(tmp_path, make_hall, start_central):
    db, info = make_hall("17")
    with sqlite3.connect(db) as conn:
        done = [r[0] for r in conn.execute("SELECT ticket FROM attempts WHERE status = 'submitted' ORDER BY ticket")]
    a, b = done[0], done[1]
    add_capture(db, a, 0, jpeg(astronaut_face()), 1, None)
    for slot in (1, 2, 3, 4, 5):
        add_capture(db, a, slot, jpeg(lfw_faces(12)[slot]), 1, 0.15 + slot / 100)
    add_capture(db, b, 0, jpeg(astronaut_face()), 1, None)
    add_capture(db, b, 1, jpeg(blank()), 0, None)
    data = build_result_bundle(db)
    pr = json.loads(data)["payload"]["proctoring"]
    by = {c["ticket"]: c for c in pr["candidates"]}
    assert by[a]["min_similarity"] == 0.16 and "相似度低" in by[a]["flags"] and "无人脸" in by[b]["flags"]
    assert sum(1 for c in by[a]["captures"] if c["thumb"]) == 4          # bounded per candidate
    assert by[a]["captures"][1]["thumb"]                                   # the least similar goes first
    print(f"\nbundle {len(data)} bytes; thumbnails {pr['thumb_bytes']} bytes for "
          f"{sum(1 for c in pr['candidates'] for x in c['captures'] if x['thumb'])} photos")
    assert pr["thumb_bytes"] < 4 * 6 * 4096

    central = start_central(answer_keys=info["keys"])
    f = tmp_path / "17.hallresult"
    f.write_bytes(data)
    assert upload_bundle(f, central.url).state == "accepted"
    for cat in ("临床", "中医", "口腔", "公共卫生"):
        for level in ("执业医师", "执业助理医师"):
            central.store.set_pass_mark(cat, level, 0)
    city = central.admin
    chengkou = {"Authorization": "Bearer " + issue_office_token(central.store, office_of_district("城口县"))[1]}
    wanzhou = {"Authorization": "Bearer " + issue_office_token(central.store, office_of_district("万州区"))[1]}
    url = central.url
    assert _csv(url, "/export/candidates.csv", city)[a]["结果"] == "合格"

    listed = requests.get(url + "/api/photos?below=0.5", headers=chengkou, timeout=20).json()["candidates"]
    assert [r["ticket"] for r in listed] == [a]
    everyone = requests.get(url + "/api/photos", headers=chengkou, timeout=20).json()["candidates"]
    assert [r["ticket"] for r in everyone][:2] == [a, b]     # lowest similarity first
    assert requests.get(url + "/api/photos", headers=wanzhou, timeout=20).json()["candidates"] == []
    page = requests.get(url + "/photos?site=17", headers=chengkou, timeout=20)
    assert page.status_code == 200 and page.text.count("data:image/jpeg;base64,") >= 5
    assert "多人且有相互沟通嫌疑" in page.text

    # refused, and nothing changes: another district, a rule that is not one of the four
    assert requests.post(f"{url}/api/photos/17/{a}", headers=wanzhou, json={"rule": "blocked"}).status_code == 403
    assert requests.post(f"{url}/api/photos/17/{a}", headers=chengkou, json={"rule": "maybe"}).status_code == 400
    assert _csv(url, "/export/candidates.csv", city)[a]["结果"] == "合格"

    r = requests.post(f"{url}/api/photos/17/{a}", headers=chengkou, json={"rule": "multi_comm", "note": "第3张有人递纸条"})
    assert r.status_code == 200 and r.json()["rule_zh"].startswith("多人且有相互沟通嫌疑")
    row = _csv(url, "/export/candidates.csv", city)[a]
    assert row["结果"] == "不合格" and row["照片评定"].startswith("多人且有相互沟通嫌疑") and row["照片标记"]
    assert _csv(url, "/export/makeup.csv", city)[a]["补考原因"] == "抓拍照片评定不合格"
    requests.post(f"{url}/api/photos/17/{a}", headers=city, json={"rule": "cheating"})
    assert _csv(url, "/export/candidates.csv", city)[a]["结果"] == "不合格"
    assert a not in _csv(url, "/export/makeup.csv", city)                # this cycle failed: no make-up
    requests.post(f"{url}/api/photos/17/{a}", headers=chengkou, json={"rule": "multi_no_comm"})
    assert _csv(url, "/export/candidates.csv", city)[a]["结果"] == "合格"
    steps = [(r["rule"], r["office"]) for r in central.store._q(
        "SELECT rule, office FROM photo_reviews WHERE ticket = ? ORDER BY id", (a,))]
    assert [s[0] for s in steps] == ["multi_comm", "cheating", "multi_no_comm"] and steps[1][1] == "市定考办"
    acts = central.store._q("SELECT COUNT(*) FROM actions WHERE action = 'photo_review'")[0][0]
    assert acts == 3
