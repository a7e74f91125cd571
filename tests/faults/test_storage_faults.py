"""The disk fills up or turns read-only in the middle of the exam.

Three ways to break the laptop's storage under the running server:
- file-size limit (always runs, no privileges): prlimit(RLIMIT_FSIZE) on the live server
  process, so every file append fails with EFBIG, which SQLite reports as "database or
  disk is full"; raising the limit again is the disk being freed;
- a real full disk (root + mount): the data directory on a 8 MB tmpfs that another
  program fills to the last byte; deleting the filler frees it;
- a read-only file system (root + loop devices): the data directory on an ext4 image
  mounted errors=remount-ro; a triggered file-system error turns it read-only under the
  server (SQLite: "disk I/O error"); the staff stop the server, fsck and restart.

Each time: phones are told (error code `storage`, Chinese message), /healthz reports the
fault, nothing refused is half-saved (no phantom answers, no state change), every answer
acknowledged before the fault survives a SIGKILL + restart, a phone that retries after the
fault clears gets its answer saved, and the audit chain still verifies.
"""
from __future__ import annotations

import os

import pytest

from factories import fast_plan
from faultkit import FaultHall, LoopExt4, Tmpfs, acked_lost
from hallproc import Phone

from hall_server.exam.errors import MESSAGES

PLAN = dict(candidates_per_room=4, rooms=1, questions=10, duration_minutes=30, earliest_submit_minutes=0)  # submit at once


def _phone(hall, c, device=None) -> Phone:
    return Phone(hall, c["ticket"], c["id_number"][-6:], device=device).connect()


def _resume(hall, old: Phone) -> Phone:
    p = Phone(hall, old.ticket, old.id6, device=old.device).connect()
    r = p.call("resume", {"session": old.session, "device": old.device})
    assert r["ok"], r
    p.session, p.seq = old.session, old.seq
    return p


def _storage(ack) -> bool:
    if ack.get("ok"):
        return False
    assert ack["error"]["code"] == "storage", ack
    assert ack["error"]["message"] == MESSAGES["storage"]
    return True


def _exercise(hall: FaultHall, plan: dict, inject, clear, label: str) -> dict:
    """The shared scenario; returns counts for the report."""
    A, B, C, D = plan["candidates"][:4]
    sitting = A["sitting_id"]
    pa, pb, pc = _phone(hall, A), _phone(hall, B), _phone(hall, C)
    for p, c in ((pa, A), (pb, B), (pc, C)):
        assert p.login(sitting)["ok"]
    for p in (pa, pb):
        assert p.call("confirm")["ok"]
    hall.start_sitting(sitting)
    for p in (pa, pb):
        assert p.call("open")["ok"]
    acked = {}
    for q in range(1, 6):
        r = pa.answer(q, "ABCD"[q % 4])
        assert r["ok"], r
        acked[(A["ticket"], q)] = (r["choice"], r["seq"])
    r = pb.answer(1, "B")
    acked[(B["ticket"], 1)] = (r["choice"], r["seq"])
    assert hall.health()["fault"] is None

    inject()

    # The phone is told, with the documented code and message; nothing is half-saved.
    tries, failed = 0, None
    for q in range(6, 11):
        tries += 1
        r = pa.answer(q, "A")
        if _storage(r):
            failed = (q, "A", pa.seq)
            break
        acked[(A["ticket"], q)] = (r["choice"], r["seq"])  # the write raced the fault in: it is acked
    assert failed, f"{label}: no write failed after the fault was injected"
    fault = hall.health()["fault"]
    assert fault and "写入失败" in fault, fault
    # Retrying during the fault keeps failing the same way (the phone keeps it queued).
    assert _storage(pa.call("answer", {"q": failed[0], "choice": failed[1], "seq": failed[2]}))
    # A second answer that the phone gives up on (e.g. the candidate changes it again
    # after the fault): it must not appear anywhere.
    never = pa.seq + 1
    assert _storage(pa.call("answer", {"q": 10 if failed[0] != 10 else 9, "choice": "D", "seq": never}))
    pa.seq = never
    # Every kind of write is refused the same way; reads keep working.
    assert _storage(pb.call("submit", {"answers": {"2": ["C", 50]}}))
    assert _storage(pc.call("confirm"))
    assert _storage(_phone(hall, D).login(sitting))
    assert _storage(pa.call("focus", {"hidden": True, "ms": 10}))
    s = pa.call("sync")
    assert s["ok"] and s["state"]["status"] == "answering"
    assert s["answers"] == {str(q): list(v) for (t, q), v in acked.items() if t == A["ticket"]}  # no phantom
    sb = pb.call("sync")
    assert sb["state"]["status"] == "answering" and sb["state"]["receipt"] is None and "2" not in sb["answers"]
    assert pc.call("sync")["state"]["status"] == "logged_in"
    assert hall.health()["fault"]

    restarted = clear()
    if restarted:
        pa, pb, pc = _resume(hall, pa), _resume(hall, pb), _resume(hall, pc)

    # The phone retries its queued answer: saved now.
    r = pa.call("answer", {"q": failed[0], "choice": failed[1], "seq": failed[2]})
    assert r["ok"] and r["seq"] == failed[2], r
    acked[(A["ticket"], failed[0])] = (r["choice"], r["seq"])
    assert hall.health()["fault"] is None
    rb = pb.call("submit", {"answers": {"2": ["C", 50]}})
    assert rb["ok"] and rb["receipt"], rb
    acked[(B["ticket"], 2)] = ("C", 50)
    assert pc.call("confirm")["ok"]
    pd = _phone(hall, D)
    assert pd.login(sitting)["ok"]

    # Pull the plug and come back: everything acknowledged is there, nothing else is.
    for p in (pa, pb, pc, pd):
        p.close()
    hall.kill()
    hall.start()
    assert not acked_lost(hall, acked)
    with hall.db() as db:
        rows = {(t, q): (c, s) for t, q, c, s in db.execute("SELECT ticket, q, choice, seq FROM answers")}
        assert rows == acked, (label, rows, acked)
        assert not db.execute("SELECT 1 FROM answer_log WHERE seq = ?", (never,)).fetchall()
        st = {t: s for t, s in db.execute("SELECT ticket, status FROM attempts")}
        assert st == {A["ticket"]: "answering", B["ticket"]: "submitted", C["ticket"]: "confirmed",
                      D["ticket"]: "logged_in"}
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        from contracts.audit_chain import verify_chain

        audit = db.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
        assert verify_chain(audit) == (True, None)
    return {"acked": len(acked), "tries_until_fault": tries}


