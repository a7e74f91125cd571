"""Issue 13 item 1: the results hand-over from a fresh site, as the chief does it on the
console (Chromium at 1366x768) and as `hall sync` does it, against a real centre."""
import hashlib
import re
import subprocess
import sys

import pytest

from console_support import Centre, console_login, laptop_browser, shot
from factories import make_plan
from hallproc import REPO, HallProcess, Phone

pytestmark = pytest.mark.browser
S1 = "D1S1-R01"


def _one_answer(hall, plan):
    c = plan["candidates"][0]
    assert hall.start_sitting(S1)["ok"]
    p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
    try:
        assert p.login(S1)["ok"] and p.call("confirm")["ok"] and p.call("open")["ok"]
        assert p.answer(1, "A")["ok"]
    finally:
        p.close()


def test_first_usb_export_then_upload_from_the_console(tmp_path):
    plan = make_plan(candidates_per_room=3, rooms=1)
    centre = Centre(tmp_path, plan)
    hall = HallProcess(tmp_path / "h", plan, config_extra=f'[sync]\ncentral_url = "{centre.url}"\n').start()
    try:
        _one_answer(hall, plan)
        assert not (hall.data_dir / "outbox").exists()          # a fresh site: no outbox yet
        with laptop_browser() as page:
            console_login(page, hall.url)
            assert page.inner_text("#sync-state") == "尚未上报"
            page.click("text=导出到U盘（成绩包文件）")
            page.wait_for_selector("#export-sha")
            sha = page.inner_text("#export-sha").strip()
            assert re.fullmatch(r"[0-9a-f]{64}", sha), sha
            assert "已导出" in page.inner_text("#sync-state")
            shot(page, "usb-01-exported", full_page=True)
            with page.expect_download() as dl:
                page.click("#export-download")
            download = dl.value
            assert download.suggested_filename.endswith(".hallresult"), download.suggested_filename
            assert download.suggested_filename == page.inner_text("#export-file").strip()
            data = open(download.path(), "rb").read()
            assert hashlib.sha256(data).hexdigest() == sha
            from contracts.result_bundle import verify_result_bundle

            assert verify_result_bundle(data, {plan["site"]["site_no"]: plan["site_key"]["public"]})

            # The network comes back: the chief uploads from the console.
            page.click("text=上传到市定考办")
            page.wait_for_selector("#sync-state")
            assert "Internal Server Error" not in page.content()
            # the page refreshes itself until the upload's final state
            page.wait_for_selector("#sync-state:has-text('已被接收')", timeout=30000)
            page.wait_for_load_state()
            # (the upload is a newer bundle: pressing the button is itself in the audit chain)
            uploaded = centre.store.bundles()[-1]["bundle_id"]
            receipt_no = centre.store.existing_receipt(uploaded)["receipt_no"]
            assert page.inner_text("#export-sha").strip() == uploaded
            assert page.inner_text("#receipt-no").strip() == str(receipt_no)
            shot(page, "usb-02-accepted", full_page=True)
        # The command line after a console export: same outbox, no FileExistsError.
        r = subprocess.run([sys.executable, "-m", "hall_server", "--config", str(hall.config_path), "sync",
                            "--url", centre.url], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert f"回执号 {receipt_no}" in r.stdout, r.stdout
    finally:
        hall.stop()
        centre.stop()


def test_console_errors_are_chinese_pages(tmp_path):
    """No central_url configured: the upload button is not shown, and a POST anyway gets a
    Chinese page (never Flask's English one)."""
    plan = make_plan(candidates_per_room=2, rooms=1)
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        chief = hall.staff_session()
        r = chief.post(hall.url + "/console/sync")
        assert r.status_code == 409
        assert "sync.central_url" in r.text and "导出到U盘" in r.text and "Conflict" not in r.text
        assert "返回控制台首页" in r.text
        r = hall.staff_session("r01", "r01-pw").post(hall.url + "/console/export")
        assert r.status_code == 403 and "无权操作" in r.text and "Forbidden" not in r.text
    finally:
        hall.stop()
