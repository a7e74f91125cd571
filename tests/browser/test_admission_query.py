"""The phone app names its room token, and once logged in its session, in the websocket's
URL: near its connection cap the server admits only such connections (net/admission.py,
tested with raw sockets in tests/attack/test_connection_pressure.py), so this is what lets
a latecomer or a phone reconnecting after a WiFi drop get in. Headless Chromium."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from browser_support import log_in

pytestmark = pytest.mark.browser


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_websocket_url_carries_the_room_token_then_the_session(phone_hall, phone):
    hall, page = phone_hall, phone
    urls: list[str] = []
    page.on("websocket", lambda ws: urls.append(ws.url))
    page.goto(hall.qr_url)
    expect(page.locator("#conn-state")).to_have_text("已连接考场服务器")
    token = hall.qr_url.rsplit("/r/", 1)[1]
    first = _query(urls[0])
    assert first.get("t") == token and "s" not in first, urls[0]

    log_in(page, hall, goto=False)
    expect(page.locator("#category")).to_be_visible()
    session = page.evaluate("JSON.parse(localStorage.getItem('hall.session')).session")

    # The laptop goes away and comes back (as after a WiFi drop): the app reconnects by itself.
    n = len(urls)
    hall.stop()
    hall.start()
    deadline = time.monotonic() + 20
    while len(urls) == n and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert len(urls) > n, "the app did not reconnect"
    again = _query(urls[-1])
    assert again.get("s") == session and again.get("t") == token, urls[-1]
    expect(page.locator("#banner")).to_be_hidden(timeout=20000)  # resumed: no "reconnecting" banner
