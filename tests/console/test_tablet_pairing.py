"""Issue 17 item 6: invigilators on tablets, and the patrol.

A tablet is a second Chromium whose connections reach the hall from 127.0.0.2 (through a
forwarder): outside `security.staff_allowlist`, like a tablet on the room WiFi. The chief
shows a pairing code on the laptop; the tablet enters it with an invigilator's login and
runs the room's console from then on (its Socket.IO connection included); the code works
once; the chief revokes the tablet and it is shut out at once. Every step is audited.
The patrol account watches every room and records violations and incidents, but cannot
start, pause or end a sitting."""
from __future__ import annotations

import json
import re

import pytest

from console_support import CHROMIUM, CHROMIUM_ARGS, LAPTOP, console_login, shot, wait_for
from factories import make_plan
from hallproc import HallProcess, Phone
from source_proxy import SourceProxy

pytestmark = pytest.mark.browser
S1, S2 = "D1S1-R01", "D1S1-R02"
TABLET = {"width": 800, "height": 1280}


def plan_with_site_accounts() -> dict:
    """The accounts provisioning issues: two invigilators per room and a patrol."""
    plan = make_plan(candidates_per_room=3, rooms=2)
    plan["staff"] += [{"username": "r01b", "display_name": "第1考场监考二", "role": "invigilator",
                       "room_id": "R01", "password": "r01b-pw"},
                      {"username": "patrol", "display_name": "巡考", "role": "patrol", "room_id": None,
                       "password": "patrol-pw"}]
    return plan


def test_provisioning_issues_two_invigilators_per_room_and_a_patrol():
    from provisioning.plan import staff_for, staff_usernames

    rooms = [{"room_id": "R01", "name": "第1考场"}, {"room_id": "R02", "name": "第2考场"}]
    users = staff_usernames(rooms)
    staff = staff_for(rooms, {u: "x" for u in users})
    assert [(s["username"], s["role"], s["room_id"]) for s in staff] == [
        ("chief", "chief", None), ("r01", "invigilator", "R01"), ("r01b", "invigilator", "R01"),
        ("r02", "invigilator", "R02"), ("r02b", "invigilator", "R02"), ("patrol", "patrol", None)]


