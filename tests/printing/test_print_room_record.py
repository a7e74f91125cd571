import pytest

from hall_server.db.schema import connect
from hall_server.printing import room_record
from hall_server.printing.data import NotFound
from printing_helpers import attendance, pages_text, save_and_render, squash

LEVEL_CN = {"minor": "一般违纪", "cheating": "考试作弊", "serious": "严重违纪"}
KIND_CN = {"network": "网络故障", "system": "系统故障", "sick": "考生身体不适"}


def expected(db, sitting):
    """(candidates, present tickets, absent candidates) by hall_server/exam/counts.py."""
    cands = list(db.query("SELECT * FROM candidates WHERE sitting_id = ?", [sitting]))
    seen = attendance(db, sitting)
    absent = [c for c in cands if c["ticket"] in seen.absentees]
    present = {c["ticket"] for c in cands} - {c["ticket"] for c in absent}
    assert seen.pending == 0 and len(present) == seen.present     # every sitting here has ended
    return cands, present, absent


def check_form(pages, db, sitting, sitting_no):
    cands, present, _ = expected(db, sitting)
    for i, text in enumerate(pages, 1):
        flat = squash(text)
        assert f"第 {i} 页 共 {len(pages)} 页" in text
        assert "考试日：2023年9月4日" in flat
        assert "考点名称重庆市渝中区人民医院" in flat
        assert f"场次第{sitting_no}场" in flat
        assert f"应到人数{len(cands)}" in flat and f"实到人数{len(present)}" in flat
        assert "监考签名" in flat and "主考签名" in flat
        assert ("续表" in flat) == (i > 1)


def test_room_record_fields(site_db):
    sitting = "D1S1-R01"
    before = site_db.conn.total_changes
    pdf = room_record(site_db, sitting)
    assert site_db.conn.total_changes == before
    save_and_render(pdf, "room-record")
    pages = pages_text(pdf)
    assert len(pages) == 1
    check_form(pages, site_db, sitting, 1)
    text = pages[0]
    flat = squash(text)
    cands, present, absent = expected(site_db, sitting)
    assert (len(cands), len(present), len(absent)) == (21, 18, 3)
    assert "缺考记录" in flat and "违纪记录" in flat and "其他" in flat
    for c in absent:
        assert f"{c['ticket']}  {c['name']}" in text or squash(c["ticket"] + c["name"]) in flat
    viols = list(site_db.query(
        "SELECT v.*, c.name FROM violations v JOIN candidates c USING (ticket) WHERE v.sitting_id = ?",
        [sitting]))
    assert {v["level"] for v in viols} == {"minor", "cheating", "serious"}
    for v in viols:
        assert v["ticket"] in text and v["name"] in text
        assert LEVEL_CN[v["level"]] in text
        assert squash(v["facts"][:12]) in flat  # first line of the wrapped cell
    for inc in site_db.query("SELECT * FROM incidents WHERE sitting_id = ?", [sitting]):
        assert f"【{KIND_CN[inc['kind']]}】" in text and squash(inc["text"][:15]) in flat
    # no present candidate among the absentees, which come first
    absent_part = text.split("单位／科室")[0]  # the violations table header
    assert not any(t in absent_part for t in present)
    assert "更换设备登录3人次" in flat
    assert "【暂停考试】4分钟：全场断网，暂停考试" in flat
    assert "延长5分钟：系统故障导致该考生无法作答" in flat
    assert "【准许迟到入场】" in flat and "交通拥堵" in flat


def test_room_record_absent_mark_and_paper_mode(site_db):
    sitting = "D1S1-R02"
    pdf = room_record(site_db, sitting)
    save_and_render(pdf, "room-record-room2")
    [text] = pages_text(pdf)
    flat = squash(text)
    cands, present, absent = expected(site_db, sitting)
    marked = site_db.execute("SELECT ticket FROM attempts WHERE sitting_id = ? AND status = 'absent'",
                             [sitting]).fetchone()[0]
    paper = site_db.execute("SELECT ticket FROM attempts WHERE sitting_id = ? AND mode = 'paper'",
                            [sitting]).fetchone()[0]
    assert marked in {c["ticket"] for c in absent} and paper in present
    assert f"应到人数{len(cands)}" in flat and f"实到人数{len(present)}" in flat
    assert len(absent) == 2 and all(c["ticket"] in text for c in absent)
    assert paper not in text  # not among the absentees (and no violation of theirs)
    assert "答题卡作答1人" in flat


def test_room_record_spills_to_continuation(site_db):
    sitting = "D1S2-R01"
    pdf = room_record(site_db, sitting)
    save_and_render(pdf, "room-record-many-absent")
    pages = pages_text(pdf)
    assert len(pages) >= 2
    check_form(pages, site_db, sitting, 2)
    _, _, absent = expected(site_db, sitting)
    assert len(absent) > 100
    everything = "\n".join(pages)
    for c in absent:
        assert everything.count(c["ticket"]) == 1, c["ticket"]
    # the absentee list itself runs onto the 续表 page, which says so
    assert any(c["ticket"] in pages[1] for c in absent)
    assert "缺考记录（续）" in squash(pages[1])
    assert "缺考记录（续）" not in squash(pages[0])
    assert f"共{len(absent)}人" in squash(pages[0])
    assert "违纪记录" in squash(everything) and "无" in everything


def test_room_record_takes_plain_connection(site_db, tmp_path):
    path = tmp_path / "copy.db"
    site_db.conn.execute("VACUUM INTO ?", [str(path)])
    conn = connect(path, readonly=True)
    try:
        assert room_record(conn, "D1S1-R02").startswith(b"%PDF")
        with pytest.raises(NotFound):
            room_record(conn, "NOPE")
    finally:
        conn.close()
