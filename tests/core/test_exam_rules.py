"""The exam's timing rules with the plan's real numbers, in-process on a manual clock
(tests/inproc.py): a 60-minute paper, earliest submit 15 minutes after opening, late entry
until 10 minutes after the start (make_plan's defaults, contracts/exam.py EXAM_DEFAULTS).
Nothing here sleeps: time passes with `advance`, the background sweep runs with `sweep`.

The same rules through the real server and a phone's socket: test_candidate_protocol.py,
test_room_operations.py (which keep one end-to-end check each of the wire).
"""
from __future__ import annotations

import pytest

from contracts.exam import EXAM_DEFAULTS
from inproc import planned_start, refusal

S1 = "D1S1-R01"
MIN = 60


@pytest.fixture
def site(exam_site):
    """The sitting of room 1 started at its planned time."""
    exam_site.advance(planned_start(exam_site.plan, S1) - exam_site.now())
    exam_site.start(S1)
    return exam_site


def tickets(site, n):
    return [site.candidate(i, S1)["ticket"] for i in range(n)]


def test_the_plan_has_the_real_numbers(exam_site):
    s = exam_site.svc.sittings[S1]
    assert (s["duration_s"], s["earliest_submit_s"], s["late_entry_s"]) == (
        EXAM_DEFAULTS["duration_minutes"] * MIN, EXAM_DEFAULTS["earliest_submit_minutes"] * MIN,
        EXAM_DEFAULTS["late_entry_minutes"] * MIN)


# -- earliest submit -----------------------------------------------------------------------

def test_submit_is_refused_until_15_minutes_after_opening(site):
    t = tickets(site, 1)[0]
    site.advance(minutes=2)
    state = site.sit(t)
    opened = state["opened_at"]
    assert state["deadline"] - opened == 60 * MIN * 1000
    assert state["earliest_submit"] == opened + 15 * MIN * 1000
    key = site.plan["keys"][t]
    for q, k in enumerate(key, start=1):
        assert site.answer(t, q, k, q) == (k, q)
    site.advance(15 * MIN - 1)
    e = refusal(site.submit, t, {})
    assert e.code == "too_early" and e.extra["earliest_submit"] == opened + 15 * MIN * 1000
    assert e.extra["earliest_submit"] > site.now() * 1000
    a = site.attempt(t)
    assert a["status"] == "answering" and a["score"] is None and a["receipt"] is None
    site.advance(1)                                       # exactly 15 minutes: allowed
    row = site.submit(t, {})
    assert row["status"] == "submitted" and row["submit_reason"] == "candidate" and row["receipt"]
    a = site.attempt(t)                                  # durable when the call returned
    assert a["status"] == "submitted" and a["submitted_at"] == opened / 1000 + 15 * MIN
    assert a["score"] == len(key) and a["receipt"] == row["receipt"]


def test_a_room_pause_moves_the_earliest_submit(site):
    """Issue 12 finding 4: earliest submit counts exam time run, not time since opening."""
    t = tickets(site, 1)[0]
    opened = site.sit(t)["opened_at"]
    site.advance(minutes=5)
    site.pause(S1, "停电")
    site.advance(minutes=14)
    assert refusal(site.submit, t, {}).code == "paused"          # the exam's clock stands still
    site.advance(minutes=6)
    site.resume(S1)
    # 25 minutes after opening, but only 5 of exam time run: not yet
    e = refusal(site.submit, t, {})
    assert e.code == "too_early" and e.extra["earliest_submit"] == opened + (15 + 20) * MIN * 1000
    assert site.state(t)["earliest_submit"] == e.extra["earliest_submit"]
    assert site.state(t)["deadline"] == opened + (60 + 20) * MIN * 1000
    site.advance(minutes=10, seconds=-1)
    assert refusal(site.submit, t, {}).code == "too_early"
    site.advance(1)
    assert site.submit(t, {})["status"] == "submitted"


# -- the deadline and the time-up sweep ------------------------------------------------------

