"""Issue 13 item 8: one time zone everywhere, the exam's, on a laptop set to UTC: the
console, a phone set to another zone and the printed room record show the same clock times;
the console says the laptop's zone differs. Starting a sitting on a day that is not its date
needs a second, explicit confirmation (console form and the /staff handler)."""
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pdfplumber
import pytest
from playwright.sync_api import expect

from console_support import console_login, laptop_browser, shot
from factories import make_plan
from hallproc import HallProcess

pytestmark = pytest.mark.browser
S1 = "D1S1-R01"
EXAM = ZoneInfo("Asia/Shanghai")


def test_one_zone_on_console_phone_and_form(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")                          # the laptop's operating system zone
    plan = make_plan(candidates_per_room=3, rooms=1, late_entry_minutes=10)
    hall = HallProcess(tmp_path / "h", plan).start()
    c = plan["candidates"][0]
    try:
        with laptop_browser(timezone_id="UTC") as page:
            console_login(page, hall.url)
            expect(page.locator("#zone-warning")).to_be_visible()
            expect(page.locator("#zone-warning")).to_contain_text("UTC+00:00")
            expect(page.locator("#zone-warning")).to_contain_text("北京时间")
            page.goto(f"{hall.url}/console/sitting/{S1}")
            page.wait_for_selector("#sitting-status:has-text('未开考')")
            # wrong day: the form asks for a tick, the server refuses without it
            page.click("#start")
            expect(page.locator("#date-line")).to_be_visible()
            expect(page.locator("#date-warning")).to_contain_text("2030-09-04")
            shot(page, "zone-01-start-wrong-day")
            page.click("button[data-room=start_sitting]")
            expect(page.locator("#room-msg")).to_contain_text("请先勾选确认")
            page.check("input[name=confirm_date]")
            page.click("button[data-room=start_sitting]")
            page.wait_for_selector("#sitting-status:has-text('考试中')")
            with hall.db() as db:
                started = db.execute("SELECT started_at FROM sittings WHERE sitting_id=?", (S1,)).fetchone()[0]
            until = datetime.fromtimestamp(started + 600, EXAM).strftime("%H:%M")
            expect(page.locator("#late-until")).to_contain_text(until)       # exam zone, not UTC
            clock = page.inner_text("#clock")
            now_exam = datetime.now(EXAM).strftime("%H:%M")
            assert clock.startswith(now_exam[:4]) and "北京时间" in clock, (clock, now_exam)
            shot(page, "zone-02-console-utc-laptop")

            # a phone set to New York shows the same late-entry time
            from playwright.sync_api import sync_playwright  # noqa: F401 (same driver)
            ctx = page.context.browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True,
                                                   has_touch=True, locale="zh-CN", timezone_id="America/New_York")
            phone = ctx.new_page()
            phone.goto(f"{hall.url}/r/{hall.qr_token(S1)}")
            phone.fill("#ticket", c["ticket"])
            phone.fill("#id6", c["id_number"][-6:])
            phone.click("#login-btn")
            phone.click("#confirm-btn")
            expect(phone.locator("#open-btn")).to_be_visible()
            expect(phone.locator("text=将不能再进入考试")).to_contain_text(until)
            phone.screenshot(path=str(tmp_path / "phone.png"))
            ctx.close()

        # the printed room record: the same zone
        pdf = hall.staff_session().get(f"{hall.url}/console/sitting/{S1}/print/room-record.pdf").content
        with pdfplumber.open(io.BytesIO(pdf)) as doc:
            text = re.sub(r"\s+", "", doc.pages[0].extract_text())
        assert f"开考{datetime.fromtimestamp(started, EXAM).strftime('%H:%M:%S')}" in text, text
    finally:
        hall.stop()


def test_start_on_another_day_needs_confirm_date(tmp_path):
    """The /staff handler itself refuses, so no other console can skip the question."""
    plan = make_plan(candidates_per_room=2, rooms=1)              # dated 2030-09-04
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        sio = hall.staff_socket()
        r = sio.call("start_sitting", {"sitting": S1}, namespace="/staff", timeout=10)
        assert not r["ok"] and r["error"]["confirm_date"] is True and r["error"]["date"] == "2030-09-04", r
        assert "2030-09-04" in r["error"]["message"] and "勾选确认" in r["error"]["message"]
        with hall.db() as db:
            assert db.execute("SELECT status FROM sittings WHERE sitting_id=?", (S1,)).fetchone()[0] == "planned"
        r = sio.call("start_sitting", {"sitting": S1, "confirm_date": "yes"}, namespace="/staff", timeout=10)
        assert not r["ok"]                                         # only a real true confirms
        r = sio.call("start_sitting", {"sitting": S1, "confirm_date": True}, namespace="/staff", timeout=10)
        assert r["ok"] and r["sitting"]["status"] == "started"
        sio.disconnect()
    finally:
        hall.stop()


def test_start_on_its_own_date_asks_nothing_more(tmp_path):
    today = datetime.now(EXAM)
    plan = make_plan(candidates_per_room=2, rooms=1, planned_start=today.strftime("%Y-%m-%dT23:59:00+08:00"))
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        sio = hall.staff_socket()
        r = sio.call("start_sitting", {"sitting": S1}, namespace="/staff", timeout=10)
        assert r["ok"], r
        sio.disconnect()
    finally:
        hall.stop()
