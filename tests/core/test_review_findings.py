"""What an independent review broke (issue 12), each reproduced through the real server.

Each test speaks only the protocol, so it runs against any version of the server; the
closing note of issue 12 says which of them fail on 95b5123 and how.
"""
from __future__ import annotations


import sqlite3
import threading
import time

import pytest

from factories import fast_plan, make_plan
from hallproc import HallProcess, Phone, RawSio


def cand(plan, i, room=1):
    cs = [c for c in plan["candidates"] if c["sitting_id"] == f"D1S1-R{room:02d}"]
    return cs[i]


def answering(hall, c, device=None) -> Phone:
    p = Phone(hall, c["ticket"], c["id_number"][-6:], device).connect()
    assert p.login(c["sitting_id"])["ok"]
    assert p.call("confirm")["ok"]
    assert p.call("open")["ok"]
    return p


def db_answers(hall, ticket) -> dict:
    with hall.db() as db:
        return {str(q): [c, s] for q, c, s in db.execute(
            "SELECT q, choice, seq FROM answers WHERE ticket = ? ORDER BY q", (ticket,))}


# -- 1. a submit in the same writer batch as the end of the sitting ----------------------

RACE_ROOMS, RACE_PHONES = 20, 50


@pytest.fixture(scope="module")
def race_hall(tmp_path_factory):
    # earliest submit at opening: the race needs submits, not the rule (test_exam_rules.py)
    plan = make_plan(candidates_per_room=RACE_PHONES, rooms=RACE_ROOMS, questions=8,
                     earliest_submit_minutes=0)
    h = HallProcess(tmp_path_factory.mktemp("race"), plan).start()
    yield h, plan
    h.stop()


def _pipe(phones, make) -> list[int]:
    """Send one event per phone without waiting: they reach the server together."""
    return [p.emit(*make(i, p)) for i, p in enumerate(phones)]


@pytest.mark.parametrize("rep", range(RACE_ROOMS))
def test_submits_racing_the_end_of_the_sitting_ack_only_what_was_sealed(race_hall, rep):
    """50 phones with answers queued submit while the console ends the sitting, over real
    sockets; every ack must agree with the database (20 rooms: 20 repetitions)."""
    hall, plan = race_hall
    sitting = f"D1S1-R{rep + 1:02d}"
    cs = [c for c in plan["candidates"] if c["sitting_id"] == sitting]
    assert hall.start_sitting(sitting)["ok"]
    token = hall.qr_token(sitting)
    phones = [RawSio(hall.url, source=f"127.{rep + 1}.{i // 200}.{i % 200 + 1}") for i in range(len(cs))]
    staff = hall.staff_socket()
    try:
        for ev, make in (("login", lambda i, p: ("login", {"token": token, "ticket": cs[i]["ticket"],
                                                          "id6": cs[i]["id_number"][-6:], "device": f"d{i}"})),
                         ("confirm", lambda i, p: ("confirm", {})), ("open", lambda i, p: ("open", {}))):
            ids = _pipe(phones, make)
            assert all(p.ack(a, timeout=20)["ok"] for p, a in zip(phones, ids)), ev
        ids = _pipe(phones, lambda i, p: ("answer", {"q": 1, "choice": "A", "seq": 1}))
        assert all(p.ack(a, timeout=20)["ok"] for p, a in zip(phones, ids))
        # The race: each phone has two answers in flight and submits carrying four more,
        # while the console ends the sitting.
        # The end of the sitting leaves a little later in each room (0 to 29 ms after the
        # phones start sending), so that over the 20 rooms it lands before, among and after
        # the submits: in the same writer batches as some of them.
        end = threading.Timer(rep * 0.0015, lambda: staff.call("end_sitting", {"sitting": sitting},
                                                                namespace="/staff", timeout=30))
        answer_ids, submit_ids = [], []
        end.start()
        for i, p in enumerate(phones):
            answer_ids.append([p.emit("answer", {"q": q, "choice": "B", "seq": q}) for q in (2, 3)])
            submit_ids.append(p.emit("submit", {"answers": {str(q): ["C", q] for q in range(4, 8)}}))
        end.join(30)
        acks = [([p.ack(a, timeout=30) for a in ans], p.ack(s, timeout=30))
                for p, ans, s in zip(phones, answer_ids, submit_ids)]
        synced = [p.call("sync", timeout=20) for p in phones]
    finally:
        for p in phones:
            p.close()
        staff.disconnect()
    with hall.db() as db:
        rows = {r["ticket"]: dict(r) for r in db.execute("SELECT * FROM attempts WHERE sitting_id = ?", (sitting,))}
    sealed_early = 0
    for c, (answer_acks, submit), sync in zip(cs, acks, synced):
        t = c["ticket"]
        stored = db_answers(hall, t)
        a = rows[t]
        assert a["status"] == "submitted", a
        for ack in answer_acks:  # an acknowledged answer is in the database
            assert ack is not None
            if ack["ok"]:
                assert stored[str(ack["q"])] == [ack["choice"], ack["seq"]], (t, ack, stored)
        assert submit is not None and submit["ok"], submit
        # The ack claims exactly what was sealed.
        assert submit["receipt"] == a["receipt"] and submit["answered"] == a["answered"], (t, submit, a)
        assert submit["answered"] == sum(1 for c_, _ in stored.values() if c_ is not None)
        # What the phone is told is saved is what the database holds.
        assert sync["ok"] and sync["answers"] == stored, (t, sync["answers"], stored)
        sealed_early += a["submit_reason"] == "staff"
    print(f"room {rep + 1}: {sealed_early} of {len(cs)} submits arrived after the end of the sitting")