def test_time_up_submits_without_the_phone_and_refuses_later_answers(site):
    t = tickets(site, 1)[0]
    opened = site.sit(t)["opened_at"] / 1000
    assert site.answer(t, 1, "A", 1) == ("A", 1)
    site.advance(60 * MIN - 1)
    assert site.sweep()["timeups"] == [] and site.attempt(t)["status"] == "answering"
    assert site.answer(t, 2, "B", 2) == ("B", 2)                 # a second before the deadline
    site.advance(1)
    assert site.answer(t, 3, "C", 3) == ("C", 3)                 # at the deadline itself
    site.advance(1)
    assert refusal(site.answer, t, 4, "D", 4).code == "time_up"  # past it, before the sweep
    assert site.sweep()["timeups"] == [t]
    a = site.attempt(t)
    assert a["status"] == "submitted" and a["submit_reason"] == "time_up" and a["receipt"]
    assert a["submitted_at"] == a["deadline_at"] == opened + 60 * MIN and a["answered"] == 3
    assert site.sweep()["timeups"] == []                          # once
    # The phone comes back: logged in again on its device, it is told what was sealed.
    site.login(t)
    st = site.state(t)
    assert st["status"] == "submitted" and st["receipt"] == a["receipt"] and st["submit_reason"] == "time_up"
    assert refusal(site.answer, t, 4, "D", 5).code == "submitted"
    assert site.submit(t, {"4": ["D", 6]})["receipt"] == a["receipt"]   # already final: nothing stored
    with site.db() as db:
        assert [r[0] for r in db.execute("SELECT q FROM answers WHERE ticket = ? ORDER BY q", (t,))] == [1, 2, 3]


def test_no_time_up_while_the_room_is_paused_and_the_pause_moves_every_deadline(site):
    a, b = tickets(site, 2)
    da = site.sit(a)["deadline"]
    site.advance(minutes=1)
    db_ = site.sit(b)["deadline"]
    site.extra_time(S1, a, 2, "系统故障，手机掉线")
    assert site.state(a)["deadline"] - da == 2 * MIN * 1000 and site.state(b)["deadline"] == db_
    assert refusal(site.extra_time, S1, a, 2, "").code == "bad_request"
    assert refusal(site.extra_time, S1, a, -5, "x").code == "bad_request"
    site.advance(minutes=30)
    site.pause(S1, "停电")
    assert refusal(site.answer, a, 1, "A", 1).code == "paused"
    site.advance(minutes=40)                                      # past both deadlines, paused
    assert site.sweep()["timeups"] == []
    site.resume(S1)
    assert site.state(a)["deadline"] - da == (2 + 40) * MIN * 1000
    assert site.state(b)["deadline"] - db_ == 40 * MIN * 1000
    assert site.answer(a, 1, "A", 1) == ("A", 1)
    with site.db() as db:
        rows = [tuple(r) for r in db.execute("SELECT kind, ticket, seconds FROM time_adjustments ORDER BY id")]
    assert rows == [("extra", a, 120.0), ("pause", None, 2400.0)]
    site.advance(minutes=29)                                      # 100 min after the start
    assert site.sweep()["timeups"] == []
    site.advance(minutes=1)                                       # b: opened at 1 min, 60 + 40 min paused
    assert site.sweep()["timeups"] == [b]
    site.advance(minutes=1, seconds=-1)                           # a: opened at 0, 60 + 2 extra + 40
    assert site.sweep()["timeups"] == []
    site.advance(1)
    assert site.sweep()["timeups"] == [a]


# -- late entry and 缺考 ------------------------------------------------------------------------

def test_late_entry_closes_10_minutes_after_the_start(site):
    on_time, late = tickets(site, 2)
    site.advance(10 * MIN)
    site.login(on_time)                                           # at the limit itself: in
    site.advance(1)
    assert refusal(site.login, late).code == "late_entry"
    assert site.attempt(late) is None                            # nothing written
    with site.db() as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0
    # logged in before the limit but opening after it: also too late (rules.may_open)
    site.confirm(on_time)
    assert refusal(site.open, on_time).code == "late_entry"


def test_a_pause_extends_late_entry(site):
    a, b = tickets(site, 2)
    site.advance(minutes=3)
    site.pause(S1, "停电")
    site.advance(minutes=5)
    site.resume(S1)
    assert site.watch(S1)["sitting"]["late_entry_until"] == int((site.now() - 8 * MIN + 15 * MIN) * 1000)
    site.advance(minutes=7)                                       # 15 min after the start, 10 of exam time
    site.sit(a)
    site.advance(1)
    assert refusal(site.login, b).code == "late_entry"