def test_disk_full_by_file_size_limit(tmp_path):
    plan = fast_plan(**PLAN)
    hall = FaultHall(tmp_path / "h", plan).start()
    try:
        def inject():
            hall.limit_file_size(4096)  # every append to the WAL now fails with EFBIG

        def clear():
            hall.unlimit_file_size()
            return False

        print("\nrlimit:", _exercise(hall, plan, inject, clear, "rlimit"))
    finally:
        hall.stop()


@pytest.mark.skipif(Tmpfs.why_not() is not None, reason=f"real full disk: {Tmpfs.why_not()}")
def test_disk_full_on_a_real_small_filesystem(tmp_path):
    plan = fast_plan(**PLAN)
    with Tmpfs(tmp_path / "mnt", size="8m") as fs:
        # With the checkpointer on, a full disk is often only a passing fault: once a
        # checkpoint completes, the next commit rewrites the WAL from its start and needs no
        # new space (seen here: the retried answer was saved, durably, with the disk still
        # full). This test needs the fault to last until it is cleared: SQLite's own
        # checkpoints, which only run inside a commit that can no longer happen.
        hall = FaultHall(fs.path / "h", plan, config_extra="[writer]\ncheckpoint_seconds = 0\n").start()
        filler = []
        try:
            def inject():
                filler.append(fs.fill())

            def clear():
                filler[0].unlink()
                return False

            print("\ntmpfs:", _exercise(hall, plan, inject, clear, "tmpfs"))
        finally:
            hall.stop()


@pytest.mark.skipif(LoopExt4.why_not() is not None, reason=f"read-only file system: {LoopExt4.why_not()}")
def test_file_system_turns_read_only(tmp_path):
    plan = fast_plan(**PLAN)
    try:
        fs = LoopExt4(tmp_path / "mnt", tmp_path / "disk.img").__enter__()
    except OSError as e:
        pytest.skip(f"loop mount refused here: {e}")
    hall = FaultHall(fs.path / "h", plan).start()
    os.sync()  # the config and the imported plan were written long before the exam
    try:
        def inject():
            fs.break_fs()
            assert fs.is_readonly()

        def clear():
            # The staff's procedure: stop the server, repair the disk, start again.
            hall.kill()
            fs.repair()
            assert not fs.is_readonly()
            hall.start()
            return True

        print("\next4 read-only:", _exercise(hall, plan, inject, clear, "ext4-ro"))
    finally:
        hall.stop()
        fs.__exit__(None, None, None)
