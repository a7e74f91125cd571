"""Server-scheduled prompts: the phone is told, a photo or a refusal settles the slot, and
a prompt left unanswered past its grace is recorded 抓拍失败 with its time (issue 16)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factories import make_plan  # noqa: E402
from hallproc import HallProcess  # noqa: E402
from proctorkit import astronaut_face, jpeg, logged_in_phone, upload  # noqa: E402

PROCTOR = ("[proctor]\nrandom_captures = 2\nfirst_after_minutes = 0.02\nlast_before_end_minutes = 0.02\n"
           "prompt_grace_seconds = 2\nface_worker = false\n")


@pytest.fixture
def quick_hall(tmp_path):
    h = HallProcess(tmp_path / "hall", make_plan(duration_minutes=0.25, earliest_submit_minutes=0.01),
                    config_extra=PROCTOR).start()
    yield h
    h.stop()


def open_paper(hall):
    phone, c = logged_in_phone(hall)
    hall.start_sitting(c["sitting_id"])
    assert upload(hall, phone.session, jpeg(astronaut_face()), slot=0).status_code == 200
    r = phone.call("open")
    assert r["ok"], r
    return phone, c, r["state"]["opened_at"] / 1000


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def test_unanswered_prompts_are_recorded_as_failed_with_their_time(quick_hall):
    hall = quick_hall
    phone, c, opened = open_paper(hall)
    prompts = wait_for(lambda: [s["camera"]["prompt"] for k, s in phone.pushed
                                if k == "state" and s.get("camera", {}).get("prompt")], 15)
    assert prompts and prompts[0]["slot"] == 1, phone.pushed[-3:]
    assert prompts[0]["until"] - prompts[0]["since"] == 2000

    def missed():
        with hall.db() as db:
            return [dict(r) for r in db.execute("SELECT * FROM captures WHERE status = 'missed' ORDER BY slot")]
    rows = wait_for(lambda: len(missed()) == 2 and missed(), 20)
    assert [r["slot"] for r in rows] == [1, 2]
    for r in rows:
        # the prompt's own time, inside the paper's window (first_after .. end - last_before)
        assert opened + 1.2 - 0.01 <= r["taken_at"] <= opened + 15 - 1.2 + 0.01
        assert r["received_at"] >= r["taken_at"] + 2
    sio = hall.staff_socket()
    try:
        w = sio.call("watch", {"sitting": c["sitting_id"]}, namespace="/staff", timeout=10)
    finally:
        sio.disconnect()
    row = next(x for x in w["candidates"] if x["ticket"] == c["ticket"])
    assert "拍照失败" in row["camera"]["flags"] and row["camera"]["failed"] == 2
    with hall.db() as db:
        assert db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'capture_failed'").fetchone()[0] == 2
    phone.close()


def test_a_photo_or_a_refusal_settles_the_prompt(quick_hall):
    hall = quick_hall
    phone, c, opened = open_paper(hall)
    first = wait_for(lambda: [s["camera"]["prompt"] for k, s in phone.pushed
                              if k == "state" and s.get("camera", {}).get("prompt")], 15)
    assert first
    r = upload(hall, phone.session, jpeg(astronaut_face().rotate(3)), slot=first[0]["slot"])
    assert r.status_code == 200 and r.json()["state"]["camera"]["prompt"] is None
    second = wait_for(lambda: [s["camera"]["prompt"] for k, s in phone.pushed
                               if k == "state" and (s.get("camera") or {}).get("prompt", {}) and
                               s["camera"]["prompt"]["slot"] == 2], 15)
    assert second
    ack = phone.call("capture_failed", {"slot": 2, "reason": "denied"})
    assert ack["ok"] and ack["capture"]["status"] == "refused"
    bad = phone.call("capture_failed", {"slot": 2, "reason": "<script>"})
    assert bad["error"]["code"] == "bad_request"
    # (that nothing more is recorded for either slot once the graces are over:
    # tests/core/test_exam_rules.py, with the real 2-minute grace)
    with hall.db() as db:
        got = [(r["slot"], r["status"]) for r in db.execute("SELECT slot, status FROM captures ORDER BY slot, status")]
    assert got == [(0, "ok"), (1, "ok"), (2, "refused")]
    phone.close()