def test_absent_after_late_entry_and_latecomer_admitted_with_reason(site):
    p0, late = tickets(site, 2)
    site.sit(p0)
    site.advance(10 * MIN)
    assert site.sweep()["absent"] == []                          # at the limit: not yet
    site.advance(1)
    swept = site.sweep()["absent"]
    view = site.watch(S1)
    rows = view["candidates"]
    assert sorted(swept) == sorted(t for t in rows if t != p0)
    assert rows[p0]["status"] == "answering" and rows[late]["status"] == "absent"
    assert view["sitting"]["absent"] == len(rows) - 1 and view["sitting"]["present"] == 1
    assert site.sweep()["absent"] == []
    assert refusal(site.login, late).code == "late_entry"
    assert refusal(site.admit_late, late, "").code == "bad_request"
    site.admit_late(late, "交通管制，有证明")
    site.advance(minutes=20)
    site.login(late)
    site.confirm(late)
    st = site.open(late)
    assert st["status"] == "answering" and st["deadline"] - st["opened_at"] == 60 * MIN * 1000
    a = site.attempt(late)
    assert (a["status"], a["late_reason"]) == ("answering", "交通管制，有证明")
    assert site.watch(S1)["sitting"]["absent"] == len(rows) - 2
    # another room's sitting, not started, is left alone by the sweep
    assert all(site.attempt(c["ticket"]) is None for c in site.plan["candidates"] if c["sitting_id"] != S1)


# -- camera prompts (issue 16): the config's real minutes ---------------------------------------

def test_camera_prompts_come_between_3_minutes_in_and_5_before_the_end_and_expire_after_2(site):
    """3 prompts, each shown for 120 s; one left unanswered is 抓拍失败 at its own time, one
    refused by the phone is settled and never recorded again (proctor DEFAULTS)."""
    pc = site.cfg["proctor"]
    assert (pc["random_captures"], pc["first_after_minutes"], pc["last_before_end_minutes"],
            pc["prompt_grace_seconds"]) == (3, 3.0, 5.0, 120)
    t = tickets(site, 1)[0]
    opened = site.sit(t)["opened_at"] / 1000
    moments = site.svc.capture_moments(t)
    assert len(moments) == 3 and moments == sorted(moments)
    assert opened + 3 * MIN <= moments[0] and moments[-1] <= opened + 55 * MIN
    site.advance(moments[0] - site.now() - 1)
    site.sweep()
    assert site.state(t)["camera"]["prompt"] is None
    site.advance(1)
    site.sweep()
    prompt = site.state(t)["camera"]["prompt"]
    assert prompt == {"slot": 1, "since": int(moments[0] * 1000), "until": int((moments[0] + 120) * 1000)}
    site.advance(119)
    assert site.sweep()["captures"] == 0 and site.state(t)["camera"]["prompt"]["slot"] == 1
    site.advance(1)                                               # the grace is over: 抓拍失败
    assert site.sweep()["captures"] == 1 and site.state(t)["camera"]["prompt"] is None
    site.advance(moments[1] - site.now())
    site.sweep()
    assert site.state(t)["camera"]["prompt"]["slot"] == 2
    assert refusal(site.svc.capture_failed, t, 2, "<script>").code == "bad_request"
    assert site.svc.capture_failed(t, 2, "denied")["status"] == "refused"
    assert site.state(t)["camera"]["prompt"] is None
    site.advance(moments[2] + 120 - site.now())                   # both graces over
    assert site.sweep()["captures"] == 1                          # slot 3 only: slot 2 is settled
    assert site.sweep()["captures"] == 0
    with site.db() as db:
        got = [(r["slot"], r["status"], r["taken_at"], r["received_at"])
               for r in db.execute("SELECT * FROM captures ORDER BY slot")]
        audited = db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'capture_failed'").fetchone()[0]
    assert got[0] == (1, "missed", moments[0], moments[0] + 120)
    assert got[1][:2] == (2, "refused") and got[2] == (3, "missed", moments[2], moments[2] + 120)
    assert audited == 3
    row = site.watch(S1)["candidates"][t]
    assert "拍照失败" in row["camera"]["flags"] and row["camera"]["failed"] == 3
