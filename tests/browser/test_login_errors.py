"""Login refusals as a candidate sees them: a garbled QR code, wrong digits, lock-out."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_support import log_in

pytestmark = [pytest.mark.browser]


def test_login_refusals_are_clear(phone_hall, phone, shots):
    hall, page = phone_hall, phone
    # a garbled room code: the server says so in Chinese
    log_in(page, hall, url=hall.base_url + "/r/not-a-real-token")
    expect(page.locator("#login-msg .msg.error")).to_contain_text("二维码")

    # the form checks the shape of the ID digits before asking the server
    log_in(page, hall, id6="12")
    expect(page.locator("#login-msg .msg.error")).to_contain_text("6位")

    # wrong digits until the server pauses this ticket: the button counts down
    for _ in range(8):
        page.fill("#id6", "000000")
        page.click("#login-btn")
        msg = page.locator("#login-msg .msg.error")
        expect(msg).to_be_visible()
        if "秒后再试" in msg.inner_text():
            break
    expect(page.locator("#login-msg .msg.error")).to_contain_text("秒后再试")
    expect(page.locator("#login-btn")).to_be_disabled()
    expect(page.locator("#login-btn")).to_contain_text("秒后再试")
    page.screenshot(path=str(shots / "41_rate_limited.png"))
