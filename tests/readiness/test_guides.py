"""Issue 15 item 6: the printed guides, read back from the PDFs. Their numbers come from
the site's data (an exam of unusual length here), the checklist carries the district
office's number from contracts/data, and the console serves them."""
from __future__ import annotations

import io
import re
import sqlite3

import pdfplumber
import pytest
from pypdf import PdfReader

from factories import make_plan
from hall_server.importer import import_plan
from hall_server.printing.guides import GUIDES, chief_checklist, candidate_notice, invigilator_guide
from hallproc import REPO, HallProcess

OUT = REPO / "test-output" / "guides"


def odd_plan(district: str = "渝中区") -> dict:
    plan = make_plan(questions=20, duration_minutes=45, late_entry_minutes=7, earliest_submit_minutes=12)
    plan["site"]["district"] = district
    return plan


def text_of(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in doc.pages))


@pytest.fixture(scope="module")
def site_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("guides") / "hall.db"
    import_plan(path, odd_plan())
    conn = sqlite3.connect(path)
    yield conn
    conn.close()


def save(name: str, pdf: bytes) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.pdf").write_bytes(pdf)


def test_invigilator_guide_one_page_the_day_and_the_failures(site_db):
    pdf = invigilator_guide(site_db)
    save("invigilator-guide", pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    t = text_of(pdf)
    assert "监考员操作指南" in t and "测试考点医院" in t
    for part in ("考试当天", "宣布开考", "结束考试", "考场情况记录表",
                 "手机没电", "批准换机", "WiFi断开", "暂停考试", "电脑死机", "延长时间"):
        assert part in t, part
    assert "每人45分钟、20题" in t and "开考7分钟后不得入场" in t and "考生打开试卷答题满12分钟后方可交卷" in t
    assert "渝中区定考办：023-63765144" in t


def test_chief_checklist_before_during_after_with_the_district_office(site_db):
    pdf = chief_checklist(site_db)
    save("chief-checklist", pdf)
    t = text_of(pdf)
    assert "主考检查清单" in t and all(h in t for h in ("考前", "考中", "考后"))
    assert "渝中区定考办：023-63765144" in t and "市定考办：023-67070676、13752952556" in t
    assert "系统客服：400-6199-113" in t
    assert "hall doctor" in t.replace("halldoctor", "hall doctor") and "放行码" in t
    assert t.count("□") >= 12


def test_a_city_level_site_reports_to_the_city_office(tmp_path):
    import_plan(tmp_path / "hall.db", odd_plan("市直属"))
    t = text_of(chief_checklist(sqlite3.connect(tmp_path / "hall.db")))
    assert "市定考办：023-67070676、13752952556" in t and "区县定考办" not in t


def test_candidate_notice_how_to_log_in_phone_dies_and_what_voids_a_result(site_db):
    pdf = candidate_notice(site_db)
    save("candidate-notice", pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    t = text_of(pdf)
    assert "考生须知" in t
    for part in ("连接考场WiFi", "扫描考场二维码", "身份证号后6位", "已保存", "回执码", "换一部手机",
                 "考试作弊", "严重违纪", "代考", "退出考试页面"):
        assert part in t, part
    assert "20题，45分钟" in t and "开考7分钟后不得入场" in t and "打开试卷答题满12分钟后方可交卷" in t


def test_demo_guides_say_so(tmp_path):
    plan = odd_plan()
    plan["demo"] = True
    import_plan(tmp_path / "hall.db", plan)
    assert "演示数据" in text_of(candidate_notice(sqlite3.connect(tmp_path / "hall.db")))


def test_console_serves_the_guides(tmp_path):
    hall = HallProcess(tmp_path / "h", odd_plan()).start()
    try:
        chief = hall.staff_session()
        home = chief.get(hall.url + "/console/", timeout=60).text
        for doc in GUIDES:
            assert f"/console/print/guide/{doc}.pdf" in home
            r = chief.get(f"{hall.url}/console/print/guide/{doc}.pdf", timeout=60)
            assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
            assert GUIDES[doc][0] in text_of(r.content)
        inv = hall.staff_session("r01", "r01-pw")
        assert "chief-checklist" not in inv.get(hall.url + "/console/", timeout=30).text
        assert inv.get(hall.url + "/console/print/guide/chief-checklist.pdf", timeout=30).status_code == 403
        assert inv.get(hall.url + "/console/print/guide/candidate-notice.pdf", timeout=30).status_code == 200
        assert chief.get(hall.url + "/console/print/guide/nope.pdf", timeout=30).status_code == 404
        import requests
        assert requests.get(hall.url + "/console/print/guide/candidate-notice.pdf", allow_redirects=False,
                            timeout=30).status_code == 302                      # staff login first
    finally:
        hall.stop()
