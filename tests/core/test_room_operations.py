"""Running a room (issue: room operations) against the real server: device approval,
latecomers, extra time, pause/resume, violations, incidents, paper fallback, and the audit
chain. The timing rules behind them (缺考 at the late-entry limit, what a pause or extra
time does to every deadline) are tested in-process with the real minutes:
test_exam_rules.py."""
import sqlite3
import subprocess
import sys
import time

import pytest

from factories import fast_plan
from hallproc import REPO, HallProcess, Phone

S1 = "D1S1-R01"


@pytest.fixture
def room(tmp_path):
    plan = fast_plan(duration_minutes=5)
    hall = HallProcess(tmp_path / "h", plan).start()
    staff = hall.staff_socket()
    pushed = []
    staff.on("candidate", lambda d: pushed.append(d), namespace="/staff")
    staff.on("fault", lambda d: pushed.append(("fault", d)), namespace="/staff")
    assert staff.call("watch", {"sitting": S1}, namespace="/staff")["ok"]
    yield hall, plan, staff, pushed
    staff.disconnect()
    hall.stop()


def act(staff, event, **payload):
    return staff.call(event, {"sitting": S1, **payload}, namespace="/staff", timeout=10)


def phone_for(hall, plan, i, device=None):
    c = [c for c in plan["candidates"] if c["sitting_id"] == S1][i]
    return Phone(hall, c["ticket"], c["id_number"][-6:], device=device)


def answering(hall, plan, i, staff):
    p = phone_for(hall, plan, i).connect()
    assert p.login(S1)["ok"] and p.call("confirm")["ok"]
    r = p.call("open")
    if not r["ok"] and r["error"]["code"] == "not_started":
        assert act(staff, "start_sitting", confirm_date=True)["ok"]
        r = p.call("open")
    assert r["ok"], r
    return p


def test_device_change_waits_for_approval_then_continues_with_all_answers(room):
    hall, plan, staff, pushed = room
    old = answering(hall, plan, 0, staff)
    assert old.answer(1, "A")["ok"] and old.answer(2, "B")["ok"]
    new = phone_for(hall, plan, 0, device="new-phone").connect()
    approved = []
    new.sio.on("approved", lambda d: approved.append(d))
    r = new.login(S1)
    assert r["error"]["code"] == "awaiting_approval"
    assert old.answer(3, "C")["ok"]  # the old phone keeps working until approval
    time.sleep(0.2)
    assert any(isinstance(d, dict) and d.get("ticket") == old.ticket and d["pending_device"] for d in pushed)
    r = act(staff, "approve_device", ticket=old.ticket)
    assert r["ok"], r
    time.sleep(0.3)
    assert approved and approved[0]["state"]["status"] == "answering"
    assert ("replaced", {}) in old.pushed
    assert old.answer(4, "D")["error"]["code"] == "not_logged_in"
    assert old.call("resume", {"session": old.session, "device": old.device})["error"]["code"] == "replaced"
    new.session = approved[0]["session"]
    assert new.call("sync")["answers"] == {"1": ["A", 1], "2": ["B", 2], "3": ["C", 3]}
    new.seq = 3
    assert new.answer(4, "D")["ok"]
    assert act(staff, "approve_device", ticket=old.ticket)["error"]["code"] == "bad_state"
    with hall.db() as db:
        assert db.execute("SELECT device_changes FROM attempts WHERE ticket=?", (old.ticket,)).fetchone()[0] == 1
        actors = [r[0] for r in db.execute("SELECT actor FROM audit_log WHERE action='approve_device'")]
    assert actors == ["staff:chief"]


