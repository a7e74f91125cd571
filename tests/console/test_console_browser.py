"""The invigilator console in headless Chromium against the real server: log in, start a
sitting, approve a device change, terminate an exam for cheating, pause and resume."""
import time
from pathlib import Path

import pytest

from factories import fast_plan
from hallproc import HallProcess, Phone

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-gpu"]
S1 = "D1S1-R01"


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        yield page
        browser.close()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_for(cond, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_console_runs_a_sitting(tmp_path, browser_page):
    plan = fast_plan(duration_minutes=30)
    hall = HallProcess(tmp_path / "h", plan).start()
    page = browser_page
    answers = {}
    page.on("dialog", lambda d: d.accept(answers.get("prompt", "")))
    try:
        page.goto(hall.url + "/console/")
        page.fill("input[name=username]", "chief")
        page.fill("input[name=password]", "chief-pw")
        page.click("button[type=submit]")
        page.wait_for_selector("text=考场与场次")
        shot(page, "01-home")
        page.click(f"a[href='/console/sitting/{S1}']")
        page.wait_for_selector("#sitting-status:has-text('未开考')")
        cands = [c for c in plan["candidates"] if c["sitting_id"] == S1][:3]
        phones = []
        for c in cands:
            ph = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
            assert ph.login(S1)["ok"] and ph.call("confirm")["ok"]
            phones.append(ph)
        page.wait_for_selector(f"#c-{cands[0]['ticket']} >> text=已确认")
        shot(page, "02-checked-in")

        page.click("#start")

        page.check("input[name=confirm_date]")         # test plans are dated 2030
        page.click("button[data-room=start_sitting]")
        page.wait_for_selector("#sitting-status:has-text('考试中')")
        for ph in phones:
            assert ph.call("open")["ok"]
            assert ph.answer(1, "A")["ok"]
        page.wait_for_selector(f"#c-{cands[2]['ticket']} >> text=答题中")

        # A candidate's phone dies; the new one waits for the invigilator.
        new = Phone(hall, cands[1]["ticket"], cands[1]["id_number"][-6:], device="spare-phone").connect()
        got = []
        new.sio.on("approved", lambda d: got.append(d))
        assert new.login(S1)["error"]["code"] == "awaiting_approval"
        page.wait_for_selector("#approvals:not([hidden])")
        shot(page, "03-device-approval")
        page.click(f"#approval-list button[data-action=approve_device][data-ticket='{cands[1]['ticket']}']")
        assert wait_for(lambda: got), "the new phone was never approved"
        assert got[0]["state"]["status"] == "answering"
        page.wait_for_selector("#approvals", state="hidden")

        # Cheating: the invigilator records it and the exam ends for that candidate.
        page.click(f"#c-{cands[2]['ticket']} button.act")
        page.click("#act-choose [data-open=violation]")
        page.select_option("select[name=level]", "cheating")
        page.fill("textarea[name=facts]", "考试中切出页面搜索答案，已拍照取证")
        page.click("button[data-do=violation]")
        page.wait_for_selector("#act-msg:has-text('请先勾选确认')")      # a terminating level asks first
        page.check("input[name=terminate_ok]")
        shot(page, "04-violation-dialog")
        page.click("button[data-do=violation]")
        page.wait_for_selector("#act-msg:has-text('已保存')")
        page.click("#act-close")
        page.wait_for_selector(f"#c-{cands[2]['ticket']} >> text=终止考试")   # the forms' word (contracts/exam.py)
        assert phones[2].answer(2, "B")["error"]["code"] == "submitted"

        # Power cut: pause the room, then resume; every deadline moves.
        before = phones[0].call("sync")["state"]["deadline"]
        page.click("#pause")
        page.check("input[name=pause_kind][value='停电']")
        page.click("button[data-room=pause]")
        page.wait_for_selector("#sitting-status:has-text('暂停中')")
        shot(page, "05-paused")
        time.sleep(1.0)
        page.click("#resume")
        page.wait_for_selector("#sitting-status:has-text('考试中')")
        after = phones[0].call("sync")["state"]["deadline"]
        assert after - before >= 1000
        page.click(".filters button[data-filter=flagged]")
        assert page.locator("#roster tbody tr").count() == 1
        shot(page, "06-flagged-filter")
        with hall.db() as db:
            actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE actor = 'staff:chief' ORDER BY id")]
        assert actions == ["start_sitting", "approve_device", "violation", "submit", "pause", "resume"]
    finally:
        hall.stop()