def test_pair_a_tablet_run_the_room_from_it_then_revoke_it(tmp_path):
    from playwright.sync_api import sync_playwright

    hall = HallProcess(tmp_path / "h", plan_with_site_accounts()).start()
    proxy = SourceProxy(hall.port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            laptop = browser.new_context(viewport=LAPTOP, locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
            tablet = browser.new_context(viewport=TABLET, locale="zh-CN", timezone_id="Asia/Shanghai",
                                         has_touch=True).new_page()
            for p in (laptop, tablet):
                p.set_default_timeout(15000)
            # Before pairing the tablet is refused, and told how to pair.
            r = tablet.goto(proxy.url + "/console/")
            assert r.status == 403 and "/console/pair" in tablet.inner_text("main")
            # The chief shows a code on the laptop.
            console_login(laptop, hall.url)
            laptop.click("#pairing")
            laptop.click("#new-code")
            code = laptop.inner_text("#pair-code").replace(" ", "")
            assert re.fullmatch(r"\d{6}", code)
            shot(laptop, "pairing-code-on-laptop")
            # A wrong code is refused; the right one with r01's login pairs the tablet.
            tablet.goto(proxy.url + "/console/pair")
            tablet.fill("input[name=code]", "000000" if code != "000000" else "111111")
            tablet.fill("input[name=username]", "r01")
            tablet.fill("input[name=password]", "r01-pw")
            tablet.click("button[type=submit]")
            assert "配对码不正确" in tablet.inner_text(".error")
            tablet.fill("input[name=code]", code[:3] + " " + code[3:])
            tablet.fill("input[name=username]", "r01")
            tablet.fill("input[name=password]", "r01-pw")
            tablet.fill("input[name=label]", "第1考场平板")
            shot(tablet, "pairing-tablet-form")
            tablet.click("button[type=submit]")
            tablet.wait_for_selector("text=考场与场次")
            assert "第1考场" in tablet.inner_text("main") and "第2考场" not in tablet.inner_text("main")
            # the room's console runs from the tablet, live
            tablet.click(f"a[href='/console/sitting/{S1}']")
            tablet.wait_for_selector("#msg:has-text('已连接')")
            tablet.click("#start")
            tablet.check("input[name=confirm_date]")
            tablet.click("button[data-room=start_sitting]")
            tablet.wait_for_selector("#sitting-status:has-text('考试中')")
            shot(tablet, "pairing-tablet-runs-room")
            # The code is used up: a second tablet cannot pair with it.
            other = browser.new_context(viewport=TABLET).new_page()
            other.goto(proxy.url + "/console/pair")
            other.fill("input[name=code]", code)
            other.fill("input[name=username]", "r01b")
            other.fill("input[name=password]", "r01b-pw")
            other.click("button[type=submit]")
            assert "配对码不正确或已过期" in other.inner_text(".error")
            # The laptop lists the tablet, and revokes it.
            laptop.goto(hall.url + "/console/devices")
            row = laptop.locator("#devices tbody tr").first
            assert "第1考场平板" in row.inner_text() and "127.0.0.2" in row.inner_text() and "可用" in row.inner_text()
            row.locator("button.revoke").click()
            laptop.wait_for_selector("#devices tbody tr:has-text('已撤销')")
            shot(laptop, "pairing-revoked")
            tablet.wait_for_selector("#msg:has-text('连接已断开')")     # its socket is closed at once
            assert tablet.reload().status == 403
            browser.close()
        with hall.db() as db:
            rows = [(r["actor"], r["action"], json.loads(r["data"])) for r in db.execute(
                "SELECT actor, action, data FROM audit_log WHERE action IN"
                " ('pairing_code', 'pair_device', 'revoke_device', 'start_sitting') ORDER BY id")]
        assert [(a, x) for a, x, _ in rows] == [("staff:chief", "pairing_code"), ("staff:r01", "pair_device"),
                                                 ("staff:r01", "start_sitting"), ("staff:chief", "revoke_device")]
        assert rows[1][2]["label"] == "第1考场平板" and rows[1][2]["address"] == "127.0.0.2"
        assert code not in json.dumps(rows[0][2])          # the code itself is never stored
    finally:
        proxy.stop()
        hall.stop()


def test_only_the_chief_on_the_laptop_issues_codes(tmp_path):
    hall = HallProcess(tmp_path / "h", plan_with_site_accounts()).start()
    try:
        inv = hall.staff_session("r01", "r01-pw")
        assert inv.get(hall.url + "/console/devices").status_code == 403
        assert inv.post(hall.url + "/console/devices/code").status_code == 403
        assert "id=\"pairing\"" not in inv.get(hall.url + "/console/").text
        with hall.db() as db:
            assert db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'pairing_code'").fetchone()[0] == 0
    finally:
        hall.stop()


def test_patrol_watches_every_room_records_but_never_runs_one(tmp_path):
    from console_support import laptop_browser

    plan = plan_with_site_accounts()
    hall = HallProcess(tmp_path / "h", plan).start()
    a = next(c for c in plan["candidates"] if c["sitting_id"] == S2)
    phone = None
    try:
        assert hall.start_sitting(S2)["ok"]
        phone = Phone(hall, a["ticket"], a["id_number"][-6:]).connect()
        assert phone.login(S2)["ok"] and phone.call("confirm")["ok"] and phone.call("open")["ok"]
        sio = hall.staff_socket("patrol", "patrol-pw")
        call = lambda ev, **p: sio.call(ev, p, namespace="/staff", timeout=10)
        try:
            for sid in (S1, S2):
                assert call("watch", sitting=sid)["ok"]
            for ev, extra in (("start_sitting", {"confirm_date": True}), ("end_sitting", {}),
                              ("pause", {"reason": "停电"}), ("extra_time", {"minutes": 5, "reason": "x"}),
                              ("admit_late", {"ticket": a["ticket"], "reason": "x"})):
                r = call(ev, sitting=S1 if ev == "start_sitting" else S2, **extra)
                assert r["error"]["code"] == "forbidden", (ev, r)
            assert call("incident", sitting=S1, kind="other", text="巡考：第1考场秩序良好")["ok"]
        finally:
            sio.disconnect()
        with hall.db() as db:
            assert db.execute("SELECT status FROM sittings WHERE sitting_id=?", (S1,)).fetchone()[0] == "planned"
        patrol = hall.staff_session("patrol", "patrol-pw")
        assert patrol.get(f"{hall.url}/console/sitting/{S1}/print/room-record.pdf").status_code == 200
        assert patrol.get(f"{hall.url}/console/sitting/{S2}/print/booklet.pdf?ticket={a['ticket']}").status_code == 403
        with laptop_browser() as page:
            console_login(page, hall.url, "patrol", "patrol-pw")
            assert page.locator("table.list tbody tr").count() == 2      # every room
            page.click(f"a[href='/console/sitting/{S2}']")
            page.wait_for_selector(f"#c-{a['ticket']}")
            assert not page.is_visible("#start") and not page.is_visible("#end") and not page.is_visible("#pause")
            assert page.is_visible("#incident")
            page.click(f"#c-{a['ticket']} button.act")
            visible = [b.inner_text() for b in page.locator("#act-choose button").all() if b.is_visible()]
            assert visible == ["记录违纪"], visible
            page.click("button[data-open=violation]")
            page.select_option("select[name=level]", "minor")
            page.fill("textarea[name=facts]", "巡考发现交头接耳")
            page.click("button[data-do=violation]")
            page.wait_for_selector("#act-msg.okmsg")
            shot(page, "patrol-records-violation")
        assert wait_for(lambda: hall.db().execute("SELECT staff FROM violations").fetchone() is not None)
        with hall.db() as db:
            assert tuple(db.execute("SELECT staff, level FROM violations").fetchone()) == ("patrol", "minor")
    finally:
        if phone:
            phone.close()
        hall.stop()
