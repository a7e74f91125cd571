"""Fixtures for the browser tests: `phone_hall` (the server), `phones`/`phone` (Chromium
at a phone viewport), `shots` (test-output/browser/). See browser_support.py."""
from __future__ import annotations


import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, SHOTS, RealHall


@pytest.fixture
def phone_hall(tmp_path):
    h = RealHall(tmp_path)
    h.start()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def shots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def phones():
    """A factory of phones: each call is a new browser context (its own localStorage)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts = []

        def new_phone():
            ctx = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                      device_scale_factor=2, locale="zh-CN", timezone_id="Asia/Shanghai")
            contexts.append(ctx)
            page = ctx.new_page()
            page.set_default_timeout(15000)
            logs = []
            page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
            page.hall_logs = logs
            return page

        try:
            yield new_phone
        finally:
            for ctx in contexts:
                ctx.close()
            browser.close()


@pytest.fixture
def phone(phones):
    return phones()
