import pytest

from provisioning.allocate import AllocationError, Layout, allocate
from provisioning.roster import ROSTER_HEADERS, RosterError, load_roster, write_roster
from provisioning.sites import load_sites, parse_dates

GOOD = [
    ["2023001000000001", "张伟", "男", "500103198001011234", "临床", "执业医师", "重庆市第十三人民医院", "内科", "1"],
    ["2023001000000002", "李娜", "女", "500103198502022225", "中医", "执业助理医师", "重庆市中医院", "中医科", "重庆市第十三人民医院"],
    ["2023001000000003", "王芳", "女", "500106197003033321", "口腔", "执业医师", "口腔医院", "口腔科", "1"],
    ["2023001000000004", "赵强", "男", "500108199012124412", "公共卫生", "执业医师", "疾控中心", "免疫规划科", "1"],
]


def fix(row):
    from provisioning.idcard import check_char
    row = list(row)
    row[3] = row[3][:17] + check_char(row[3][:17])
    return row


def write(path, rows, headers=ROSTER_HEADERS[:9]):
    import csv
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(headers)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def sites(sites_csv):
    return load_sites(sites_csv)


def test_parse_dates():
    assert parse_dates("2023-09-04/2023-09-06") == ("2023-09-04", "2023-09-05", "2023-09-06")
    assert parse_dates("2023-09-04") == ("2023-09-04",)


def test_sites_loaded(sites):
    assert len(sites) == 343 and sites[0].site_no == "1"
    assert all(2 <= len(s.exam_dates) <= 3 for s in sites)


def test_good_csv_and_site_by_name(tmp_path, sites):
    r = load_roster(write(tmp_path / "r.csv", [fix(x) for x in GOOD]), sites)
    assert [c["site"] for c in r.candidates] == ["1"] * 4
    assert r.candidates[0]["category"] == "临床"


def test_good_xlsx_roundtrip(tmp_path, sites):
    rows = [dict(zip(["ticket", "name", "gender", "id_number", "category", "level", "unit",
                      "department", "site"], fix(x))) for x in GOOD]
    write_roster(tmp_path / "r.xlsx", rows)
    r = load_roster(tmp_path / "r.xlsx", sites)
    assert [c["ticket"] for c in r.candidates] == [x[0] for x in GOOD]
    assert r.candidates[0]["id_number"] == fix(GOOD[0])[3]


def test_gbk_csv(tmp_path, sites):
    p = tmp_path / "gbk.csv"
    text = ",".join(ROSTER_HEADERS[:9]) + "\r\n" + "\r\n".join(",".join(fix(x)) for x in GOOD)
    p.write_bytes(text.encode("gbk"))
    assert len(load_roster(p, sites).candidates) == 4


def test_all_errors_reported_with_rows(tmp_path, sites):
    rows = [fix(x) for x in GOOD]
    dup = list(rows[0]); dup[3] = fix(["", "", "", "500103197707071111"])[3]  # duplicate ticket
    bad_id = list(rows[1]); bad_id[0] = "2023001000000009"
    bad_id[3] = bad_id[3][:17] + ("0" if bad_id[3][17] != "0" else "1")
    bad_cat = list(rows[2]); bad_cat[0] = "2023001000000010"; bad_cat[4] = "护理"
    bad_cat[3] = fix(["", "", "", "500106197103033321"])[3]
    bad_site = list(rows[3]); bad_site[0] = "2023001000000011"; bad_site[8] = "不存在的医院"
    bad_site[3] = fix(["", "", "", "500108199112124412"])[3]
    p = write(tmp_path / "bad.csv", rows + [dup, bad_id, bad_cat, bad_site])
    with pytest.raises(RosterError) as ei:
        load_roster(p, sites)
    msgs = [str(e) for e in ei.value.errors]
    assert any(m.startswith("第6行 准考证号") and "第2行" in m for m in msgs), msgs
    assert any(m.startswith("第7行 身份证号") and "校验位" in m for m in msgs), msgs
    assert any(m.startswith("第8行 执业类别") and "护理" in m for m in msgs), msgs
    assert any(m.startswith("第9行 考点") for m in msgs), msgs
    assert "未导入任何考生" in str(ei.value)


def test_missing_column(tmp_path, sites):
    p = write(tmp_path / "m.csv", [x[:8] for x in GOOD], ROSTER_HEADERS[:8])
    with pytest.raises(RosterError, match="缺少必需的列：考点"):
        load_roster(p, sites)


