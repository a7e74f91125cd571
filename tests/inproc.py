"""An exam site in the test's own process, on a clock the test moves: rule tests that do not sleep.

The exam's rules (earliest submit, the deadline and the time-up sweep, the late-entry limit
and 缺考, pauses, extra time) are decided by `ExamService` from its clock. A test that runs
them through the real server has to wait for them in real time, so it used a plan whose exam
lasts seconds and slept through it. `Site` is the same service on a `ManualClock` instead:
the test moves time with `site.advance(seconds)` and runs the background sweep once with
`site.sweep()`, so rule tests use the plan's real numbers (a 60-minute paper, 15 minutes to
the earliest submit, 10 minutes of late entry) and take milliseconds.

What is real: the `ExamService` (with the room actions staff use, `exam/room_service.py`),
the single `Writer` with its thread running and the production `EventletWaiters`, so a call
returns once its group commit is durable and the mirror is applied as on the server, and a
SQLite file made by the importer from a `factories` plan. What is not: sockets, Socket.IO
handlers, the server's sweeper loop. Tests of the wire (the phone's protocol, the console's
events, SIGKILL) still start the real server (`hallproc.HallProcess`); see docs/testing.md.

The helpers call the service with the arguments the Socket.IO handlers pass
(`realtime/candidate.py`, `realtime/staff.py`); a refusal raises `ExamError`, whose `code`
is what the phone or the console would get. `open_exam` / `exam_config` are shared with the
model-based harness (`tests/model/harness.py`).
"""
from __future__ import annotations

import sqlite3
import warnings
from datetime import datetime
from pathlib import Path

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet  # noqa: F401 - the waiters' green threads run on its hub

from hall_server import config as config_mod
from hall_server.db import waiters as waiters_mod
from hall_server.db.writer import Writer
from hall_server.exam.clock import ManualClock
from hall_server.exam.errors import ExamError
from hall_server.exam.service import ExamService
from hall_server.importer import import_plan

# Tests of other features open papers without the login photo and without the face worker
# process (as hallproc.HallProcess configures the server); the camera's own tests set [proctor].
TEST_OVERRIDES = {"proctor": {"login_capture_required": False, "face_worker": False}}


def exam_config(overrides: dict | None = None) -> config_mod.Config:
    """The hall's config for tests: DEFAULTS, TEST_OVERRIDES, then `overrides` (per key)."""
    merged: dict = {section: dict(values) for section, values in TEST_OVERRIDES.items()}
    for section, values in (overrides or {}).items():
        merged.setdefault(section, {}).update(values)
    return config_mod.load(overrides=merged)


def open_exam(db_path: Path, cfg: config_mod.Config, clock, waiters, *, thread: bool = True,
              **writer_kw) -> tuple[Writer, ExamService]:
    """The writer and the exam service over an imported database, as the app factory builds
    them (hall_server/app.py), with `clock` as exam time. thread=False leaves the commits to
    `Writer.step()`; `writer_kw` overrides the config's checkpoint_seconds / timeout."""
    w = cfg["writer"]
    kw = {"checkpoint_seconds": w["checkpoint_seconds"], "timeout": w["call_timeout_seconds"], **writer_kw}
    writer = Writer(db_path, waiters, w["synchronous"], w["max_batch"], **kw).start(thread=thread)
    return writer, ExamService(cfg, writer, clock=clock).load(db_path)


def planned_start(plan: dict, sitting_id: str | None = None) -> float:
    s = next(s for s in plan["sittings"] if sitting_id in (None, s["sitting_id"]))
    return datetime.fromisoformat(s["planned_start"]).timestamp()


