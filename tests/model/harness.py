"""The real exam service, writer and SQLite file, with the batches and the clocks in the
test's hands.

- The writer's thread is not started: `commit()` runs one group commit of everything queued
  (Writer.step), so the test decides which operations share a batch and in what order.
- Every service call runs in its own green thread (as a Socket.IO handler does under
  eventlet) and stops where a handler would: waiting for its commit.
- The waiters are the production EventletWaiters: `commit()` delivers the finished batch
  (mirror first, then wake-ups) with `drain()`, `timeout_waits()` with `reap()`.
- The clock is a ManualClock: real time passes with `advance`, the wall alone with
  `step_wall` (NTP, a person fixing it).
"""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

from hall_server.db import schema, waiters
from hall_server.exam.clock import ManualClock
from hall_server.exam.errors import ExamError
from hall_server.exam.service import ExamService
from hall_server.importer import import_plan
from inproc import exam_config, open_exam  # the construction shared with the in-process site


class TrackingWaiters(waiters.EventletWaiters):
    """EventletWaiters that know which green threads are parked waiting for a commit."""

    def __init__(self) -> None:
        super().__init__()
        self.parked: dict = {}  # green thread -> the event it waits on

    def wait(self, event, timeout=None) -> bool:
        me = eventlet.getcurrent()
        self.parked[me] = event
        try:
            return super().wait(event, timeout)
        finally:
            self.parked.pop(me, None)

    def waiting(self, gt) -> bool:
        """Parked on an event nobody has sent yet (a sent one means it is about to run)."""
        event = self.parked.get(gt)
        return event is not None and not event.ready()


class Call:
    """One service call in flight: its outcome once it has one."""

    __slots__ = ("name", "args", "gt", "done", "value", "error", "unexpected", "order", "lost")

    def __init__(self, name: str, args: tuple) -> None:
        self.name, self.args = name, args
        self.gt = None
        self.done = False
        self.value = None
        self.error: ExamError | None = None
        self.unexpected: BaseException | None = None
        self.order = -1
        self.lost = False

    @property
    def ok(self) -> bool:
        return self.done and self.error is None and self.unexpected is None and not self.lost

    def __repr__(self) -> str:
        state = "ok" if self.ok else (self.error.code if self.error else self.unexpected or "pending")
        return f"{self.name}{self.args!r}->{state}"


