"""Nothing acknowledged is ever lost: phones answer, the server is SIGKILLed at random
moments, restarted, and every acknowledged answer must be in the database."""
import os
import random
import threading
import time

import socketio

from factories import fast_plan
from hallproc import HallProcess, Phone, acked_missing, stored_answers

PHONES = 20
ROUNDS = int(os.environ.get("HALL_KILL_ROUNDS", "20"))


class AnsweringPhone(threading.Thread):
    def __init__(self, hall, cand, seq_start, acked, rng_seed):
        super().__init__(daemon=True)
        self.hall, self.cand = hall, cand
        self.acked = acked            # (ticket, q) -> (choice, seq) of the latest ack
        self.seq = seq_start
        self.rng = random.Random(rng_seed)
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        sio = socketio.Client(reconnection=False)
        try:
            sio.connect(self.hall.url, transports=["websocket"], wait_timeout=5)
            r = sio.call("resume", {"session": self.cand["session"], "device": self.cand["device"]}, timeout=5)
            assert r["ok"], r
            while not self.stop.is_set():
                q = self.rng.randint(1, 10)
                choice = self.rng.choice(["A", "B", "C", "D"])
                self.seq += 1
                r = sio.call("answer", {"q": q, "choice": choice, "seq": self.seq}, timeout=1)
                self.sent += 1
                if r.get("ok"):
                    key = (self.cand["ticket"], q)
                    prev = self.acked.get(key)
                    if prev is None or r["seq"] > prev[1]:
                        self.acked[key] = (r["choice"], r["seq"])
        except Exception:
            pass  # the server died under us: exactly what this test is about
        finally:
            try:
                sio.disconnect()
            except Exception:
                pass


def test_sigkill_under_load_loses_no_acknowledged_answer(tmp_path):
    rng = random.Random(int(os.environ.get("HALL_KILL_SEED", "20231104")))
    plan = fast_plan(candidates_per_room=PHONES // 2, duration_minutes=60)
    hall = HallProcess(tmp_path / "h", plan).start()
    cands, deadlines = [], {}
    for c in plan["candidates"]:
        p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
        assert p.login(c["sitting_id"])["ok"]
        assert p.call("confirm")["ok"]
        cands.append({"ticket": c["ticket"], "session": p.session, "device": p.device, "sitting": c["sitting_id"]})
        p.close()
    for sid in {c["sitting"] for c in cands}:
        hall.start_sitting(sid)
    for c in cands:
        p = Phone(hall, c["ticket"], "").connect()
        r = p.call("resume", {"session": c["session"], "device": c["device"]})
        r = p.call("open")
        assert r["ok"], r
        deadlines[c["ticket"]] = r["state"]["deadline"]
        p.close()

    acked: dict = {}
    seq_base = 0
    total_acked = 0
    for round_no in range(ROUNDS):
        phones = [AnsweringPhone(hall, c, seq_base, acked, rng.random()) for c in cands]
        for ph in phones:
            ph.start()
        time.sleep(rng.uniform(0.3, 1.2))
        hall.kill()
        for ph in phones:
            ph.stop.set()
            ph.join(10)
        seq_base = max(ph.seq for ph in phones) + 1
        total_acked = len(acked)
        with hall.db() as db:
            dl = {t: d for t, d in db.execute("SELECT ticket, deadline_at FROM attempts")}
        lost = acked_missing(acked, stored_answers(hall.data_dir / "hall.db"))
        assert not lost, f"round {round_no}: acknowledged answers lost: {lost[:5]}"
        assert {t: int(d * 1000) for t, d in dl.items()} == deadlines
        hall.start()
    hall.stop()
    assert total_acked > PHONES  # the load really ran
    with hall.db() as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
