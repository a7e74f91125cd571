import re

import pdfplumber
import io
from reportlab.lib.units import mm

from hall_server.printing import sign_in_sheet
from hall_server.printing.data import mask_id
from printing_helpers import pages_text, save_and_render, squash

SITTING = "D1S1-R01"


def candidates(db, sitting=SITTING):
    return list(db.query("SELECT * FROM candidates WHERE sitting_id = ? ORDER BY seat_no", [sitting]))


def check_page_numbers(pages):
    for i, text in enumerate(pages, 1):
        assert f"第 {i} 页 共 {len(pages)} 页" in text


def test_sign_in_by_unit(site_db):
    before = site_db.conn.total_changes
    pdf = sign_in_sheet(site_db, SITTING)
    assert site_db.conn.total_changes == before  # read-only
    save_and_render(pdf, "sign-in-by-unit")
    pages = pages_text(pdf)
    check_page_numbers(pages)
    cands = candidates(site_db)
    units = {c["unit"] for c in cands}
    # one unit per page here (no unit has more than a page of candidates)
    assert len(pages) == len(units)
    for text in pages:
        assert "考点：重庆市渝中区人民医院（编号 12）" in text
        assert "场次：第 1 场" in text and "考场：第1考场" in text and "2023年9月4日" in text
        heads = re.findall(r"工作单位：(\S+?)（共 (\d+) 人）", text)
        assert len(heads) == 1
    for c in cands:
        hits = [t for t in pages if c["ticket"] in t]
        assert len(hits) == 1, c["ticket"]
        page = hits[0]
        assert f"工作单位：{c['unit']}（共" in page
        assert c["name"] in page
        assert mask_id(c["id_number"]) in page
        assert c["id_number"] not in squash("".join(pages))
    assert all(squash(h) in squash("".join(pages))
               for h in ("序号", "准考证号", "姓名", "性别", "身份证号", "工作单位", "执业类别", "座位号", "签名"))


def test_sign_in_rows_are_tall_enough_to_sign(site_db):
    pdf = sign_in_sheet(site_db, SITTING, by_unit=False)
    save_and_render(pdf, "sign-in-room")
    pages = pages_text(pdf)
    check_page_numbers(pages)
    assert len(pages) == 2  # 21 candidates at 12 mm a row
    tickets = {c["ticket"] for c in candidates(site_db)}
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        tops = [w["top"] for w in doc.pages[0].extract_words() if w["text"] in tickets]
    assert len(tops) >= 10
    gaps = [b - a for a, b in zip(tops, tops[1:])]
    assert min(gaps) >= 11.5 * mm
    assert all(t in "".join(pages) for t in tickets)


def test_mask_id():
    assert mask_id("500101199001011234") == "500101************"
    assert mask_id("50010119900101123X") == "500101************"
    assert mask_id("") == ""
    assert "123456" not in mask_id("E123456")


def test_sign_in_unit_spanning_pages_repeats_its_header(site_db):
    sitting = "D1S2-R01"  # 110 candidates from 3 units
    pdf = sign_in_sheet(site_db, sitting)
    save_and_render(pdf, "sign-in-big-units")
    pages = pages_text(pdf)
    check_page_numbers(pages)
    cands = candidates(site_db, sitting)
    unit_of = {c["ticket"]: c["unit"] for c in cands}
    assert len(pages) > len(set(unit_of.values()))
    seen = []
    for text in pages:
        [(unit, _)] = re.findall(r"工作单位：(\S+?)（共 (\d+) 人）", text)
        on_page = [t for t in unit_of if t in text]
        assert on_page and all(unit_of[t] == unit for t in on_page)
        seen += on_page
    assert sorted(seen) == sorted(unit_of)
