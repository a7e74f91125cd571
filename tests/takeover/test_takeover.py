"""Issue 15 item 7: a spare laptop takes over from the replica on the USB stick, and nothing
acknowledged is lost.

Mid-sitting, with phones answering, the copier is frozen for a while (so the stick lags the
laptop by a known window in which phones answer, one logs in, one opens the paper and one
submits), the primary is SIGKILLed and its data directory destroyed. `hall takeover` starts
the spare from the stick at the same address; the phones reconnect and replay what they
hold; the invigilators resume the paused rooms. Every answer any phone ever had
acknowledged must be in the spare's database."""
from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factories import make_plan
from hallproc import REPO, HallProcess, Phone, acked_missing as missing, free_port
from hall_server.replica.store import ReplicaDir
from takeoverkit import Spare, TakeoverPhone, copier_pids, kill, stored_answers, wait

QUESTIONS = 20


def all_acked(phones) -> dict:
    out = {}
    for p in phones:
        with p.lock:
            out.update({(p.cand["ticket"], q): v for q, v in p.acked.items()})
    return out


@pytest.mark.slow
def test_spare_takes_over_from_the_stick_and_nothing_acknowledged_is_lost(tmp_path):
    plan = make_plan(candidates_per_room=8, rooms=2, questions=QUESTIONS, duration_minutes=30,
                     earliest_submit_minutes=0.05, late_entry_minutes=10)
    usb = tmp_path / "usb" / "hall-replica"
    usb.parent.mkdir()
    port = free_port()
    replica_cfg = f'[replica]\npath = "{usb}"\ninterval_seconds = 0.3\n'
    primary = HallProcess(tmp_path / "primary", plan, config_extra=replica_cfg, port=port).start()
    spare = Spare(tmp_path / "spare", None, config_extra=replica_cfg, port=port)
    phones: list[TakeoverPhone] = []
    try:
        cands = plan["candidates"]
        late_login, late_open, late_submit = cands[0], cands[1], cands[2]     # room 1
        setup = []
        for c in cands:
            cand = {"ticket": c["ticket"], "id6": c["id_number"][-6:], "device": f"dev-{c['ticket']}",
                    "sitting": c["sitting_id"]}
            if c is not late_login:
                p = Phone(primary, c["ticket"], cand["id6"], cand["device"]).connect()
                assert p.login(c["sitting_id"])["ok"]
                assert p.call("confirm")["ok"]
                cand["session"] = p.session
                cand["_phone"] = p
            setup.append(cand)
        for sid in sorted({c["sitting_id"] for c in cands}):
            primary.start_sitting(sid)
        for cand in setup:
            p = cand.pop("_phone", None)
            if p is not None and cand["ticket"] != late_open["ticket"]:
                assert p.call("open")["ok"]
            if p is not None:
                p.close()
        for i, cand in enumerate(setup):
            if cand["ticket"] == late_login["ticket"]:
                continue
            status = "confirmed" if cand["ticket"] == late_open["ticket"] else "answering"
            ph = TakeoverPhone(primary.url, {**cand, "status": status}, QUESTIONS, seed=i, token_for=primary.qr_token)
            ph.tapping.set()
            phones.append(ph)
            ph.start()
        by_ticket = {p.cand["ticket"]: p for p in phones}

        # Phones answer while the copier keeps the stick a fraction of a second behind.
        wait(lambda: (ReplicaDir(usb).marker() or {}).get("seq", 0) >= 3, 20, "three copies on the stick")
        time.sleep(1.5)
        # The window the stick will not hold: freeze the copier (its last copy stays current).
        copiers = copier_pids(primary.proc.pid)
        assert len(copiers) == 1, copiers
        kill(copiers[0], signal.SIGSTOP)
        frozen_at = time.time()
        # ... in which one candidate logs in and starts, one opens the paper, one submits.
        p = Phone(primary, late_login["ticket"], late_login["id_number"][-6:], f"dev-{late_login['ticket']}").connect()
        assert p.login(late_login["sitting_id"])["ok"] and p.call("confirm")["ok"] and p.call("open")["ok"]
        lp = TakeoverPhone(primary.url, {"ticket": late_login["ticket"], "id6": late_login["id_number"][-6:],
                                         "device": p.device, "sitting": late_login["sitting_id"], "session": p.session},
                           QUESTIONS, seed=99, token_for=primary.qr_token)
        p.close()
        phones.append(lp)
        lp.start()
        op = by_ticket[late_open["ticket"]]
        op.opened = True                     # the candidate taps 开始答题
        wait(lambda: op.status == "answering", 10, "the late phone to open its paper")
        time.sleep(1.0)
        sp = by_ticket[late_submit["ticket"]]
        sp.tapping.clear()
        sp.submit_wanted = True
        wait(lambda: sp.receipt is not None and sp.status == "submitted", 10, "the submission")
        first_receipt = sp.receipt
        time.sleep(1.0)
        wait(lambda: len(lp.acked) >= 3 and len(op.acked) >= 3, 10, "answers from the late phones")

        # The laptop dies; its disk with it.
        acked_at_kill = all_acked(phones)
        killed_at = time.time()
        primary.kill()
        kill(copiers[0])
        shutil.rmtree(primary.data_dir)
        copy, marker, _ = ReplicaDir(usb).latest()
        recovery_point = killed_at - marker["taken_at"]
        frozen_for = killed_at - frozen_at
        held = tmp_path / "what-the-stick-held.db"          # read a copy, as takeover does
        shutil.copyfile(copy, held)
        lacked = missing(acked_at_kill, stored_answers(held))
        assert lacked, "the stick held every acknowledged answer: the test did not exercise the replay"
        conn = sqlite3.connect(held)
        try:
            status_on_stick = dict(conn.execute("SELECT ticket, status FROM attempts"))
        finally:
            conn.close()
        assert status_on_stick[late_submit["ticket"]] == "answering"          # the stick lost the submission,
        assert status_on_stick[late_open["ticket"]] == "confirmed"            # the opening,
        assert late_login["ticket"] not in status_on_stick                    # and the login

        # The spare: same address, from the stick.
        start_s = spare.start_takeover(usb)
        up_at = time.time()
        with spare.db() as db:
            assert db.execute("SELECT count(*) FROM sittings WHERE status = 'paused'").fetchone()[0] == 2

        try:
            wait(lambda: all(p.resumed_at and p.resumed_at > killed_at for p in phones), 30, "every phone to reconnect")
        except AssertionError:
            raise AssertionError("not back: " + repr([(p.cand["ticket"], p.is_alive(), p.sio is not None, p.status,
                                                        p.errors[-3:]) for p in phones
                                                       if not (p.resumed_at and p.resumed_at > killed_at)])) from None
        reconnected_at = time.time()
        for p in phones:
            p.mark("resume")
        staff = spare.staff_socket()
        try:
            for sid in sorted({c["sitting_id"] for c in cands}):
                r = staff.call("resume", {"sitting": sid}, namespace="/staff", timeout=10)
                assert r["ok"], r
        finally:
            staff.disconnect()
        resumed_at = time.time()
        wait(lambda: all("resume" in p.first_ack_after for p in phones if p is not sp), 30,
             "every phone to answer again")
        answering_at = max(p.first_ack_after["resume"] for p in phones if p is not sp)
        wait(lambda: sp.status == "submitted" and not sp.submit_wanted, 15, "the lost submission to be redone")
        time.sleep(1.0)
        for p in phones:
            p.stop.set()
        for p in phones:
            p.join(10)
            p.flush()

        errors = [(p.cand["ticket"], e) for p in phones for e in p.errors]
        assert not errors, errors[:5]
        acked = all_acked(phones)
        lost = missing(acked, stored_answers(spare.data_dir / "hall.db"))
        with spare.db() as db:
            status = dict(db.execute("SELECT ticket, status FROM attempts"))
            audit_ok = subprocess.run([sys.executable, "-m", "hall_server", "--config", str(spare.config_path),
                                       "audit", "verify"], cwd=REPO, capture_output=True, text=True)
        print(f"\ntakeover: {len(phones)} phones, {len(acked)} acknowledged answers; copier frozen "
              f"{frozen_for:.1f} s before SIGKILL -> recovery point {recovery_point:.2f} s; the stick lacked "
              f"{len(lacked)} acknowledged answers, a login, an opening and a submission; "
              f"re-queued by phones {sum(p.requeued for p in phones)}, relogins {sum(p.relogins for p in phones)}, "
              f"papers reopened {sum(1 for p in phones if p.reopens)}, resubmitted {sum(p.resubmits for p in phones)}")
        print(f"takeover: SIGKILL -> spare serving {up_at - killed_at:.2f} s (hall takeover {start_s:.2f} s), "
              f"-> every phone reconnected {reconnected_at - killed_at:.2f} s, rooms resumed "
              f"{resumed_at - killed_at:.2f} s, -> every phone answering again {answering_at - killed_at:.2f} s "
              f"({answering_at - resumed_at:.2f} s after 恢复考试); missing acknowledged answers: {len(lost)}")
        assert lost == [], lost[:5]
        assert status[late_submit["ticket"]] == "submitted" and sp.receipt and sp.receipt != first_receipt
        assert status[late_login["ticket"]] == "answering" and status[late_open["ticket"]] == "answering"
        assert audit_ok.returncode == 0, audit_ok.stdout + audit_ok.stderr
    finally:
        for p in phones:
            p.stop.set()
            p.close()
        primary.kill()
        spare.stop()
