"""A candidate's phone fails: a second phone takes over and every answer is kept.

Phone A answers two questions; phone B (empty storage) logs in, waits for the
invigilator's approval, then restores the saved answers with `sync`, continues the
seq counter above the server's (so its changes win), and A stops with the
"another device" message. Screenshots: test-output/browser/2N_*.png
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_support import log_in

pytestmark = [pytest.mark.browser]


def snap(page, shots, name):
    page.screenshot(path=str(shots / f"{name}.png"))


def test_second_phone_takes_over(phone_hall, phones, shots):
    hall = phone_hall
    a = phones()
    log_in(a, hall)
    a.click("#confirm-btn")
    hall.start_sitting()
    a.click("#open-btn")
    expect(a.locator("#qno")).to_have_text("1")
    a.click(".opt[data-key='A']")
    expect(a.locator("#savestate")).to_have_text("✓ 已保存")
    a.click("#next-btn")
    a.click(".opt[data-key='B']")
    expect(a.locator("#savestate")).to_have_text("✓ 已保存")
    a_seq = a.evaluate("window.hallApp.S.att.seq")

    # phone B: new storage, new device id
    b = phones()
    log_in(b, hall)
    expect(b.locator("#approval-msg")).to_be_visible()
    snap(b, shots, "21_new_phone_waiting_approval")
    # phone A keeps working until the invigilator decides
    a.click("#next-btn")
    a.click(".opt[data-key='C']")
    expect(a.locator("#savestate")).to_have_text("✓ 已保存")

    hall.approve_device()
    # B continues with everything A saved, shown as saved
    expect(b.locator("#qno")).to_have_text("1")
    expect(b.locator(".opt.sel")).to_have_attribute("data-key", "A")
    expect(b.locator("#savestate")).to_have_text("✓ 已保存")
    b.click("#grid-btn")
    for q in (1, 2, 3):
        expect(b.locator(f"#grid .cell[data-q='{q}']")).to_have_class(re.compile(r"\bans\b"))
        expect(b.locator(f"#grid .cell[data-q='{q}']")).not_to_have_class(re.compile(r"\bpend\b"))
    snap(b, shots, "22_new_phone_restored")
    b.click("#sheet-close")
    assert b.evaluate("window.hallApp.S.att.seq") > a_seq

    # A is stopped and says why
    expect(a.locator("#replaced-msg")).to_have_text("您已在另一台设备登录，本设备已停止")
    snap(a, shots, "23_old_phone_replaced")

    # B changes question 1: its seq continues above A's, so the change is stored
    b.click(".opt[data-key='D']")
    expect(b.locator("#savestate")).to_have_text("✓ 已保存")
    synced = b.evaluate("""() => new Promise(r => window.hallApp.S.socket.emit('sync', {}, r))""")
    assert synced["answers"]["1"][0] == "D"
    assert synced["answers"]["3"][0] == "C"

    # reloading B continues on B without another approval
    b.reload()
    expect(b.locator(".opt.sel")).to_have_attribute("data-key", "D")
    expect(b.locator("#banner")).to_be_hidden()
    for page in (a, b):
        assert not [m for m in page.hall_logs if m.startswith("pageerror")]
