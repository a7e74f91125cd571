"""Servers and constants for the browser tests (imported by conftest.py and tests).

`phone_hall` gives the browser tests one small interface over the server:
    base_url, qr_url, ticket, id6, start_sitting(), stop(), start(), allow_submit()
It runs the real appliance (tests/hallproc.py, eventlet, real SQLite).
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-gpu"]


class RealHall:
    """The real appliance (tests/hallproc.py) with a small 100-question plan.

    Submission opens 15 s after the paper is opened, so the test sees both the
    "not yet" state and the real submit.
    """

    def __init__(self, tmp: Path, **plan_kw):
        from factories import make_plan
        from hallproc import HallProcess

        kw = dict(candidates_per_room=3, rooms=1, questions=100, earliest_submit_minutes=0.25)
        kw.update(plan_kw)
        self.plan = make_plan(**kw)
        self.proc = HallProcess(tmp / "hall", self.plan)
        c = self.plan["candidates"][0]
        self.ticket, self.id6, self.sitting = c["ticket"], c["id_number"][-6:], c["sitting_id"]
        self.candidate = c
        self.base_url = self.proc.url
        self.qr_url = None

    def start(self):
        self.proc.start()
        if self.qr_url is None:
            self.qr_url = f"{self.base_url}/r/{self.proc.qr_token(self.sitting)}"

    def stop(self):
        self.proc.kill()   # like pulling the laptop's plug

    def close(self):
        self.proc.stop()

    def start_sitting(self):
        r = self.proc.start_sitting(self.sitting)
        assert r.get("ok"), r

    def allow_submit(self):
        pass  # earliest_submit is 15 s into the paper in this plan

    def staff(self, event: str, **payload) -> dict:
        sio = self.proc.staff_socket()
        try:
            r = sio.call(event, {"sitting": self.sitting, **payload}, namespace="/staff", timeout=10)
        finally:
            sio.disconnect()
        assert r.get("ok"), r
        return r

    def focus_events(self) -> list:
        with self.proc.db() as db:
            return [dict(r) for r in db.execute(
                "SELECT kind, data FROM device_events WHERE ticket=? AND kind LIKE '%focus%' ORDER BY id", (self.ticket,))]

    def approve_device(self):
        self.staff("approve_device", ticket=self.ticket)




def log_in(page, hall, ticket: str | None = None, id6: str | None = None, url: str | None = None,
           goto: bool = True) -> None:
    """The candidate's login as on exam day: the room's QR page (goto=False: the page is
    there already), ticket, last 6 ID characters."""
    if goto:
        page.goto(url or hall.qr_url)
    page.fill("#ticket", ticket or hall.ticket)
    page.fill("#id6", id6 or hall.id6)
    page.click("#login-btn")


def into_exam(page, hall, start: bool = True, **login) -> None:
    """Log in, confirm, start the sitting (unless it runs already) and open the paper."""
    log_in(page, hall, **login)
    page.click("#confirm-btn")
    if start:
        hall.start_sitting()
    page.click("#open-btn")
