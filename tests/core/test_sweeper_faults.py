"""The background sweep keeps sweeping when one of its steps fails (issue 12 item 11).

Before, `push_progress` ran outside the sweeper's `try`: one exception there stopped time-ups
and absentee marking for the rest of the day, silently. Here the real app (the factory's
Hall, service, writer and SQLite file) runs `Hall.sweep_once` on a manual clock with one
step made to fail: the others still seal attempts at their deadline and mark 缺考, the
console gets an alert in Chinese (and /healthz lists it), and the alert goes once the step
works again.
"""
from __future__ import annotations

import pytest

from factories import make_plan
from hall_server.app import create_app
from hall_server.exam.clock import ManualClock
from hall_server.importer import import_plan
from inproc import Site, exam_config, planned_start


@pytest.fixture
def app_site(tmp_path):
    plan = make_plan(candidates_per_room=3, rooms=1, questions=10)
    import_plan(tmp_path / "hall.db", plan)
    hall = create_app(exam_config({"server": {"data_dir": str(tmp_path), "async_mode": "threading"}}))
    site = Site.around(hall.service, tmp_path / "hall.db", plan, ManualClock(planned_start(plan) - 60))
    pushed = []
    staff = hall.app.extensions["hall.staff_channel"]
    staff.push_alerts = pushed.append          # what the consoles would receive
    staff.push_fault = lambda fault: None
    yield hall, site, pushed
    hall.writer.stop()


def _break(monkeypatch, obj, name):
    def broken(*a, **kw):
        raise RuntimeError("磁盘读错误（测试注入）")
    monkeypatch.setattr(obj, name, broken)


def test_a_failing_progress_push_stops_no_time_up(app_site, monkeypatch):
    hall, site, pushed = app_site
    staff = hall.app.extensions["hall.staff_channel"]
    a, b, absent = (site.candidate(i)["ticket"] for i in range(3))
    sid = site.sitting_of(a)
    site.start(sid)
    site.sit(a), site.sit(b)
    site.answer(a, 1, "A", 1)
    hall.dirty.add(a)                         # a changed row for the progress step to push
    _break(monkeypatch, staff, "push_progress")

    site.advance(minutes=61)                  # past the 60-minute deadline and the late-entry limit
    hall.sweep_once()

    assert site.attempt(a)["status"] == site.attempt(b)["status"] == "submitted"
    assert site.attempt(a)["submit_reason"] == "time_up"
    assert site.svc.staff_row(absent)["status"] == "absent"
    alert = hall.alerts.get("sweep:progress")
    assert alert and "磁盘读错误" in alert and "仍在运行" in alert, hall.alerts
    assert pushed[-1] == hall.alerts
    health = hall.app.test_client().get("/healthz").get_json()
    assert "sweep:progress" in health["alerts"], health

    monkeypatch.undo()                        # the step works again: the alert goes
    hall.sweep_once()
    assert "sweep:progress" not in hall.alerts and pushed[-1] == hall.alerts


def test_a_failing_time_up_step_is_reported_and_retried_every_round(app_site, monkeypatch):
    hall, site, pushed = app_site
    a, _, absent = (site.candidate(i)["ticket"] for i in range(3))
    sid = site.sitting_of(a)
    site.start(sid)
    site.sit(a)
    _break(monkeypatch, site.svc, "sweep_timeups")

    site.advance(minutes=61)
    hall.sweep_once()
    assert site.attempt(a)["status"] == "answering"                 # this round could not seal it
    assert site.svc.staff_row(absent)["status"] == "absent"         # the next step still ran
    assert "sweep:timeups" in hall.alerts and "后台任务出错" in hall.alerts["sweep:timeups"]

    monkeypatch.undo()
    hall.sweep_once()                                               # the next round seals it
    row = site.attempt(a)
    assert (row["status"], row["submit_reason"]) == ("submitted", "time_up")
    assert row["submitted_at"] == pytest.approx(site.svc.attempts[a]["deadline_at"])  # at its deadline, not late
    assert "sweep:timeups" not in hall.alerts