class Harness:
    def __init__(self, plan: dict, cfg_overrides: dict | None = None, wall_start: float | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hall-model-"))
        self.db_path = self.dir / "hall.db"
        import_plan(self.db_path, plan)
        overrides = {"security": {"device_change_requires_approval": True},
                     # the camera's prompts run (sweep_captures); the login photo is not
                     # required (exam_config), so that the other rules still reach the paper
                     "proctor": {"random_captures": 2, "first_after_minutes": 1.0, "last_before_end_minutes": 1.0,
                                 "prompt_grace_seconds": 60}}
        for section, values in (cfg_overrides or {}).items():
            overrides.setdefault(section, {}).update(values)
        self.cfg = exam_config(overrides)
        self.clock = ManualClock(wall_start or 1_900_000_000.0)
        self.calls: list[Call] = []
        self.finished = 0
        self.open()

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> None:
        self.waiters = TrackingWaiters()
        # Waits time out only when a rule says so (timeout_waits), never by the real clock:
        # hypothesis must be able to replay a program exactly.
        self.writer, self.svc = open_exam(self.db_path, self.cfg, self.clock, self.waiters, thread=False,
                                          checkpoint_seconds=0, timeout=1e9)
        self.events: list[tuple] = []
        self.svc.on_replaced = lambda ticket, old: self.events.append(("replaced", ticket, old))

    def close(self, crash: bool) -> int:
        """crash=True: what is queued is lost uncommitted, like a SIGKILL. Returns how many
        operations were lost (their callers never got an answer)."""
        lost = 0
        if crash:
            lost = self.writer.abandon()
        else:
            while self.writer.queued():
                self.commit()
            self.writer.stop()
        for c in self.calls:
            if not c.done and c.gt is not None:
                c.gt.kill()
        self.calls = [c for c in self.calls if c.done and not c.lost]
        self.waiters.close()
        return lost

    def restart(self, crash: bool = False) -> tuple[int, dict]:
        """Close (cleanly or by crash) and start a new service from the database file.
        Returns the operations lost and the old service's mirror at the end."""
        lost = self.close(crash)
        old = mirror(self.svc)
        self.open()
        return lost, old

    def destroy(self) -> None:
        try:
            self.close(crash=True)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- calls ------------------------------------------------------------------------
    def call(self, name: str, *args) -> Call:
        """Start svc.<name>(*args) as a handler would, and run it until it waits or ends."""
        c = Call(name, args)
        fn = getattr(self.svc, name)

        def run():
            try:
                c.value = fn(*args)
            except ExamError as e:
                c.error = e
            except eventlet.greenlet.GreenletExit:
                c.lost = True  # killed by a crash: the handler never answered
            except BaseException as e:  # noqa: BLE001 - the invariant is that nothing else escapes
                c.unexpected = e
            c.done = True
            c.order = self.finished
            self.finished += 1

        c.gt = eventlet.spawn(run)
        self.calls.append(c)
        self.settle()
        return c

    def settle(self) -> None:
        """Let every green thread run until it has finished or waits for a commit."""
        for _ in range(10_000):
            busy = [c for c in self.calls if not c.done and not self.waiters.waiting(c.gt)]
            if not busy:
                return
            eventlet.sleep(0)
        raise AssertionError(f"calls neither finish nor wait: {busy}")

    def commit(self) -> int:
        """One group commit of everything queued, delivered as the dispatcher does."""
        n = self.writer.step()
        self.waiters.drain()
        self.settle()
        return n

    def timeout_waits(self) -> int:
        """Every waiting call gives up now (the reaper past their deadline)."""
        n = self.waiters.reap(float("inf"))
        self.settle()
        return n

    def in_flight(self) -> list[Call]:
        return [c for c in self.calls if not c.done]

    def forget_done(self) -> list[Call]:
        done = [c for c in self.calls if c.done]
        self.calls = [c for c in self.calls if not c.done]
        return done

    # -- the database, read on a connection of its own --------------------------------
    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path)
        conn.row_factory = sqlite3.Row
        return conn


def snapshot(conn: sqlite3.Connection) -> dict:
    return {
        "attempts": {r["ticket"]: dict(r) for r in conn.execute("SELECT * FROM attempts")},
        "sittings": {r["sitting_id"]: dict(r) for r in conn.execute("SELECT * FROM sittings")},
        "answers": {(r["ticket"], r["q"]): (r["choice"], r["seq"])
                    for r in conn.execute("SELECT ticket, q, choice, seq FROM answers")},
        "candidates": {r["ticket"]: dict(r) for r in conn.execute("SELECT * FROM candidates")},
        "captures": {r["capture_id"]: (r["ticket"], r["slot"], r["status"], r["sha256"], r["taken_at"], r["received_at"])
                     for r in conn.execute("SELECT * FROM captures")},
    }


def mirror(svc: ExamService) -> dict:
    return {
        "attempts": {t: dict(a) for t, a in svc.attempts.items()},
        "sittings": {s: dict(v) for s, v in svc.sittings.items()},
        "answers": {(t, q): v for t, qs in svc.answers.items() for q, v in qs.items()},
        "candidates": {t: dict(c) for t, c in svc.candidates.items()},
        "captures": {k: (c["ticket"], c["slot"], c["status"], c["sha256"], c["taken_at"], c["received_at"])
                     for k, c in svc.captures.items()},
    }


__all__ = ["Call", "Harness", "mirror", "schema", "snapshot"]