def test_fixed_places_respected(tmp_path, sites):
    rows = [fix(x) + ["", "", "", ""] for x in GOOD]
    rows[0][9:13] = ["2023-09-05", "2", "1", "7"]
    rows[1][9:13] = ["", "", "2", ""]
    p = write(tmp_path / "f.csv", rows, ROSTER_HEADERS)
    r = load_roster(p, sites)
    cands = r.candidates
    rooms, sittings = allocate(sites[0], cands, Layout(rooms=2, capacity=30))
    assert cands[0]["sitting_id"] == "D2S2-R01" and cands[0]["seat_no"] == 7
    assert cands[1]["sitting_id"].endswith("R02")
    assert {s["sitting_id"] for s in sittings} == {c["sitting_id"] for c in cands}
    d2 = next(s for s in sittings if s["sitting_id"] == "D2S2-R01")
    assert d2["date"] == "2023-09-05" and d2["planned_start"] == "2023-09-05T10:40:00+08:00"


def test_fixed_date_not_exam_day(tmp_path, sites):
    rows = [fix(x) + ["", "", "", ""] for x in GOOD]
    rows[2][9:13] = ["2023-10-01", "1", "1", "1"]
    with pytest.raises(RosterError, match="第4行 考试日期"):
        load_roster(write(tmp_path / "d.csv", rows, ROSTER_HEADERS), sites)


def test_allocation_capacity(sites):
    cands = [{"ticket": f"{i:04d}"} for i in range(130)]
    rooms, sittings = allocate(sites[0], cands, Layout(rooms=2, capacity=30))
    from collections import Counter
    per = Counter(c["sitting_id"] for c in cands)
    assert max(per.values()) <= 30 and sum(per.values()) == 130
    seats = Counter((c["sitting_id"], c["seat_no"]) for c in cands)
    assert max(seats.values()) == 1
    with pytest.raises(AllocationError):
        allocate(sites[0], [{"ticket": str(i)} for i in range(1000)], Layout(rooms=1, capacity=30))


def test_title_row_above_header_xlsx(tmp_path, sites):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["2023年医师定期考核业务水平测评考生名单"])
    ws.append([])
    ws.append(ROSTER_HEADERS[:9])
    for r in GOOD:
        ws.append(fix(r))
    wb.save(tmp_path / "t.xlsx")
    r = load_roster(tmp_path / "t.xlsx", sites)
    assert len(r.candidates) == 4 and r.candidates[0]["row"] == 4


def test_id_number_stored_as_number_is_caught(tmp_path, sites):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(ROSTER_HEADERS[:9])
    row = fix(GOOD[0])
    row[3] = float(row[3])          # Excel turned the ID into a number: last digits lost
    ws.append(row)
    wb.save(tmp_path / "n.xlsx")
    with pytest.raises(RosterError, match="第2行 身份证号"):
        load_roster(tmp_path / "n.xlsx", sites)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 200), rooms=st.one_of(st.none(), st.integers(1, 4)),
       cap=st.integers(5, 40), fixed=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 2),
                                                        st.integers(1, 2)), max_size=10))
def test_allocation_properties(sites_csv, n, rooms, cap, fixed):
    from collections import Counter
    site = load_sites(sites_csv)[0]
    cands = [{"ticket": f"{i:05d}"} for i in range(n)]
    for c, (d, s, r) in zip(cands, fixed):
        c.update(date=site.exam_dates[d], session=s, room=r)
    layout = Layout(rooms=rooms, capacity=cap)
    try:
        room_list, sittings = allocate(site, cands, layout)
    except AllocationError:
        total = len(site.exam_dates) * 4 * (rooms or 8) * cap
        fixed_rooms = max((r for _, _, r in fixed[:n]), default=1)
        per_fixed = Counter(fixed[:n])
        assert n > total or (rooms or 8) < fixed_rooms or max(per_fixed.values(), default=0) > cap
        return
    per = Counter(c["sitting_id"] for c in cands)
    assert sum(per.values()) == n and max(per.values()) <= cap
    assert len({(c["sitting_id"], c["seat_no"]) for c in cands}) == n
    assert all(1 <= c["seat_no"] <= cap for c in cands)
    assert {s["sitting_id"] for s in sittings} == set(per)
    for c, (d, s, r) in zip(cands, fixed):
        assert c["sitting_id"] == f"D{d + 1}S{s}-R{r:02d}"