# -- 2. an equal seq with another choice: one rule ------------------------------------------

def test_an_equal_seq_never_changes_the_stored_answer_anywhere(tmp_path):
    plan = fast_plan(earliest_submit_minutes=0)  # submit at once
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        c = cand(plan, 0)
        hall.start_sitting(c["sitting_id"])
        p = answering(hall, c)
        assert p.call("answer", {"q": 1, "choice": "A", "seq": 5})["ok"]
        r = p.call("answer", {"q": 1, "choice": "B", "seq": 5})
        assert r["ok"] and (r["choice"], r["seq"]) == ("A", 5)  # the ack says what is stored
        s = p.call("submit", {"answers": {"1": ["B", 5], "2": ["C", 6]}})
        assert s["ok"], s
        stored = db_answers(hall, c["ticket"])
        assert stored == {"1": ["A", 5], "2": ["C", 6]}
        assert p.call("sync")["answers"] == stored  # the mirror keeps what the database keeps
        assert s["answered"] == 2
    finally:
        hall.stop()


# -- 3. a writer call that times out and commits later --------------------------------------

def test_a_call_that_times_out_and_commits_later_is_mirrored(tmp_path):
    plan = fast_plan(earliest_submit_minutes=0)  # submit at once
    hall = HallProcess(tmp_path / "h", plan, config_extra="[writer]\ncall_timeout_seconds = 0.5\n").start()
    try:
        c = cand(plan, 0)
        hall.start_sitting(c["sitting_id"])
        p = answering(hall, c)
        assert p.answer(1, "A")["ok"]
        lock = sqlite3.connect(hall.data_dir / "hall.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the disk stalls: the writer waits for the lock
        try:
            r = p.call("submit", {"answers": {"2": ["B", 2]}}, timeout=15)
            assert not r["ok"] and r["error"]["code"] == "storage", r
        finally:
            time.sleep(1.0)
            lock.execute("ROLLBACK")
            lock.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            with hall.db() as db:
                status = db.execute("SELECT status FROM attempts WHERE ticket = ?", (c["ticket"],)).fetchone()[0]
            if status == "submitted":
                break
            time.sleep(0.1)
        assert status == "submitted"  # the timed-out submit did commit
        # ... and the phone and the console see it, with what the database sealed.
        sync = p.call("sync")
        assert sync["state"]["status"] == "submitted" and sync["answers"] == db_answers(hall, c["ticket"])
        again = p.call("submit", {"answers": {"3": ["C", 3]}})
        assert again["ok"] and again["answered"] == 2 and "3" not in db_answers(hall, c["ticket"])
        staff = hall.staff_socket()
        try:
            w = staff.call("watch", {"sitting": c["sitting_id"]}, namespace="/staff")
            row = next(r for r in w["candidates"] if r["ticket"] == c["ticket"])
            assert row["status"] == "submitted" and row["answered"] == 2
        finally:
            staff.disconnect()
    finally:
        hall.stop()


# -- 4. earliest submit counts exam time run, not time since opening -------------------------
# The rule's detail (a 20-minute pause on the real 15-minute earliest submit) is in-process:
# test_exam_rules.py::test_a_room_pause_moves_the_earliest_submit. This one proves the wire:
# the real server's submit, its refusal and the phone's state agree on the pause-moved time.

def test_a_room_pause_moves_the_earliest_submit(tmp_path):
    plan = fast_plan(earliest_submit_minutes=0.05, duration_minutes=5)  # 3 s
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        c = cand(plan, 0)
        hall.start_sitting(c["sitting_id"])
        p = answering(hall, c)
        opened = p.call("sync")["state"]["opened_at"]
        staff = hall.staff_socket()
        try:
            assert staff.call("pause", {"sitting": c["sitting_id"], "reason": "停电"}, namespace="/staff")["ok"]
            time.sleep(3.5)
            assert staff.call("resume", {"sitting": c["sitting_id"]}, namespace="/staff")["ok"]
        finally:
            staff.disconnect()
        # 3.5 s after opening, but well under 3 s of exam time run: not yet.
        r = p.call("submit", {})
        assert not r["ok"] and r["error"]["code"] == "too_early", r
        assert r["error"]["earliest_submit"] >= opened + 3000 + 3000
        assert p.call("sync")["state"]["earliest_submit"] == r["error"]["earliest_submit"]
        time.sleep(max(0.0, (r["error"]["earliest_submit"] - r["now"]) / 1000) + 0.3)
        assert p.call("submit", {})["ok"]
    finally:
        hall.stop()


# -- 8. another room's QR cannot lock a candidate out ---------------------------------------

def test_wrong_tries_from_another_phone_do_not_lock_the_candidate_out(tmp_path):
    plan = make_plan(candidates_per_room=4)
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        victim = cand(plan, 0, room=1)
        other_token, own_token = hall.qr_token("D1S1-R02"), hall.qr_token("D1S1-R01")
        attacker = RawSio(hall.url, source="127.0.9.1")
        try:
            # Another room's QR: refused for the room before the digits are looked at.
            for i in range(6):
                r = attacker.call("login", {"token": other_token, "ticket": victim["ticket"], "id6": f"{i:06d}",
                                            "device": "x"})
                assert r["error"]["code"] in ("wrong_room", "rate_limited"), r
            # The right room's QR, wrong digits: only the attacker's phone is slowed down.
            for i in range(6):
                r = attacker.call("login", {"token": own_token, "ticket": victim["ticket"], "id6": f"9{i:05d}",
                                            "device": "x"})
                assert r["error"]["code"] in ("bad_credentials", "rate_limited"), r
        finally:
            attacker.close()
        me = RawSio(hall.url, source="127.0.9.2")
        try:
            r = me.call("login", {"token": own_token, "ticket": victim["ticket"], "id6": victim["id_number"][-6:],
                                  "device": "mine"})
            assert r["ok"], r
        finally:
            me.close()
    finally:
        hall.stop()


def test_a_ticket_locked_by_guesses_from_many_phones_is_unlocked_from_the_console(tmp_path):
    plan = make_plan(candidates_per_room=4)
    hall = HallProcess(tmp_path / "h", plan,
                       config_extra="[security]\nlogin_max_failures_per_ticket = 8\n").start()
    try:
        victim = cand(plan, 1, room=1)
        token = hall.qr_token("D1S1-R01")
        for i in range(8):  # eight phones, one wrong guess each: the ticket locks
            conn = RawSio(hall.url, source=f"127.0.8.{i + 1}")
            try:
                conn.call("login", {"token": token, "ticket": victim["ticket"], "id6": f"{i:06d}", "device": "x"})
            finally:
                conn.close()
        me = RawSio(hall.url, source="127.0.8.100")
        try:
            login = {"token": token, "ticket": victim["ticket"], "id6": victim["id_number"][-6:], "device": "mine"}
            assert me.call("login", login)["error"]["code"] == "rate_limited"
            staff = hall.staff_socket()
            try:
                w = staff.call("watch", {"sitting": "D1S1-R01"}, namespace="/staff")
                row = next(r for r in w["candidates"] if r["ticket"] == victim["ticket"])
                assert row["login_locked_s"] > 0  # the console shows the lock
                r = staff.call("unlock_login", {"sitting": "D1S1-R01", "ticket": victim["ticket"]}, namespace="/staff")
                assert r["ok"], r
            finally:
                staff.disconnect()
            assert me.call("login", login)["ok"]
        finally:
            me.close()
        with hall.db() as db:
            assert db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'unlock_login' AND ticket = ?",
                              (victim["ticket"],)).fetchone()[0] == 1
    finally:
        hall.stop()


