"""The console shows a storage fault loudly, and a deadline that passes during one.

- The /staff namespace gets a `fault` push with the message when the writer fails and
  `{"fault": null}` when it recovers; /healthz says the same.
- A console that connects (or reloads) while the fault is on must learn about it too.
- Time-up while the disk is failing: the sweep keeps retrying and, once the disk is back,
  seals the attempt at its deadline with exactly the acknowledged answers.
"""
from __future__ import annotations

import threading
import time

import pytest
import socketio

from factories import fast_plan
from faultkit import FaultHall, acked_lost
from hallproc import Phone


def _answering(hall, c) -> Phone:
    p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
    assert p.login(c["sitting_id"])["ok"] and p.call("confirm")["ok"]
    return p


class Console:
    """A staff socket that records the `fault` pushes it receives."""

    def __init__(self, hall):
        self.faults: list = []
        self.got = threading.Event()
        self.sio: socketio.Client = socketio.Client(reconnection=False)
        self.sio.on("fault", self._on, namespace="/staff")
        http = hall.staff_session()
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        self.sio.connect(hall.url, namespaces=["/staff"], headers={"Cookie": cookie}, transports=["websocket"],
                         wait_timeout=10)
        self.watch = self.sio.call("watch", {"sitting": "D1S1-R01"}, namespace="/staff", timeout=10)

    def _on(self, d):
        self.faults.append(d)
        self.got.set()

    def wait_for(self, pred, timeout: float = 4) -> bool:
        end = time.time() + timeout
        while time.time() < end:
            if any(pred(d) for d in self.faults):
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.sio.disconnect()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    plan = fast_plan(candidates_per_room=2, rooms=1, duration_minutes=30, earliest_submit_minutes=0.01)
    hall = FaultHall(tmp_path_factory.mktemp("console") / "h", plan).start()
    yield hall, plan
    hall.stop()


def test_console_gets_the_fault_and_its_end(faulty):
    hall, plan = faulty
    console = Console(hall)
    p = _answering(hall, plan["candidates"][0])
    hall.start_sitting("D1S1-R01")
    assert p.call("open")["ok"] and p.answer(1, "A")["ok"]
    hall.limit_file_size(4096)
    try:
        r = p.answer(2, "B")
        assert r["error"]["code"] == "storage"
        assert console.wait_for(lambda d: d.get("fault")), console.faults
        msg = next(d["fault"] for d in console.faults if d.get("fault"))
        assert "写入失败" in msg and hall.health()["fault"] == msg
    finally:
        hall.unlimit_file_size()
    assert p.call("answer", {"q": 2, "choice": "B", "seq": p.seq})["ok"]
    assert console.wait_for(lambda d: "fault" in d and d["fault"] is None), console.faults
    assert hall.health()["fault"] is None
    console.close()
    p.close()


def test_console_opened_during_the_fault_shows_it(faulty):
    hall, plan = faulty
    p = _answering(hall, plan["candidates"][1])
    hall.start_sitting("D1S1-R01")  # no-op if the test above started it
    assert p.call("open")["ok"]
    hall.limit_file_size(4096)
    try:
        assert p.answer(1, "C")["error"]["code"] == "storage"
        time.sleep(1.5)  # the sweeper has pushed the fault to the consoles that were open
        late = Console(hall)  # the invigilator reloads the page now
        try:
            told = late.wait_for(lambda d: d.get("fault"), timeout=3) or bool(late.watch.get("fault"))
        finally:
            late.close()
    finally:
        hall.unlimit_file_size()
        assert p.call("answer", {"q": 1, "choice": "C", "seq": p.seq})["ok"]
        p.close()
    assert told, "a console opened during the fault was not told about it"


@pytest.fixture(scope="module")
def deadline_during_fault(tmp_path_factory):
    """Open a 4 s paper, save q1, fail the disk, get `storage` for q2 before the deadline,
    keep the disk failing until 2 s after the deadline, then free it."""
    plan = fast_plan(candidates_per_room=1, rooms=1, duration_minutes=4 / 60, earliest_submit_minutes=0.01)
    hall = FaultHall(tmp_path_factory.mktemp("deadline") / "h", plan).start()
    c = plan["candidates"][0]
    p = _answering(hall, c)
    hall.start_sitting(c["sitting_id"])
    r = p.call("open")
    assert r["ok"], r
    deadline = r["state"]["deadline"] / 1000
    a1 = p.answer(1, "A")
    assert a1["ok"]
    hall.limit_file_size(4096)
    a2 = p.answer(2, "B")
    assert a2["error"]["code"] == "storage" and time.time() < deadline - 1
    time.sleep(max(0.0, deadline + 2 - time.time()))
    assert hall.health()["fault"]
    hall.unlimit_file_size()
    # The phone retries its queued answer as soon as the fault clears (it cannot know
    # sooner); the same seq as the refused attempt.
    retry = p.call("answer", {"q": 2, "choice": "B", "seq": p.seq})
    time.sleep(1.5)  # one sweep after recovery
    yield hall, p, {"deadline": deadline, "a1": a1, "retry": retry, "ticket": c["ticket"]}
    p.close()
    hall.stop()


def test_time_up_during_a_fault_is_sealed_when_the_disk_returns(deadline_during_fault):
    hall, p, d = deadline_during_fault
    with hall.db() as db:
        a = db.execute("SELECT status, submit_reason, submitted_at, deadline_at, receipt FROM attempts").fetchone()
    assert a["status"] == "submitted" and a["submit_reason"] == "time_up" and a["receipt"]
    assert a["submitted_at"] == a["deadline_at"]  # sealed at the deadline, not when the disk came back
    assert not acked_lost(hall, {(d["ticket"], 1): (d["a1"]["choice"], d["a1"]["seq"])})
    st = p.call("sync")["state"]
    assert st["status"] == "submitted" and st["receipt"] == a["receipt"]
    assert hall.health()["fault"] is None


def test_answer_refused_for_storage_before_the_deadline_is_kept(deadline_during_fault):
    hall, p, d = deadline_during_fault
    # The retry is acknowledged, or the time-up sweep got there first and sealed the attempt
    # with it (then the phone is told `submitted` and shows the receipt). Either way the
    # answer must be in the sealed attempt.
    r = d["retry"]
    assert r["ok"] or r["error"]["code"] == "submitted", r
    with hall.db() as db:
        assert tuple(db.execute("SELECT choice FROM answers WHERE q = 2").fetchone() or ()) == ("B",)
        rows = db.execute("SELECT q, choice FROM answers ORDER BY q").fetchall()
        sub = db.execute("SELECT data FROM audit_log WHERE action = 'submit'").fetchone()
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps([[q, c] for q, c in rows], separators=(",", ":")).encode()).hexdigest()
    assert json.loads(sub[0])["answers_sha256"] == digest  # the receipt covers it
