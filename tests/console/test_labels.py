"""Issue 17 item 8: one table of words (contracts/exam.py) for the console, the
printed forms and the centre. The violation form says what the seeds say follows (附件4
第四条 cheating: 本次不合格, make-up allowed; 第五条 serious: 本周期不合格, no make-up); a
terminated candidate reads the same on the roster and on the site report; every incident
kind of 附件5, 群体作弊 included, is recorded from the console and printed."""
from __future__ import annotations

import io
import re

import pdfplumber
import pytest

from console_support import console_login, laptop_browser, shot
from factories import make_plan
from hallproc import HallProcess, Phone

pytestmark = pytest.mark.browser
S1 = "D1S1-R01"


def _pdf_text(session, url) -> str:
    r = session.get(url)
    assert r.status_code == 200, r.text[:300]
    with pdfplumber.open(io.BytesIO(r.content)) as doc:
        return re.sub(r"\s+", " ", "\n".join(p.extract_text() or "" for p in doc.pages))


def test_one_set_of_words_on_screen_and_paper(tmp_path):
    from contracts.exam import STATUS_LABELS as ATTEMPT_STATUS, INCIDENT_KINDS, SITTING_LABELS as SITTING_STATUS, VIOLATIONS

    plan = make_plan(candidates_per_room=3, rooms=1)
    a = next(c for c in plan["candidates"] if c["sitting_id"] == S1)
    hall = HallProcess(tmp_path / "h", plan).start()
    phone = None
    try:
        assert hall.start_sitting(S1)["ok"]
        phone = Phone(hall, a["ticket"], a["id_number"][-6:]).connect()
        assert phone.login(S1)["ok"] and phone.call("confirm")["ok"] and phone.call("open")["ok"]
        assert phone.answer(1, "A")["ok"]
        with laptop_browser() as page:
            console_login(page, hall.url)
            assert page.inner_text("table.list td.st-started") == SITTING_STATUS["started"]
            page.goto(f"{hall.url}/console/sitting/{S1}")
            page.wait_for_selector(f"#c-{a['ticket']}")
            # the violation form: each level with its consequence as the seeds say it
            page.click(f"#c-{a['ticket']} button.act")
            page.click("button[data-open=violation]")
            options = page.locator("select[name=level] option").all_inner_texts()
            assert options == [f"{v.name}（{v.consequence}）" for v in VIOLATIONS.values()], options
            assert "考试作弊（终止考试并交卷；本次测评成绩不合格，可参加补考）" in options
            assert "严重违纪（终止考试并交卷；本周期测评成绩不合格，取消补考机会）" in options
            page.select_option("select[name=level]", "cheating")
            page.fill("textarea[name=facts]", "09:20 发现手机查询考题")
            page.check("input[name=terminate_ok]")
            shot(page, "labels-violation-form")
            page.click("button[data-do=violation]")
            page.wait_for_selector("#act-msg.okmsg")
            page.click("#act-close")
            cell = page.locator(f"#c-{a['ticket']} td").nth(4)
            page.wait_for_function(f"document.querySelector('#c-{a['ticket']} td:nth-child(5)').textContent"
                                   f" === {ATTEMPT_STATUS['terminated']!r}")
            shown_status = cell.inner_text()
            shown_level = page.locator(f"#c-{a['ticket']} td").nth(10).inner_text()
            # every incident kind, 群体作弊 included, from the console's 记录情况 form
            for kind, name in INCIDENT_KINDS.items():
                page.click("#incident")
                page.check(f"input[name=kind][value={kind}]")
                page.fill("#room-form fieldset[data-task=incident] textarea[name=text]", f"记录{kind}")
                page.click("button[data-room=incident]")
                page.wait_for_selector("#room", state="hidden")
            shot(page, "labels-roster")
        chief = hall.staff_session()
        record = _pdf_text(chief, f"{hall.url}/console/sitting/{S1}/print/room-record.pdf")
        for kind, name in INCIDENT_KINDS.items():
            assert f"【{name}】记录{kind}" in record, (kind, record)
        assert f"{a['ticket']} {a['name']}" in record and shown_level in record and shown_level == "考试作弊"
        report = _pdf_text(chief, f"{hall.url}/console/print/site-report.pdf")
        row = re.search(rf"{a['ticket']} {a['name']} \S+ 第1场 (\S+)", report)
        assert row and row.group(1) == shown_status == "终止考试", (shown_status, report[:2000])
        with hall.db() as db:
            assert {r[0] for r in db.execute("SELECT kind FROM incidents")} == set(INCIDENT_KINDS)
    finally:
        if phone:
            phone.close()
        hall.stop()


def test_the_centre_says_what_the_site_said():
    from contracts import exam as labels
    from sync.central import outcomes

    for code, word in labels.STATUS_LABELS.items():
        assert outcomes.STATUS_ZH[code] == word
    for code, word in labels.SUBMIT_REASONS.items():
        assert outcomes.SUBMIT_REASON_ZH[code] == word
    for code, v in labels.VIOLATIONS.items():
        assert outcomes.LEVEL_ZH[code] == v.name
    assert outcomes.FAILS_ATTEMPT == {k for k, v in labels.VIOLATIONS.items() if v.terminates}
