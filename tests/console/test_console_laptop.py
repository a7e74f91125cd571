"""Issue 13 item 5: the console on the 1366x768 laptop it runs on. The roster starts on the
first screen (the QR panel folds away, remembered); full-screen QR shows the room and its
WiFi and decodes to the room's address; a device-change request raises a badge that stays in
view, a sound and the tab title; incidents, pauses and the per-candidate tasks are forms,
never a browser prompt()."""
import io

import pytest

from console_support import console_login, laptop_browser, shot
from factories import make_plan
from hallproc import HallProcess, Phone

pytestmark = pytest.mark.browser
S1 = "D1S1-R01"
COUNT_BEEPS = """(() => { window.__beeps = 0;
  const C = window.AudioContext || window.webkitAudioContext; if (!C) return;
  const make = C.prototype.createOscillator;
  C.prototype.createOscillator = function () { window.__beeps++; return make.apply(this, arguments); }; })();"""


def _in_view(page, sel):
    return page.evaluate("""s => { const r = document.querySelector(s).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= innerHeight && r.height > 0; }""", sel)


def test_console_fits_the_laptop_and_uses_forms(tmp_path):
    plan = make_plan(candidates_per_room=24, rooms=1)
    hall = HallProcess(tmp_path / "h", plan,
                       config_extra='[site]\nwifi_ssid = "KaoChang-01"\nwifi_password = "exam2023!"\n').start()
    cands = [c for c in plan["candidates"] if c["sitting_id"] == S1]
    phones = []
    try:
        with laptop_browser() as page:
            native = []
            page.on("dialog", lambda d: (native.append(d.type), d.dismiss()))
            page.add_init_script(COUNT_BEEPS)
            console_login(page, hall.url)
            page.goto(f"{hall.url}/console/sitting/{S1}")
            page.wait_for_selector("#sitting-status:has-text('未开考')")
            page.wait_for_selector("#roster tbody tr")
            # the roster's header and first rows are on the first screen
            assert page.evaluate("document.querySelector('#roster tbody tr:nth-child(3)').getBoundingClientRect().bottom") <= 768
            shot(page, "laptop-01-roster-first")
            # the QR panel opens and folds, and the laptop remembers
            page.click("#qr-show")
            assert page.is_visible("#qr")
            assert page.evaluate("document.querySelector('#roster thead').getBoundingClientRect().top") < 768
            page.click("#qr-hide")
            page.reload()
            page.wait_for_selector("#roster tbody tr")
            assert not page.is_visible("#qr")
            # full screen: room, WiFi and a QR that decodes to this room's address
            page.click("#fullscreen")
            assert page.is_visible("#qr-full")
            full = page.inner_text("#qr-full")
            assert "第1考场" in full and "KaoChang-01" in full and "exam2023!" in full
            page.wait_for_function("document.getElementById('qr-full-img').naturalWidth > 0")
            png = page.screenshot()
            shot(page, "laptop-02-qr-full")
            import zxingcpp
            from PIL import Image

            found = [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
            assert found and found[0].startswith(hall.url + "/r/"), found
            page.keyboard.press("Escape")
            assert not page.is_visible("#qr-full")

            # start through the form, then a device change
            page.click("#start")
            page.check("input[name=confirm_date]")         # test plans are dated 2030
            page.click("button[data-room=start_sitting]")
            page.wait_for_selector("#sitting-status:has-text('考试中')")
            c = cands[0]
            old = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
            phones.append(old)
            assert old.login(S1)["ok"] and old.call("confirm")["ok"] and old.call("open")["ok"]
            page.click("#roster tbody tr:last-child")            # the invigilator is looking elsewhere
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            beeps0 = page.evaluate("window.__beeps")
            new = Phone(hall, c["ticket"], c["id_number"][-6:], device="spare").connect()
            phones.append(new)
            assert new.login(S1)["error"]["code"] == "awaiting_approval"
            page.wait_for_selector("#approval-badge:not([hidden])")
            assert _in_view(page, "#approval-badge")
            assert page.evaluate("window.__beeps") > beeps0
            assert "换机申请 1" in page.title()
            shot(page, "laptop-03-device-badge")
            page.click("#approval-badge")
            page.click(f"#approval-list button[data-action=approve_device][data-ticket='{c['ticket']}']")
            page.wait_for_selector("#approval-badge", state="hidden")

            # an incident through its form
            page.evaluate("window.scrollTo(0, 0)")
            page.click("#incident")
            page.check("#room-form input[name=kind][value=sick]")
            page.fill("#room-form textarea[name=text]", "9:20 第3座考生头晕，已送医务室")
            shot(page, "laptop-04-incident-form")
            page.click("button[data-room=incident]")
            page.wait_for_selector("#msg:has-text('已记录')")
            # a candidate's 操作: one task at a time, only those that apply
            page.click(f"#c-{cands[5]['ticket']} button.act")
            assert page.is_visible("#act-choose [data-open=late]")
            assert not page.is_visible("#act-choose [data-open=extra]")       # not answering: nothing to extend
            page.click("#act-choose [data-open=late]")
            assert page.is_visible("input[name=late_reason]") and not page.is_visible("textarea[name=facts]")
            shot(page, "laptop-05-late-form")
            page.fill("input[name=late_reason]", "交通管制，有证明")
            page.click("button[data-do=admit_late]")
            page.wait_for_selector("#act-msg:has-text('已保存')")
            page.click("#act-close")
            assert native == [], native                               # no prompt(), confirm() or alert()
        with hall.db() as db:
            kinds = [r[0] for r in db.execute("SELECT kind FROM incidents")]
            late = db.execute("SELECT late_reason FROM attempts WHERE ticket = ?", (cands[5]["ticket"],)).fetchone()
        assert kinds == ["sick"] and late[0] == "交通管制，有证明"
    finally:
        for p in phones:
            p.close()
        hall.stop()
