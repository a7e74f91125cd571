"""After the exam, over HTTP as a district office and as the city (issue 18 items 1-3):
the violation review chain, deferrals, the make-up list and make-up results, and district
accounts that see and act on their own sites only. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
import requests
from openpyxl import load_workbook

from contracts.exam import CATEGORIES
from sync.central.accounts import issue_office_token
from sync.central.offices import office_of_district
from contracts.upload import upload_bundle
from hall_server.result_export import build_result_bundle
from contracts.result_bundle import sign_payload

CITY = {"Authorization": "Bearer test-admin-token"}


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _upload(tmp_path, central, data, name):
    f = tmp_path / name
    f.write_bytes(data)
    res = upload_bundle(f, central.url)
    assert res.state == "accepted", res.reason
    return res


@pytest.fixture
def centre(tmp_path, make_hall, start_central):
    """Site 17 (城口县) and site 42 (万州区) uploaded; tokens for both district offices."""
    (db17, i17), (db42, i42) = make_hall("17"), make_hall("42")
    central = start_central(answer_keys={**i17["keys"], **i42["keys"]})
    for db, n in ((db17, "17"), (db42, "42")):
        _upload(tmp_path, central, build_result_bundle(db), f"{n}.hallresult")
    chengkou = _bearer(issue_office_token(central.store, office_of_district("城口县"))[1])
    wanzhou = _bearer(issue_office_token(central.store, office_of_district("万州区"))[1])
    p17 = json.loads(build_result_bundle(db17))["payload"]
    case = f"17:{next(v['id'] for v in p17['violations'] if v['level'] == 'cheating')}"
    return central, chengkou, wanzhou, case, i17, i42, db17


def _csv(central, path, headers):
    r = requests.get(central.url + path, headers=headers)
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_review_chain_site_district_city(centre):
    central, chengkou, wanzhou, case, i17, _, _ = centre
    url = central.url
    cheat = i17["tickets"][1]
    # each office sees its own case only
    assert [c["case_id"] for c in requests.get(url + "/api/cases", headers=chengkou).json()["cases"]] == [case]
    assert {c["site_no"] for c in requests.get(url + "/api/cases", headers=wanzhou).json()["cases"]} == {"42"}
    assert len(requests.get(url + "/api/cases", headers=CITY).json()["cases"]) == 2
    row = next(r for r in _csv(central, "/export/candidates.csv", CITY) if r["准考证号"] == cheat)
    assert row["结果"] == "待核准" and row["违纪处理"] == "待区县复核"          # not final before approval
    before = requests.get(f"{url}/api/cases/{case}", headers=CITY).json()["case"]
    # refused, and nothing changes: another district, the district approving, the city too early
    assert requests.post(f"{url}/api/cases/{case}/review", headers=wanzhou, json={"level": "minor"}).status_code == 403
    assert requests.get(f"{url}/api/cases/{case}", headers=wanzhou).status_code == 404
    assert requests.post(f"{url}/api/cases/{case}/approve", headers=chengkou, json={"level": "cheating"}
                         ).status_code == 403
    r = requests.post(f"{url}/api/cases/{case}/approve", headers=CITY, json={"level": "cheating"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_reviewed"
    r = requests.post(f"{url}/api/cases/{case}/review", headers=chengkou, json={"level": "minor"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required"
    assert requests.post(f"{url}/api/cases/{case}/review", headers=chengkou, json={"level": "grave"}).status_code == 400
    assert requests.get(f"{url}/api/cases/{case}", headers=CITY).json()["case"] == before
    # district reviews (lowers the level, with a reason), the city approves (raises it back, with a reason)
    r = requests.post(f"{url}/api/cases/{case}/review", headers=chengkou,
                      json={"level": "minor", "note": "看回放", "reason": "手机仅放在桌上，未见使用"})
    assert r.status_code == 200 and r.json()["case"]["state"] == "pending_approval"
    assert next(r for r in _csv(central, "/export/candidates.csv", CITY) if r["准考证号"] == cheat)["结果"] == "待核准"
    r = requests.post(f"{url}/api/cases/{case}/approve", headers=CITY, json={"level": "cheating"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required"
    r = requests.post(f"{url}/api/cases/{case}/approve", headers=CITY,
                      json={"level": "cheating", "reason": "监控显示搜索答案", "note": "维持考点判定"})
    c = r.json()["case"]
    assert c["state"] == "approved" and c["final_level"] == "cheating"
    assert [(s["step"], s["level"], s["office"]) for s in c["steps"]] == [
        ("site", "cheating", "考点 17"), ("review", "minor", "城口县"), ("approve", "cheating", "市定考办")]
    assert c["steps"][1]["reason"] == "手机仅放在桌上，未见使用" and c["steps"][2]["note"] == "维持考点判定"
    assert c["evidence"]["room_record"]["violations"] and "使用手机搜索答案" in c["facts"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", c["review_due"])
    row = next(r for r in _csv(central, "/export/candidates.csv", CITY) if r["准考证号"] == cheat)
    assert row["结果"] == "不合格" and row["违纪处理"] == "已核准：考试作弊"
    mk = {r["准考证号"]: r for r in _csv(central, "/export/makeup.csv", chengkou)}
    assert mk[cheat]["补考原因"] == "考试作弊"                                  # cheating: may take the make-up
    # amended to serious (with a reason): fails the cycle, no make-up
    r = requests.post(f"{url}/api/cases/{case}/approve", headers=CITY, json={"level": "serious", "reason": "替考"})
    assert r.status_code == 200
    assert cheat not in {r["准考证号"] for r in _csv(central, "/export/makeup.csv", chengkou)}
    acts = requests.get(url + "/api/actions", headers=chengkou).json()["actions"]
    assert [a["action"] for a in acts] == ["case_review"] and acts[0]["office"] == "城口县"
    assert {a["action"] for a in requests.get(url + "/api/actions", headers=CITY).json()["actions"]} >= {
        "case_review", "case_approve", "issue_office_token"}


def test_a_district_sees_and_exports_only_its_own_sites(centre):
    central, chengkou, wanzhou, _, i17, i42, _ = centre
    st = requests.get(central.url + "/api/status", headers=chengkou).json()
    assert {s["district"] for s in st["sites"]} == {"城口县"} and st["totals"]["bundles"] == 1
    assert [d["district"] for d in st["districts"]] == ["城口县"] and st["districts"][0]["pending_cases"] == 1
    city = requests.get(central.url + "/api/status", headers=CITY).json()
    assert city["totals"]["sites"] == 343 and len(city["districts"]) > 40
    assert {r["准考证号"] for r in _csv(central, "/export/candidates.csv", chengkou)} == set(i17["tickets"])
    assert _csv(central, "/export/candidates.csv?district=万州区", chengkou) == []
    wb = load_workbook(io.BytesIO(requests.get(central.url + "/export/results.xlsx", headers=wanzhou).content))
    assert {r[2] for r in list(wb.active.values)[1:]} == {"万州区"}
    page = requests.get(central.url + "/", headers=chengkou).text
    assert "城口县" in page and "万州区" not in page
    # a district cannot set pass marks
    r = requests.post(central.url + "/api/pass-marks", headers=chengkou,
                      json={"category": "临床", "level": "执业医师", "mark": 1})
    assert r.status_code == 403 and central.store.pass_marks() == {}


def test_browser_forms_need_the_pages_csrf_field(centre):
    central, _, _, case, _, _, _ = centre
    office, tok = issue_office_token(central.store, "城口县")
    s = requests.Session()
    s.headers["Accept"] = "text/html"
    assert s.post(central.url + "/login", data={"token": tok, "next": "/cases"}).status_code == 200
    page = s.get(f"{central.url}/cases/{case}").text
    assert "区县复核" in page and "使用手机搜索答案" in page and "考场情况记录表" in page
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    r = s.post(f"{central.url}/api/cases/{case}/review", data={"level": "cheating"}, allow_redirects=False)
    assert r.status_code == 401                                   # the cookie alone changes nothing
    r = s.post(f"{central.url}/api/cases/{case}/review", data={"level": "cheating", "csrf": csrf},
               allow_redirects=False)
    assert r.status_code == 303
    assert requests.get(f"{central.url}/api/cases/{case}", headers=CITY).json()["case"]["state"] == "pending_approval"
    # a new token for the office ends the old token and its browser session
    issue_office_token(central.store, "城口县")
    assert s.get(f"{central.url}/cases/{case}", allow_redirects=False).status_code == 401
    assert requests.get(central.url + "/api/cases", headers=_bearer(tok)).status_code == 401


def test_deferral_is_its_own_status_never_absent(centre):
    central, chengkou, wanzhou, _, i17, _, _ = centre
    absent = i17["tickets"][-1]
    sat = i17["tickets"][0]
    assert requests.post(central.url + "/api/deferrals", headers=wanzhou,
                         json={"ticket": absent, "reason": "住院"}).status_code == 403
    r = requests.post(central.url + "/api/deferrals", headers=chengkou, json={"ticket": sat, "reason": "住院"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_sat"
    assert requests.post(central.url + "/api/deferrals", headers=chengkou, json={"ticket": absent}).status_code == 400
    r = requests.post(central.url + "/api/deferrals", headers=chengkou, json={"ticket": absent, "reason": "住院手术"})
    assert r.status_code == 200 and r.json()["deferral"]["state"] == "requested"
    assert next(r for r in _csv(central, "/export/candidates.csv", CITY) if r["准考证号"] == absent)["结果"] == "缺考"
    assert requests.post(f"{central.url}/api/deferrals/{absent}/decide", headers=chengkou,
                         json={"approve": True}).status_code == 403
    r = requests.post(f"{central.url}/api/deferrals/{absent}/decide", headers=CITY, json={"approve": True, "note": "同意"})
    assert r.status_code == 200 and r.json()["deferral"]["state"] == "approved"
    row = next(r for r in _csv(central, "/export/candidates.csv", CITY) if r["准考证号"] == absent)
    assert row["结果"] == "延期考核" and row["状态"] == "延期考核"
    assert absent not in {r["准考证号"] for r in _csv(central, "/export/makeup.csv", CITY)}
    other_absent = i17["tickets"][-2]
    assert next(r for r in _csv(central, "/export/makeup.csv", CITY) if r["准考证号"] == other_absent)["补考原因"] == "缺考"
    prog = _csv(central, "/export/progress.csv?district=城口县", CITY)
    assert sum(int(r["延期考核"]) for r in prog) == 1 and sum(int(r["缺考"]) for r in prog) == 1
    res = _csv(central, "/export/results.csv?district=城口县", CITY)
    assert sum(int(r["延期考核"]) for r in res) == 1 and sum(int(r["缺考"]) for r in res) == 1


def test_makeup_results_arrive_like_first_sittings(tmp_path, centre, make_hall, site_keys):
    """Site 343 runs a make-up sitting for two of site 17's candidates (make-up roster); its
    bundle goes through the same upload and checks and fills the make-up result."""
    central, chengkou, _, _, i17, _, _ = centre
    first_absent, first_sat = i17["tickets"][-1], i17["tickets"][3]
    db343, _ = make_hall("343", n_candidates=2, absent=0)
    p = json.loads(build_result_bundle(db343))["payload"]
    rename = {p["candidates"][0]["ticket"]: first_absent, p["candidates"][1]["ticket"]: first_sat}
    audit = p.pop("audit_log")                         # the chain keeps its own text (it is hashed)
    text = json.dumps(p, ensure_ascii=False)
    for old, new in rename.items():
        text = text.replace(old, new)
    p = {**json.loads(text), "audit_log": audit}
    data = sign_payload(p, site_keys["343"][0], "343")
    central.store.load_makeup_roster([{"ticket": first_absent, "site_no": "343"}])
    f = tmp_path / "makeup.hallresult"
    f.write_bytes(data)
    r = upload_bundle(f, central.url)              # first_sat is not on the make-up roster: refused whole
    assert r.state == "rejected" and r.reason["code"] == "foreign_candidate"
    central.store.load_makeup_roster([{"ticket": first_sat, "site_no": "343"}])
    (tmp_path / "makeup2.hallresult").write_bytes(data)
    assert upload_bundle(tmp_path / "makeup2.hallresult", central.url).state == "accepted"
    for cat in CATEGORIES:
        for lvl in ("执业医师", "执业助理医师"):
            central.store.set_pass_mark(cat, lvl, 1)
    rows = {r["准考证号"]: r for r in _csv(central, "/export/candidates.csv", chengkou)}
    assert rows[first_absent]["首次结果"] == "缺考" and rows[first_absent]["补考结果"] == "合格"
    assert rows[first_absent]["结果"] == "合格"
    assert len(central.store.results(table="makeup_results")) == 2
    assert {r["site_no"] for r in central.store.results()} == {"17", "42"}       # first sittings untouched
    mk = {r["准考证号"]: r for r in _csv(central, "/export/makeup.csv", chengkou)}
    assert mk[first_absent]["补考结果"] == "合格"


def test_office_tokens_sheet_from_the_command_line(tmp_path, central_db):
    from sync.central import cli
    db = central_db()
    spool = ["--spool-dir", str(central_db.spool(db))] if central_db.spool(db) else []
    sheet = tmp_path / "accounts.csv"
    assert cli.main(["office-token", "--db", str(db), *spool, "--out", str(sheet)]) == 0
    rows = list(csv.DictReader(open(sheet, encoding="utf-8-sig")))
    assert len(rows) == 41 and {"城口县", "万盛经开区", "两江新区"} <= {r["区县定考办"] for r in rows}
    assert len({r["口令"] for r in rows}) == 41
    assert cli.main(["office-token", "--db", str(db), *spool, "--office", "没有这个区"]) == 2
    from sync.central.store import Store
    st = Store(db, spool_dir=central_db.spool(db))
    try:
        assert all(r["口令"] not in str(st.db.query("SELECT * FROM accounts")) for r in rows)   # only hashes
    finally:
        st.close()


def test_result_notices_are_pdfs_in_chinese_with_the_font_embedded(tmp_path, centre):
    import pdfplumber
    from pypdf import PdfReader
    central, chengkou, wanzhou, _, i17, _, _ = centre
    for cat in CATEGORIES:
        for lvl in ("执业医师", "执业助理医师"):
            central.store.set_pass_mark(cat, lvl, 10)
    t = i17["tickets"][0]
    row = next(r for r in _csv(central, "/export/candidates.csv", CITY) if r["准考证号"] == t)
    r = requests.get(f"{central.url}/notices/{t}.pdf", headers=chengkou)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    (tmp_path / "notice.pdf").write_bytes(r.content)
    with pdfplumber.open(tmp_path / "notice.pdf") as pdf:
        assert len(pdf.pages) == 1
        text = pdf.pages[0].extract_text()
    for want in ("医师定期考核结果通知书", row["姓名"], t, row["单位名称"], f"考核结果 {row['结果']}",
                 "合格分数线 10", "城口县人民医院", "重庆市卫生健康委员会医师定期考核管理委员会办公室"):
        assert want in text, (want, text)
    fonts = [f.get_object() for p in PdfReader(tmp_path / "notice.pdf").pages
             for f in p["/Resources"]["/Font"].values()]
    cjk = [f for f in fonts if "WenQuanYiMicroHei" in str(f["/BaseFont"])]
    assert cjk and all("/FontFile2" in f["/FontDescriptor"].get_object() for f in cjk)   # embedded TrueType
    assert requests.get(f"{central.url}/notices/{t}.pdf", headers=wanzhou).status_code == 404
    unit = row["单位名称"]
    r = requests.get(f"{central.url}/notices/unit.pdf", headers=CITY, params={"unit": unit})
    (tmp_path / "unit.pdf").write_bytes(r.content)
    in_unit = [x for x in _csv(central, "/export/candidates.csv", CITY) if x["单位名称"] == unit]
    with pdfplumber.open(tmp_path / "unit.pdf") as pdf:
        assert len(pdf.pages) == len(in_unit) > 1
        assert {x["准考证号"] for x in in_unit} == {
            next(w for w in p.extract_text().split() if w in {x["准考证号"] for x in in_unit}) for p in pdf.pages}
    assert requests.get(f"{central.url}/notices/unit.pdf", headers=CITY).status_code == 400


def test_exports_speak_the_forms_chinese(centre):
    central, *_ = centre
    rows = _csv(central, "/export/candidates.csv", CITY)
    codes = {"submitted", "terminated", "absent", "time_up", "candidate", "cheating", "minor", "serious"}
    assert not codes & {v for r in rows for v in r.values()}
    assert {"已交卷", "终止考试", "缺考"} <= {r["状态"] for r in rows}
    assert {"考生交卷", "时间到自动交卷", "违纪终止考试"} <= {r["交卷方式"] for r in rows}
    assert {"考试作弊", "一般违纪"} <= {r["违纪"] for r in rows}


def test_same_day_reports_reach_the_district_before_the_bundle(tmp_path, make_hall, start_central, site_keys):
    from hall_server import site_reports as site_report
    db17, _ = make_hall("17")
    central = start_central()
    chengkou = _bearer(issue_office_token(central.store, "城口县")[1])
    p17 = json.loads(build_result_bundle(db17))["payload"]
    cheat = next(v for v in p17["violations"] if v["level"] == "cheating")
    inc = p17["incidents"][0]
    a = site_report.push(db17, central.url, "violation", cheat["id"])
    assert a["status_code"] == 200 and a["status"] == "accepted"
    assert site_report.push(db17, central.url, "violation", cheat["id"])["status"] == "duplicate"   # idempotent
    assert site_report.push(db17, central.url, "incident", inc["id"])["status"] == "accepted"
    cases_ = requests.get(central.url + "/api/cases", headers=chengkou).json()["cases"]
    assert [(c["case_id"], c["state"], c["source"], c["in_bundle"]) for c in cases_] == [
        (f"17:{cheat['id']}", "pending_review", "report", 0)]
    reps = requests.get(central.url + "/api/reports", headers=chengkou).json()["reports"]
    assert {(r["kind"], r["in_bundle"]) for r in reps} == {("violation", 0), ("incident", 0)}
    assert requests.get(central.url + "/api/reports", headers=_bearer(
        issue_office_token(central.store, "万州区")[1])).json()["reports"] == []
    # forged, altered, malformed: refused, nothing stored
    _, priv, rec = site_report.read_record(db17, "violation", cheat["id"])
    bad = [site_report.sign_report(site_keys["42"][0], "17", "violation", rec),
           {**site_report.sign_report(priv, "17", "violation", rec), "record": {**rec, "level": "minor"}},
           site_report.sign_report(priv, "17", "violation", {**rec, "level": "minor"}),          # same id, other text
           site_report.sign_report(priv, "17", "violation", {**rec, "id": "x"}),
           {"format": "hall-site-report/1"}]
    codes = [requests.post(central.url + "/api/reports", json=b).json()["error"]["code"] for b in bad]
    assert codes == ["bad_signature", "bad_signature", "conflict", "bad_request", "bad_format"]
    assert central.store.count("site_reports") == 2
    # the bundle, the record of truth, confirms both and brings the evidence
    _upload(tmp_path, central, build_result_bundle(db17), "17.hallresult")
    reps = requests.get(central.url + "/api/reports", headers=chengkou).json()["reports"]
    assert {r["in_bundle"] for r in reps} == {1}
    case = requests.get(f"{central.url}/api/cases/17:{cheat['id']}", headers=chengkou).json()["case"]
    assert case["in_bundle"] == 1 and case["evidence"]["room_record"]["sitting_id"] == cheat["sitting_id"]
    assert [s["step"] for s in case["steps"]] == ["site"]                      # opened once
    # a site cannot report another site's candidate
    r = requests.post(central.url + "/api/reports", json=site_report.sign_report(
        site_keys["42"][0], "42", "violation", {**rec, "id": 99}))
    assert r.status_code == 403 and r.json()["error"]["code"] == "foreign_candidate"
