"""Issue 15 item 7, the real phone app: after a spare laptop takes over from a replica that
lags, the app re-sends what it believed saved and the spare lacks (a new answer, a changed
answer) and hands in again a submission the spare lost."""
from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from factories import make_plan
from hallproc import HallProcess, free_port, stored_answers as stored

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "takeover"))
from takeoverkit import Spare, copier_pids, kill, wait  # noqa: E402
from hall_server.replica.store import ReplicaDir  # noqa: E402

pytestmark = pytest.mark.browser


def choose(page, q, key):
    page.click("#grid-btn")
    page.click(f"#grid .cell[data-q='{q}']")
    page.click(f".opt[data-key='{key}']")
    expect(page.locator("#savestate")).to_have_text("✓ 已保存")


def test_app_replays_to_a_spare_that_took_over_from_a_lagging_replica(tmp_path, phones, shots):
    plan = make_plan(candidates_per_room=3, rooms=1, questions=10, duration_minutes=30,
                     earliest_submit_minutes=0.05)
    usb = tmp_path / "usb" / "hall-replica"
    usb.parent.mkdir()
    port = free_port()
    extra = f'[replica]\npath = "{usb}"\ninterval_seconds = 0.3\n'
    primary = HallProcess(tmp_path / "primary", plan, config_extra=extra, port=port).start()
    spare = Spare(tmp_path / "spare", None, config_extra=extra, port=port)
    cands = plan["candidates"]
    sitting = cands[0]["sitting_id"]
    try:
        qr = f"{primary.url}/r/{primary.qr_token(sitting)}"
        pages = []
        for c in cands:
            page = phones()
            page.goto(qr)
            page.fill("#ticket", c["ticket"])
            page.fill("#id6", c["id_number"][-6:])
            page.click("#login-btn")
            page.click("#confirm-btn")
            pages.append(page)
        primary.start_sitting(sitting)
        for page in pages:
            page.click("#open-btn")
            expect(page.locator("#qno")).to_have_text("1")
        a, b, c = pages
        choose(a, 1, "A")
        choose(b, 1, "A")
        seq = ReplicaDir(usb).marker()["seq"]
        wait(lambda: ReplicaDir(usb).marker()["seq"] >= seq + 2, 10, "a copy holding the first answers")
        # The stick stops following (the copier is frozen); the phones go on.
        copier = copier_pids(primary.proc.pid)[0]
        kill(copier, signal.SIGSTOP)
        choose(a, 2, "B")
        choose(a, 3, "C")
        choose(b, 1, "D")                       # a changed answer: the stick holds the old one
        expect(c.locator("#submit-btn")).not_to_have_class("submitbtn later", timeout=10000)
        c.click("#submit-btn")
        c.click("#submit-confirm")
        first_receipt = c.locator("#receipt-code").inner_text()

        primary.kill()
        kill(copier)
        shutil.rmtree(primary.data_dir)
        spare.start_takeover(usb)
        db = spare.data_dir / "hall.db"
        ta, tb, tc = (x["ticket"] for x in cands)
        before = stored(db)
        assert (ta, 2) not in before and before[(tb, 1)][0] == "A"          # what the stick lacked
        for page in pages:
            page.wait_for_function("window.hallApp.S.authed === true", timeout=20000)
        expect(a.locator("#exam-q")).to_contain_text("考试已暂停")
        a.screenshot(path=str(shots / "takeover_paused.png"))
        staff = spare.staff_socket()
        try:
            assert staff.call("resume", {"sitting": sitting}, namespace="/staff", timeout=10)["ok"]
        finally:
            staff.disconnect()
        wait(lambda: (lambda s: s.get((ta, 2), (None,))[0] == "B" and s.get((ta, 3), (None,))[0] == "C"
                      and s.get((tb, 1), (None,))[0] == "D")(stored(db)), 20, "the phones' replay")
        expect(c.locator("#receipt-code")).to_be_visible(timeout=20000)
        with spare.db() as conn:
            st = conn.execute("SELECT status, receipt FROM attempts WHERE ticket = ?", (tc,)).fetchone()
        assert st[0] == "submitted"
        expect(c.locator("#receipt-code")).to_have_text(st[1])                 # the spare's receipt
        assert st[1] != first_receipt
        expect(a.locator("#savestate")).to_have_text("✓ 已保存")
        a.screenshot(path=str(shots / "takeover_replayed.png"))
        for page in pages:
            assert not [l for l in page.hall_logs if l.startswith("pageerror")], page.hall_logs
    finally:
        primary.kill()
        spare.stop()