# -- 12. two consoles start the same sealed sitting -----------------------------------------

def test_two_consoles_starting_a_sealed_sitting_both_succeed(tmp_path):
    import subprocess
    import sys

    from hallproc import REPO
    from contracts.keys import CENTRAL_PRIVATE, CENTRAL_PUBLIC, keygen
    from provisioning.provision import seal_plan

    keygen(tmp_path / "keys")
    plan = make_plan(candidates_per_room=4)
    bundle = tmp_path / "site_001.hallbundle"
    _, codes = seal_plan(plan, tmp_path / "keys" / CENTRAL_PRIVATE, bundle)
    r = subprocess.run([sys.executable, "-m", "hall_server", "import", str(bundle), "--central-key",
                        str(tmp_path / "keys" / CENTRAL_PUBLIC), "--data-dir", str(tmp_path / "h"), "--site-no", "1"],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        a, b = hall.staff_socket(), hall.staff_socket()
        out = [None, None]

        def start(i, sio):
            out[i] = sio.call("start_sitting", {"sitting": "D1S1-R01", "release_code": codes["D1S1-R01"],
                                                "confirm_date": True}, namespace="/staff", timeout=30)

        ts = [threading.Thread(target=start, args=(i, s)) for i, s in enumerate((a, b))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert all(o and o["ok"] and o["sitting"]["status"] == "started" for o in out), out
        with hall.db() as db:
            assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 4
            assert db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'start_sitting'").fetchone()[0] == 1
        a.disconnect()
        b.disconnect()
    finally:
        hall.stop()


# -- 13. two devices logging in at the same instant --------------------------------------------

def test_two_phones_logging_in_at_once_still_need_approval(tmp_path):
    plan = make_plan(candidates_per_room=10)
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        token = hall.qr_token("D1S1-R01")
        outcomes = []
        for i in range(10):
            c = cand(plan, i)
            one, two = RawSio(hall.url, source="127.0.7.1"), RawSio(hall.url, source="127.0.7.2")
            try:
                login = {"token": token, "ticket": c["ticket"], "id6": c["id_number"][-6:]}
                a1 = one.emit("login", {**login, "device": "phone-1"})
                a2 = two.emit("login", {**login, "device": "phone-2"})
                r1, r2 = one.ack(a1, timeout=10), two.ack(a2, timeout=10)
            finally:
                one.close()
                two.close()
            codes = sorted("ok" if r["ok"] else r["error"]["code"] for r in (r1, r2))
            outcomes.append(codes)
        assert all(c == ["awaiting_approval", "ok"] for c in outcomes), outcomes
        with hall.db() as db:
            assert db.execute("SELECT COUNT(*) FROM device_events WHERE kind = 'takeover'").fetchone()[0] == 0
            assert db.execute("SELECT SUM(device_changes) FROM attempts").fetchone()[0] == 0
    finally:
        hall.stop()



