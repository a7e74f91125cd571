"""Issue 13 item 7: a reload while the WiFi is down would show the browser's own English
error page (a plain-HTTP page has no offline copy). The phone asks before unloading while
answers wait on it, the banner says not to reload, and the login page says so before the
exam (and to turn off the automatic switch to mobile data)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_support import into_exam

pytestmark = pytest.mark.browser


def test_login_page_and_poster_say_not_to_reload_offline(phone_hall, phone, shots):
    page = phone
    page.goto(phone_hall.qr_url)
    expect(page.locator("#net-advice")).to_contain_text("不要刷新")
    expect(page.locator("#net-advice")).to_contain_text("WLAN+")
    expect(page.locator("#net-advice")).to_be_in_viewport()
    page.screenshot(path=str(shots / "login_network_advice.png"))
    import io
    import re

    import pdfplumber

    chief = phone_hall.proc.staff_session()
    pdf = chief.get(f"{phone_hall.base_url}/console/sitting/{phone_hall.sitting}/print/poster.pdf").content
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == 1
        text = re.sub(r"\s+", "", doc.pages[0].extract_text())
    assert "不要刷新" in text and "WLAN+" in text, text


def _into_exam(hall, page):
    into_exam(page, hall)
    expect(page.locator("#qno")).to_have_text("1")


def test_reload_with_answers_waiting_is_asked_first(phone_hall, phone, shots):
    page = phone
    _into_exam(phone_hall, page)
    page.click(".opt[data-key='A']")
    expect(page.locator("#savestate")).to_have_text("✓ 已保存")
    dialogs = []

    def on_dialog(d):
        dialogs.append(d.type)
        d.dismiss()                     # the candidate stays on the page
    page.on("dialog", on_dialog)
    # saved and online: a reload goes through without a question
    page.reload()
    expect(page.locator("#qno")).to_have_text("1")
    assert dialogs == []

    page.context.set_offline(True)
    page.evaluate("window.hallApp.S.socket.io.engine.close()")     # the WiFi drops
    expect(page.locator("#banner")).to_contain_text("请不要刷新页面")
    page.click("#next-btn")
    page.click(".opt[data-key='B']")
    expect(page.locator("#savestate")).to_contain_text("未保存")
    page.screenshot(path=str(shots / "offline_banner_no_reload.png"))
    try:
        page.reload(timeout=3000)
    except Exception:
        pass                            # the reload was cancelled by the candidate
    assert dialogs == ["beforeunload"], dialogs
    expect(page.locator("#savestate")).to_contain_text("未保存")   # still the same page, answer kept
    page.context.set_offline(False)
    expect(page.locator("#savestate")).to_have_text("✓ 已保存", timeout=20000)
