"""Issue 15 item 5 on a 360x640 phone: every screen of a rehearsal says 模拟演练 (a strip and a
watermark), and the watermark never takes a tap."""
from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import requests
import socketio
from playwright.sync_api import expect

from factories import make_plan
from hallproc import REPO, free_port
from hall_server.importer import import_plan

pytestmark = pytest.mark.browser


def test_rehearsal_phone_is_marked_on_every_screen(tmp_path, phones, shots):
    data = tmp_path / "data"
    import_plan(data / "hall.db", make_plan(candidates_per_room=2, rooms=1, questions=10))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{data}"\npublic_url = "{url}"\n'
                   '[rehearsal]\nearliest_submit_minutes = 0\n[proctor]\nlogin_capture_required = false\nface_worker = false\n',
               encoding="utf-8")
    log = tmp_path / "rehearsal.log"
    proc = subprocess.Popen([sys.executable, "-m", "hall_server", "--config", str(cfg), "rehearsal", "start"],
                            cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        token = re.search(r"/r/(\S+)", log.read_text(encoding="utf-8")).group(1)
        ticket, id6 = (data / "rehearsal" / "演练考生.txt").read_text(encoding="utf-8").splitlines()[1].split()[:2]
        page = phones()
        page.set_viewport_size({"width": 360, "height": 640})
        page.goto(f"{url}/r/{token}")
        mark = page.locator(".rehearsal-mark")
        expect(mark).to_have_text("模拟演练 · 练习题，不计成绩")
        expect(page.locator(".rehearsal-watermark")).to_be_visible()
        page.screenshot(path=str(shots / "rehearsal_login.png"))
        page.fill("#ticket", ticket)
        page.fill("#id6", id6)
        page.click("#login-btn")
        page.click("#confirm-btn")
        sio = socketio.Client(reconnection=False)
        chief = requests.Session()
        chief.post(url + "/console/login", data={"username": "chief", "password": "chief-pw"}, timeout=10)
        sio.connect(url, namespaces=["/staff"], transports=["websocket"],
                    headers={"Cookie": "; ".join(f"{k}={v}" for k, v in chief.cookies.items())})
        assert sio.call("start_sitting", {"sitting": "YL-R01"}, namespace="/staff", timeout=10)["ok"]
        sio.disconnect()
        page.click("#open-btn")
        expect(page.locator("#stem")).to_contain_text("【演练题】")
        page.click(".opt[data-key='A']")                     # through the watermark
        expect(page.locator("#savestate")).to_have_text("✓ 已保存")
        expect(page.locator(".rehearsal-watermark")).to_be_visible()
        page.screenshot(path=str(shots / "rehearsal_question.png"))
        page.click("#submit-btn")
        page.click("#submit-confirm")
        expect(page.locator("#receipt-code")).to_be_visible()
        expect(mark).to_be_visible()
        page.screenshot(path=str(shots / "rehearsal_receipt.png"))
    finally:
        proc.terminate()
        proc.wait(10)
