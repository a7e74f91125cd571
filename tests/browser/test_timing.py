"""The clock on the phone: a room pause and the automatic submission at time-up.

Real server with a 12-second paper. Screenshots: test-output/browser/3N_*.png
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_support import RealHall, into_exam

pytestmark = [pytest.mark.browser]


@pytest.fixture
def short_hall(tmp_path):
    h = RealHall(tmp_path, questions=10, duration_minutes=0.2, earliest_submit_minutes=0.05)
    h.start()
    yield h
    h.close()


def test_pause_then_time_up_submits_automatically(short_hall, phone, shots):
    hall, page = short_hall, phone
    into_exam(page, hall)
    expect(page.locator("#clock")).to_contain_text("00:1")       # 12 s paper, counted from server time

    hall.staff("pause", reason="停电")
    expect(page.get_by_text("考试已暂停，请等待监考老师恢复考试。")).to_be_visible()
    expect(page.locator(".opt").first).to_be_disabled()
    expect(page.locator("#clock")).to_contain_text("暂停")
    page.screenshot(path=str(shots / "31_paused.png"))
    hall.staff("resume")
    expect(page.locator(".opt").first).to_be_enabled()

    page.click(".opt[data-key='A']")
    expect(page.locator("#savestate")).to_have_text("✓ 已保存")

    # nobody taps anything: the server submits at the deadline and the phone shows it
    expect(page.get_by_text("考试时间到，系统已自动交卷")).to_be_visible(timeout=30000)
    expect(page.locator("#receipt-code")).to_be_visible()
    page.screenshot(path=str(shots / "32_time_up_receipt.png"))
    assert not [m for m in page.hall_logs if m.startswith("pageerror")]


@pytest.fixture
def quick_submit_hall(tmp_path):
    h = RealHall(tmp_path, questions=10, duration_minutes=5, earliest_submit_minutes=0.05)
    h.start()
    yield h
    h.close()


def test_submit_while_offline_completes_by_itself(quick_submit_hall, phone, shots):
    """The candidate confirms submission while the laptop is down: the phone keeps the
    request and the answers, and submits once the server is back, with no second tap."""
    hall, page = quick_submit_hall, phone
    into_exam(page, hall)
    page.click(".opt[data-key='B']")
    expect(page.locator("#savestate")).to_have_text("✓ 已保存")
    expect(page.locator("#submit-btn")).to_be_enabled(timeout=10000)

    hall.stop()
    expect(page.locator("#banner")).to_be_visible()
    page.click("#next-btn")
    page.click(".opt[data-key='C']")               # answered offline, never acknowledged
    expect(page.locator("#savestate")).to_contain_text("未保存")
    page.locator("#submit-btn").scroll_into_view_if_needed()
    page.click("#submit-btn")
    expect(page.locator("#submit-dialog")).to_contain_text("尚未保存到服务器")
    page.click("#submit-confirm")
    expect(page.get_by_text("暂时无法交卷")).to_be_visible()
    page.screenshot(path=str(shots / "33_submit_offline.png"))

    hall.start()
    expect(page.locator("#receipt-code")).to_be_visible(timeout=20000)
    expect(page.get_by_text("交卷成功")).to_be_visible()
    page.screenshot(path=str(shots / "34_submit_offline_receipt.png"))
    with hall.proc.db() as db:
        rows = dict(db.execute("SELECT q, choice FROM answers WHERE ticket=?", (hall.ticket,)).fetchall())
        status = db.execute("SELECT status FROM attempts WHERE ticket=?", (hall.ticket,)).fetchone()[0]
    assert rows == {1: "B", 2: "C"} and status == "submitted"


def test_pending_answers_survive_a_reload(quick_submit_hall, phone):
    """Answers made while the laptop is down are kept in localStorage: a reload right
    after the server returns still delivers them (in seq order, after `resume`)."""
    hall, page = quick_submit_hall, phone
    into_exam(page, hall)
    expect(page.locator("#qno")).to_have_text("1")
    hall.stop()
    expect(page.locator("#banner")).to_be_visible()
    page.click(".opt[data-key='A']")
    page.click(".opt[data-key='D']")     # changed its mind: the later seq must win
    page.click("#next-btn")
    page.click(".opt[data-key='B']")
    stored = page.evaluate("JSON.parse(localStorage.getItem('hall.att.' + window.hallApp.S.session.ticket))")
    assert {q: e["c"] for q, e in stored["ans"].items()} == {"1": "D", "2": "B"}
    assert all(e.get("a", 0) < e["s"] for e in stored["ans"].values())   # none acknowledged
    hall.start()
    page.reload()
    expect(page.locator("#qno")).to_have_text("2")                        # same question as before
    expect(page.locator("#savestate")).to_have_text("✓ 已保存", timeout=20000)
    expect(page.locator("#banner")).to_be_hidden()
    with hall.proc.db() as db:
        rows = dict(db.execute("SELECT q, choice FROM answers WHERE ticket=?", (hall.ticket,)).fetchall())
    assert rows == {1: "D", 2: "B"}


def test_countdown_ignores_a_wrong_phone_clock(quick_submit_hall, phones):
    """A phone whose clock is an hour fast (and in another time zone) still counts down
    the candidate's own 5 minutes: the offset comes from the server's `now`."""
    hall = quick_submit_hall
    page = phones()
    page.add_init_script("(() => { const real = Date.now; Date.now = () => real() + 3600 * 1000; })()")
    into_exam(page, hall)
    expect(page.locator("#clock")).to_contain_text(re.compile(r"0[45]:\d\d"))
    page.click(".opt[data-key='A']")                       # not locked as "time up"
    expect(page.locator("#savestate")).to_have_text("✓ 已保存")
    skew = page.evaluate("window.hallApp.S.offset")
    assert abs(skew + 3600 * 1000) < 5000, skew