def test_latecomer_admitted_with_reason_from_the_console(room):
    """The console's 准许迟到入场 over the socket lets a candidate in; 缺考 at the limit and
    the refusal without it: test_exam_rules.py."""
    hall, plan, staff, pushed = room
    answering(hall, plan, 0, staff)  # starts the sitting
    late = phone_for(hall, plan, 1)
    assert act(staff, "admit_late", ticket=late.ticket, reason="")["error"]["code"] == "bad_request"
    r = act(staff, "admit_late", ticket=late.ticket, reason="交通管制，有证明")
    assert r["ok"] and r["sitting"]["sitting_id"] == S1
    late.connect()
    assert late.login(S1)["ok"] and late.call("confirm")["ok"]
    assert late.call("open")["ok"]
    with hall.db() as db:
        a = db.execute("SELECT status, late_reason FROM attempts WHERE ticket=?", (late.ticket,)).fetchone()
    assert tuple(a) == ("answering", "交通管制，有证明")


def test_extra_time_and_pause_move_every_deadline(room):
    hall, plan, staff, pushed = room
    a, b = answering(hall, plan, 0, staff), answering(hall, plan, 1, staff)
    d0 = {p.ticket: p.call("sync")["state"]["deadline"] for p in (a, b)}
    assert act(staff, "extra_time", ticket=a.ticket, minutes=2, reason="系统故障，手机掉线")["ok"]
    assert act(staff, "extra_time", ticket=a.ticket, minutes=2, reason="")["error"]["code"] == "bad_request"
    assert act(staff, "extra_time", ticket=a.ticket, minutes=-5, reason="x")["error"]["code"] == "bad_request"
    d1 = {p.ticket: p.call("sync")["state"]["deadline"] for p in (a, b)}
    assert d1[a.ticket] - d0[a.ticket] == 120_000 and d1[b.ticket] == d0[b.ticket]
    assert act(staff, "pause", reason="停电")["ok"]
    assert a.answer(1, "A")["error"]["code"] == "paused"
    assert act(staff, "resume")["ok"]
    d2 = {p.ticket: p.call("sync")["state"]["deadline"] for p in (a, b)}
    assert a.answer(1, "A")["ok"]
    with hall.db() as db:
        rows = db.execute("SELECT kind, seconds, reason FROM time_adjustments ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["extra", "pause"] and rows[1][1] > 0
    for t in d2:  # every deadline moved by exactly the pause's length (a 40-minute one: test_exam_rules.py)
        assert abs((d2[t] - d1[t]) - rows[1][1] * 1000) <= 2, (d2[t] - d1[t], rows[1][1])


def test_cheating_terminates_and_minor_violation_warns(room):
    hall, plan, staff, pushed = room
    a, b = answering(hall, plan, 0, staff), answering(hall, plan, 1, staff)
    assert a.answer(1, "A")["ok"]
    assert act(staff, "violation", ticket=b.ticket, level="minor", facts="交头接耳，已警告")["ok"]
    assert b.answer(1, "B")["ok"]  # a warning does not stop the exam
    assert act(staff, "violation", ticket=a.ticket, level="cheating", facts="切出考试页面搜索答案")["ok"]
    time.sleep(0.3)
    assert any(ev == "state" and d["status"] == "terminated" for ev, d in a.pushed)
    assert a.answer(2, "B")["error"]["code"] == "submitted"
    assert act(staff, "violation", ticket=b.ticket, level="bogus", facts="x")["error"]["code"] == "bad_request"
    assert act(staff, "incident", kind="power", text="9:40 停电 6 分钟，已恢复")["ok"]
    with hall.db() as db:
        st = db.execute("SELECT status, submit_reason, receipt FROM attempts WHERE ticket=?", (a.ticket,)).fetchone()
        v = db.execute("SELECT ticket, level FROM violations ORDER BY id").fetchall()
        inc = db.execute("SELECT kind, text FROM incidents").fetchall()
    assert st["status"] == "terminated" and st["submit_reason"] == "terminated" and st["receipt"]
    assert [tuple(r) for r in v] == [(b.ticket, "minor"), (a.ticket, "cheating")]
    assert [tuple(r) for r in inc] == [("power", "9:40 停电 6 分钟，已恢复")]


def test_paper_fallback_double_entry(room):
    hall, plan, staff, pushed = room
    act(staff, "start_sitting", confirm_date=True)
    p = phone_for(hall, plan, 2)
    key = plan["keys"][p.ticket]
    first = "".join(key[:-1]) + "-"
    second = "".join(key[:-2]) + ("A" if key[-2] != "A" else "B") + "-"
    r = act(staff, "paper_entry", ticket=p.ticket, **{"pass": 1, "answers": first})
    assert r["ok"] and not r["entry"]["complete"]
    r = act(staff, "paper_entry", ticket=p.ticket, **{"pass": 2, "answers": second})
    assert r["ok"] and r["entry"]["mismatches"] == [len(key) - 1] and not r["entry"]["complete"]
    assert act(staff, "paper_entry", ticket=p.ticket, **{"pass": 2, "answers": "AB"})["error"]["code"] == "bad_request"
    r = act(staff, "paper_entry", ticket=p.ticket, **{"pass": 2, "answers": first})
    assert r["ok"] and r["entry"]["complete"]
    with hall.db() as db:
        a = db.execute("SELECT status, mode, score, answered FROM attempts WHERE ticket=?", (p.ticket,)).fetchone()
    assert tuple(a) == ("submitted", "paper", len(key) - 1, len(key) - 1)


def test_audit_chain_verifies_and_names_the_first_tampered_entry(room):
    hall, plan, staff, pushed = room
    a = answering(hall, plan, 0, staff)
    act(staff, "violation", ticket=a.ticket, level="minor", facts="未按座位就座")
    hall.stop()
    cmd = [sys.executable, "-m", "hall_server", "--config", str(hall.config_path), "audit", "verify"]
    ok = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0 and "审计链完整" in ok.stdout
    conn = sqlite3.connect(hall.data_dir / "hall.db")
    n = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    assert n >= 5
    conn.execute("UPDATE audit_log SET data = replace(data, '未按座位就座', '无') WHERE action = 'violation'")
    bad_id = conn.execute("SELECT id FROM audit_log WHERE action='violation'").fetchone()[0]
    conn.commit()
    conn.close()
    bad = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 1 and f"第 {bad_id} 条" in bad.stderr
    hall.start()


def test_console_sees_answer_progress_batched_per_room(room):
    """Answers reach the console as one small `progress` event per room per sweep, with the
    answered count kept right through changes of mind (including back to blank)."""
    hall, plan, staff, pushed = room
    progress = []
    staff.on("progress", lambda d: progress.append(d), namespace="/staff")
    a, b = answering(hall, plan, 0, staff), answering(hall, plan, 1, staff)
    for q in (1, 2, 3):
        assert a.answer(q, "A")["ok"]
    assert a.answer(2, "B")["ok"]      # a change of mind: still 3 answered
    assert a.answer(3, None)["ok"]     # back to blank: 2 answered
    assert b.answer(1, "C")["ok"]
    latest = {}
    deadline = time.time() + 5
    while time.time() < deadline and (latest.get(a.ticket, [None, None])[1] != 2 or b.ticket not in latest):
        time.sleep(0.05)
        for d in progress:
            for row in d["rows"]:
                latest[row[0]] = row
    assert latest[a.ticket][1] == 2 and latest[b.ticket][1] == 1
    assert latest[a.ticket][2] is not None  # last answer time, for the "minutes without answering" cell
    assert all(d["sitting"] == S1 for d in progress)
    assert len(progress) < 6, "six answers should arrive in fewer events than answers (batched per sweep)"
    # The count agrees with the full row the console gets on (re)watch.
    r = staff.call("watch", {"sitting": S1}, namespace="/staff")
    row = [c for c in r["candidates"] if c["ticket"] == a.ticket][0]
    assert row["answered"] == 2
