"""Exam time does not follow the laptop's wall clock (issue 12 item 5).

The server runs under libfaketime (Debian's `faketime`), which shifts what the process reads
as the wall clock (CLOCK_REALTIME) by the offset in a file we rewrite while it runs: what
NTP does when the laptop meets a network, or a person fixing the clock. The clocks that
never step (CLOCK_MONOTONIC, CLOCK_BOOTTIME) are left alone, as the kernel leaves them.
"""
from __future__ import annotations

import time
from pathlib import Path

import requests

from factories import fast_plan
from hallproc import HallProcess, Phone
from hall_server.exam.clock import ExamClock, ManualClock

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def faked(offset_file: Path) -> dict:
    assert LIBFAKETIME.exists(), "apt package faketime (Makefile APT_PACKAGES) is missing"
    offset_file.write_text("+0\n")
    return {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME_TIMESTAMP_FILE": str(offset_file),
            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def step_wall(offset_file: Path, seconds: int) -> None:
    offset_file.write_text(f"{seconds:+d}\n")


def test_a_wall_clock_step_changes_no_deadline_and_alerts_the_console(tmp_path):
    plan = fast_plan(duration_minutes=30, earliest_submit_minutes=0.01)
    offset = tmp_path / "faketime"
    env = faked(offset)
    hall = HallProcess(tmp_path / "h", plan).start(env=env)
    try:
        c = plan["candidates"][0]
        hall.start_sitting(c["sitting_id"])
        p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
        assert p.login(c["sitting_id"])["ok"] and p.call("confirm")["ok"] and p.call("open")["ok"]
        before = p.call("sync")["state"]
        step_wall(offset, +3600)  # NTP: the laptop was an hour slow
        time.sleep(1.5)           # six time-up sweeps
        after = p.call("sync")
        assert after["state"]["status"] == "answering", after["state"]
        assert after["state"]["deadline"] == before["deadline"]
        assert abs(after["now"] - time.time() * 1000) < 5000  # phones keep exam time
        assert p.answer(1, "A")["ok"]
        health = requests.get(hall.url + "/healthz", timeout=5).json()
        assert "clock" in health["alerts"] and "调快" in health["alerts"]["clock"], health
        page = hall.staff_session().get(hall.url + "/console/", timeout=10).text
        assert "电脑系统时间被调快了 60 分" in page
        step_wall(offset, -3600)  # and back by two hours in all: no time is handed out
        time.sleep(0.6)
        assert p.call("sync")["state"]["deadline"] == before["deadline"]
        assert "调慢" in requests.get(hall.url + "/healthz", timeout=5).json()["alerts"]["clock"]
        # A restart in the same boot keeps exam time, whatever the wall says now.
        hall.stop()
        hall.start(env=env)
        p2 = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
        assert p2.login(c["sitting_id"])["ok"]
        st = p2.call("sync")
        assert st["state"]["status"] == "answering" and abs(st["now"] - time.time() * 1000) < 5000
        p2.close()
    finally:
        hall.stop()
    with hall.db() as db:
        times = [r[0] for r in db.execute("SELECT ts FROM audit_log ORDER BY id")]
    assert max(times) < time.time() + 5  # nothing stamped an hour ahead


def test_with_no_sitting_running_exam_time_follows_the_wall_again(tmp_path):
    offset = tmp_path / "faketime"
    hall = HallProcess(tmp_path / "h", fast_plan()).start(env=faked(offset))
    try:
        step_wall(offset, +7200)  # the laptop's clock is fixed before the day starts
        deadline = time.time() + 5
        while time.time() < deadline:
            h = requests.get(hall.url + "/healthz", timeout=5).json()
            if abs(h["now"] - (time.time() + 7200) * 1000) < 5000:
                break
            time.sleep(0.2)
        assert abs(h["now"] - (time.time() + 7200) * 1000) < 5000 and "clock" not in h["alerts"], h
        with hall.db() as db:
            assert db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'clock_reanchor'").fetchone()[0] == 1
    finally:
        hall.stop()


# -- the clock itself ----------------------------------------------------------------------

def test_exam_clock_ignores_wall_steps_and_reanchors_on_request():
    c = ManualClock(1000.0)
    assert c.now() == 1000.0
    c.advance(10)
    c.step_wall(3600)
    assert c.now() == 1010.0 and c.drift() == 3600
    assert c.reanchor() == 3600 and c.now() == 4610.0 and c.drift() == 0


def test_exam_clock_anchor_is_reused_in_the_same_boot_only():
    walls, elapsed = [5000.0], [100.0]
    wall, el = (lambda: walls[0]), (lambda: elapsed[0])
    first = ExamClock(wall, el)
    meta = first.to_meta("boot-1")
    elapsed[0] += 50
    walls[0] += 50 + 3600  # 50 s later, and someone stepped the wall by an hour
    same_boot = ExamClock.from_meta(meta, "boot-1", wall, el)
    assert same_boot.now() == 5050.0
    assert ExamClock.from_meta(meta, "boot-2", wall, el).now() == walls[0]  # rebooted: the wall
    assert ExamClock.from_meta(meta, "", wall, el).now() == walls[0]        # no boot id: the wall
    elapsed[0] = 10.0  # an elapsed clock behind its anchor is another boot, whatever the id says
    assert ExamClock.from_meta(meta, "boot-1", wall, el).now() == walls[0]
