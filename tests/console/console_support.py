"""Helpers for the console's browser tests: Chromium at the site laptop's 1366x768, the
chief's login, and a real central ingest service on loopback."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "console"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-gpu"]
LAPTOP = {"width": 1366, "height": 768}


@contextmanager
def laptop_browser(**ctx_kw):
    """A page the size of the site laptop's screen (downloads allowed)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport=LAPTOP, locale="zh-CN", accept_downloads=True,
                                  **{"timezone_id": "Asia/Shanghai", **ctx_kw})
        page = ctx.new_page()
        page.set_default_timeout(15000)
        try:
            yield page
        finally:
            ctx.close()
            browser.close()


def shot(page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def console_login(page, url: str, username: str = "chief", password: str = "chief-pw") -> None:
    page.goto(url + "/console/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("text=考场与场次")


def wait_for(cond, timeout: float = 10) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


class Centre:
    """sync.central's Flask app under werkzeug on a free loopback port, SQLite store."""

    def __init__(self, tmp_path: Path, plan: dict):
        from werkzeug.serving import make_server

        from sync.central.app import create_app

        self.app = create_app({"db": tmp_path / "centre.db",
                               "site_keys": {plan["site"]["site_no"]: plan["site_key"]["public"]},
                               "answer_keys": plan["keys"], "admin_token": "console-test-token"})
        self.store = self.app.extensions["hall_store"]
        self.srv = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.srv.server_port}"
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.srv.shutdown()
        self.thread.join(5)
        self.store.close()
