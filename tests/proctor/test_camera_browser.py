"""Both capture paths in headless Chromium (issue 16):
- the LAN address (plain HTTP, not a secure context): <input capture> through Playwright's
  file chooser, a 1600 px photo downsized on the phone; a prompt during the exam answered
  offline, queued and delivered when the WiFi is back;
- localhost (a secure context): getUserMedia with Chromium's fake camera fed from a file
  made from a test photograph; the prompt's photo is taken silently.
Screenshots: test-output/browser/camera_*.png
"""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

from browser_support import CHROMIUM, CHROMIUM_ARGS, SHOTS  # noqa: E402
from factories import make_plan  # noqa: E402
from proctorkit import astronaut_face, jpeg, proctor_hall  # noqa: E402

pytestmark = pytest.mark.browser

CONFIG = ("face_worker = false\nrandom_captures = 1\nfirst_after_minutes = 0.05\n"
          "last_before_end_minutes = 0.9\nprompt_grace_seconds = 60\n")


def lan_address() -> str | None:
    """This machine's own non-loopback address: a page there is not a secure context."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent; picks the outward interface
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") else ip


def y4m(path: Path, img, frames: int = 3) -> Path:
    """A Y4M clip (4:2:0) of one photograph: what Chromium's fake camera plays in a loop."""
    from PIL import Image

    im = img.convert("RGB").resize((640, 480))
    ycc = np.asarray(im.convert("YCbCr"))
    y = ycc[:, :, 0]
    u = np.asarray(Image.fromarray(ycc[:, :, 1]).resize((320, 240)))
    v = np.asarray(Image.fromarray(ycc[:, :, 2]).resize((320, 240)))
    with open(path, "wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            f.write(b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes())
    return path


def browser(p, extra_args=()):
    return p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + list(extra_args))


def new_phone(b):
    ctx = b.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                        device_scale_factor=2, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    page.set_default_timeout(20000)
    return ctx, page


def login_to_photo(page, url, c):
    page.goto(url)
    page.fill("#ticket", c["ticket"])
    page.fill("#id6", c["id_number"][-6:])
    page.click("#login-btn")
    page.click("#confirm-btn")
    expect(page.locator("#cam-login")).to_be_visible()


def captures(hall):
    with hall.db() as db:
        return [dict(r) for r in db.execute("SELECT * FROM captures ORDER BY received_at")]


def wait_for(pred, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


def test_file_input_on_the_lan_address_and_an_offline_prompt(tmp_path):
    from playwright.sync_api import sync_playwright

    ip = lan_address()
    if ip is None:
        pytest.skip("no non-loopback address on this machine")
    plan = make_plan(candidates_per_room=2, rooms=1, duration_minutes=1, earliest_submit_minutes=0.1)
    hall = proctor_hall(tmp_path, CONFIG, plan, host="0.0.0.0")
    SHOTS.mkdir(parents=True, exist_ok=True)
    big = tmp_path / "selfie.jpg"
    big.write_bytes(jpeg(astronaut_face().resize((1600, 1600)), side=1600, quality=95))
    assert big.stat().st_size > 100_000
    c = plan["candidates"][0]
    url = f"http://{ip}:{hall.port}/r/{hall.qr_token(c['sitting_id'])}"
    try:
        with sync_playwright() as p:
            b = browser(p)
            ctx, page = new_phone(b)
            login_to_photo(page, url, c)
            assert page.evaluate("window.isSecureContext") is False
            assert page.locator("#cam-file-0").get_attribute("capture") == "user"
            hall.start_sitting(c["sitting_id"])
            expect(page.locator("#open-btn")).to_be_disabled()   # no photo, no paper
            page.screenshot(path=str(SHOTS / "camera_login_lan.png"))
            with page.expect_file_chooser() as fc:
                page.click("#cam-btn-0")
            fc.value.set_files(str(big))
            rows = wait_for(lambda: captures(hall))
            assert rows and rows[0]["slot"] == 0 and rows[0]["source"] == "file"
            assert max(rows[0]["width"], rows[0]["height"]) <= 480 and rows[0]["bytes"] <= 40960, rows[0]
            expect(page.locator("#open-btn")).to_be_enabled()
            page.click("#open-btn")
            expect(page.locator("#qno")).to_have_text("1")
            # the prompt comes (3 s in); the WiFi drops; the candidate takes the photo anyway
            expect(page.locator("#cam-prompt")).to_be_visible(timeout=30000)
            page.screenshot(path=str(SHOTS / "camera_prompt_lan.png"))
            ctx.set_offline(True)
            with page.expect_file_chooser() as fc:
                page.click("#cam-btn-1")
            fc.value.set_files(str(big))
            expect(page.locator("#cam-prompt")).to_be_hidden()
            queued = page.evaluate(f"JSON.parse(localStorage.getItem('hall.cap.{c['ticket']}') || '[]').length")
            assert queued == 1
            time.sleep(2)
            assert len(captures(hall)) == 1  # not delivered while offline
            ctx.set_offline(False)
            rows = wait_for(lambda: len(captures(hall)) == 2 and captures(hall), 30)
            assert rows and rows[1]["slot"] == 1 and rows[1]["status"] == "ok"
            assert wait_for(lambda: page.evaluate(
                f"JSON.parse(localStorage.getItem('hall.cap.{c['ticket']}') || '[]').length") == 0)
            ctx.close()
            b.close()
    finally:
        hall.stop()


def test_getusermedia_on_localhost_with_the_fake_camera(tmp_path):
    from playwright.sync_api import sync_playwright

    plan = make_plan(candidates_per_room=2, rooms=1, duration_minutes=1, earliest_submit_minutes=0.1)
    hall = proctor_hall(tmp_path, CONFIG, plan)
    SHOTS.mkdir(parents=True, exist_ok=True)
    clip = y4m(tmp_path / "face.y4m", astronaut_face())
    c = plan["candidates"][0]
    url = f"http://localhost:{hall.port}/r/{hall.qr_token(c['sitting_id'])}"
    try:
        with sync_playwright() as p:
            b = browser(p, ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                            f"--use-file-for-fake-video-capture={clip}"])
            ctx, page = new_phone(b)
            ctx.grant_permissions(["camera"], origin=f"http://localhost:{hall.port}")
            login_to_photo(page, url, c)
            assert page.evaluate("window.isSecureContext") is True
            expect(page.locator("#cam-preview video")).to_be_visible()
            hall.start_sitting(c["sitting_id"])
            page.wait_for_function("document.querySelector('#cam-preview video').videoWidth > 0")
            page.screenshot(path=str(SHOTS / "camera_login_live.png"))
            page.click("#cam-shoot")
            rows = wait_for(lambda: captures(hall))
            assert rows and rows[0]["source"] == "camera" and rows[0]["bytes"] <= 40960
            expect(page.locator("#open-btn")).to_be_enabled()
            page.click("#open-btn")
            expect(page.locator("#qno")).to_have_text("1")
            # the prompt's photo is taken from the live stream without a dialog
            rows = wait_for(lambda: len(captures(hall)) == 2 and captures(hall), 40)
            assert rows and rows[1]["slot"] == 1 and rows[1]["source"] == "camera"
            assert page.locator("#cam-prompt").count() == 0
            ctx.close()
            b.close()
    finally:
        hall.stop()
