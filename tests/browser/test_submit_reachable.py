"""Issue 13 item 3: 交卷 is in view at the top of every question and in the question list,
and before submission opens it says when in its own label (a tap explains, it never just
does nothing). A 360x640 phone at 150 % text, on a long question."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_support import CHROMIUM, CHROMIUM_ARGS, RealHall, into_exam

pytestmark = pytest.mark.browser

LONG = ("【演示题】患者，男，58岁。反复上腹部隐痛5年，加重伴黑便2天。既往有慢性胃炎病史，间断服用抑酸药物。"
        "查体：T 36.8℃，P 96次/分，BP 110/70 mmHg，神志清楚，贫血貌，腹软，上腹部轻压痛，无反跳痛，"
        "肝脾肋下未触及，肠鸣音活跃。血常规：Hb 86 g/L，WBC 6.2×10⁹/L。大便隐血试验（+）。"
        "胃镜检查示胃角处一直径约1.5 cm溃疡，底覆白苔，周边黏膜充血水肿。该患者目前最恰当的处理是")


@pytest.fixture
def long_hall(tmp_path):
    h = RealHall(tmp_path, questions=5, earliest_submit_minutes=0.15)   # submission opens 9 s in
    for paper in h.plan["papers"].values():
        for q in paper["questions"]:
            q["stem"] = LONG
    from hallproc import HallProcess
    h.proc = HallProcess(tmp_path / "hall2", h.plan)
    h.base_url = h.proc.url
    h.start()
    yield h
    h.close()


def _in_view(page, sel) -> bool:
    return page.evaluate("""s => { const r = document.querySelector(s).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth; }""", sel)


def test_submit_in_view_from_every_question_and_the_list(long_hall, shots):
    from playwright.sync_api import sync_playwright

    hall = long_hall
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="zh-CN", timezone_id="Asia/Shanghai")
        page = ctx.new_page()
        page.set_default_timeout(15000)
        ctx.new_cdp_session(page).send("Page.setFontSizes", {"fontSizes": {"standard": 24, "fixed": 20}})
        into_exam(page, hall)
        expect(page.locator("#qno")).to_have_text("1")
        opens = page.evaluate("window.hallApp.S.state.earliest_submit")
        hhmm = page.evaluate("ms => { const d = new Date(ms + 8 * 3600e3); "
                             "return String(d.getUTCHours()).padStart(2, '0') + ':' + String(d.getUTCMinutes()).padStart(2, '0'); }",
                             opens)
        # at the top of a long question, before submission opens: in view, with the time
        for q in (1, 2):
            if q == 2:
                page.click("#next-btn")
                expect(page.locator("#qno")).to_have_text("2")
            assert page.evaluate("window.scrollY") == 0
            assert _in_view(page, "#submit-btn")
            expect(page.locator("#submit-btn")).to_contain_text("交卷")
            expect(page.locator("#submit-opens")).to_have_text(f"{hhmm} 起")
            assert page.evaluate("parseFloat(getComputedStyle(document.getElementById('submit-opens')).fontSize)") >= 17
        page.screenshot(path=str(shots / "submit_footer_before_opening.png"))
        # a tap before it opens explains when (nothing silent)
        page.locator("#submit-btn").dispatch_event("click")
        expect(page.locator(".dialog")).to_contain_text("还不能交卷")
        expect(page.locator(".dialog")).to_contain_text(f"{hhmm} 以后可以交卷")
        page.click(".dialog button")
        # the question list: 交卷 at its top, with the time
        page.click("#grid-btn")
        assert _in_view(page, "#sheet-submit-top")
        expect(page.locator("#sheet-submit-top")).to_contain_text(re.compile(f"{hhmm} 以后可以交卷"))
        page.screenshot(path=str(shots / "submit_in_question_list.png"))
        page.click("#sheet-close")
        # once open: the same button submits, from the top of any question
        expect(page.locator("#submit-btn")).to_be_enabled(timeout=20000)
        expect(page.locator("#submit-opens")).to_have_count(0)
        assert _in_view(page, "#submit-btn")
        page.click("#submit-btn")
        expect(page.locator("#submit-dialog")).to_be_visible()
        page.screenshot(path=str(shots / "submit_dialog_from_footer.png"))
        page.click("#submit-confirm")
        expect(page.locator("#receipt-code")).to_be_visible()
        ctx.close()
        browser.close()