class Site:
    """One imported site with its exam service running in-process; the clock starts
    `lead` seconds before the first sitting's planned start."""

    def __init__(self, data_dir: Path, plan: dict, cfg_overrides: dict | None = None, lead: float = 600.0):
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.plan = plan
        self.db_path = self.dir / "hall.db"
        import_plan(self.db_path, plan)
        self.cfg = exam_config(cfg_overrides)
        self.clock = ManualClock(planned_start(plan) - lead)
        self.waiters = waiters_mod.EventletWaiters()
        self.writer, self.svc = open_exam(self.db_path, self.cfg, self.clock, self.waiters)
        self.devices: dict[str, str] = {}

    @classmethod
    def around(cls, svc: ExamService, db_path: Path, plan: dict, clock: ManualClock) -> "Site":
        """The helpers over a service someone else built (the app factory's, in the sweeper's
        tests); the caller closes what it built."""
        site = cls.__new__(cls)
        site.dir, site.db_path, site.plan = Path(db_path).parent, Path(db_path), plan
        site.svc, site.clock, site.devices = svc, clock, {}
        svc.clock = svc.limiter.clock = clock
        return site

    def close(self) -> None:
        self.writer.stop()
        self.waiters.close()

    # -- time -------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0) -> float:
        """Real time passes (wall and exam time alike); returns the exam time now."""
        self.clock.advance(seconds + minutes * 60)
        return self.clock()

    def sweep(self) -> dict:
        """One round of the server's background sweep at the current time: the exam
        service's steps of Hall.sweep_once (app.py), in its order. Returns what each did."""
        return {"timeups": self.svc.sweep_timeups(), "absent": self.svc.sweep_absent(),
                "captures": self.svc.sweep_captures()}

    # -- the plan ---------------------------------------------------------------------
    def candidate(self, i: int = 0, sitting_id: str | None = None) -> dict:
        """The plan's i-th candidate (of `sitting_id` if given)."""
        return [c for c in self.plan["candidates"] if sitting_id in (None, c["sitting_id"])][i]

    def sitting_of(self, ticket: str) -> str:
        return self.svc.candidates[ticket]["sitting_id"]

    # -- a phone ----------------------------------------------------------------------
    def login(self, ticket: str, device: str | None = None, addr: str = "127.0.0.1") -> str:
        """Scan the room's QR as it is shown now and log in with the right digits; the session."""
        c = self.svc.candidates[ticket]
        device = device or self.devices.get(ticket) or f"phone-{ticket}"
        token = self.svc.qr_token(c["sitting_id"])
        t, session = self.svc.login(token, ticket, c["id_number"][-6:], device, addr)
        self.devices[t] = device
        return session

    def confirm(self, ticket: str) -> dict:
        self.svc.confirm(ticket)
        return self.svc.state(ticket)

    def open(self, ticket: str) -> dict:
        self.svc.open(ticket)
        return self.svc.state(ticket)

    def sit(self, ticket: str) -> dict:
        """Log in, confirm and open the paper now; the phone's state."""
        self.login(ticket)
        self.confirm(ticket)
        return self.open(ticket)

    def answer(self, ticket: str, q: int, choice: str | None, seq: int) -> tuple[str | None, int]:
        return self.svc.answer(ticket, q, choice, seq, self.devices.get(ticket))

    def submit(self, ticket: str, answers: dict | None = None) -> dict:
        """Hand in (answers as the phone sends them: {"q": [choice, seq]}); the attempt row sealed."""
        ch = self.svc.submit(ticket, answers, self.devices.get(ticket))
        return ch.attempt(ticket)

    def state(self, ticket: str) -> dict:
        return self.svc.state(ticket)

    # -- staff ------------------------------------------------------------------------
    def start(self, sitting_id: str, staff: str = "chief") -> dict:
        self.svc.start_sitting(sitting_id, staff)
        return self.svc.sitting_view(sitting_id)

    def pause(self, sitting_id: str, reason: str = "停电", staff: str = "chief") -> None:
        self.svc.pause(sitting_id, reason, staff)

    def resume(self, sitting_id: str, staff: str = "chief") -> None:
        self.svc.resume_room(sitting_id, staff)

    def end(self, sitting_id: str, staff: str = "chief") -> None:
        self.svc.end_sitting(sitting_id, staff)

    def extra_time(self, sitting_id: str, ticket: str | None, minutes: float, reason: str,
                   staff: str = "chief") -> None:
        self.svc.extra_time(sitting_id, ticket, minutes, reason, staff)

    def admit_late(self, ticket: str, reason: str, staff: str = "chief") -> None:
        self.svc.admit_late(ticket, reason, staff)

    def watch(self, sitting_id: str) -> dict:
        """What the console's `watch` answers: the room and one row per candidate."""
        return {"sitting": self.svc.sitting_view(sitting_id),
                "candidates": {t: self.svc.staff_row(t) for t in self.svc.tickets_in(sitting_id)}}

    # -- the database, on a connection of its own (what survives the process) -----------
    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path)
        conn.row_factory = sqlite3.Row
        return conn

    def attempt(self, ticket: str) -> dict | None:
        conn = self.db()
        try:
            row = conn.execute("SELECT * FROM attempts WHERE ticket = ?", (ticket,)).fetchone()
        finally:
            conn.close()
        return dict(row) if row else None


def refusal(fn, *args, **kw) -> ExamError:
    """The ExamError that fn(*args) raises (AssertionError if it does not)."""
    try:
        fn(*args, **kw)
    except ExamError as e:
        return e
    raise AssertionError(f"{getattr(fn, '__name__', fn)}{args} was not refused")


__all__ = ["Site", "exam_config", "open_exam", "planned_start", "refusal"]
