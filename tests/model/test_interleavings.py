"""Model-based test: every interleaving of phones, consoles, sweeps, clocks, timeouts and
restarts keeps the appliance's promises.

Hypothesis drives the real ExamService (real writer, real SQLite file, production
waiters) through random programs of rules. Calls are queued as handlers would be and
committed in batches the program chooses (`commit`), so an end of sitting, a time-up or a
violation can land in the same batch as a phone's submit, before or after it; waits time
out while their operations stay queued (`timeout_waits`); the wall clock steps while exam
time runs on (`step_wall`); the server restarts cleanly or crashes, losing what was queued.

After every step the invariants are checked against the database file and a small model
of what was acknowledged:
- the mirror equals the database (attempts, sittings, answers);
- every ok answer ack's (q, choice, seq) is in the database unless a higher seq replaced it;
- every ok submit ack matches the sealed attempt (receipt, answered, the answers it lists);
- receipts never change; nothing but ExamError escapes a call;
- deadlines = opening + duration + extra time + room pauses after opening (pauses taken
  from time_adjustments, not from the column under test);
- a candidate hands in no earlier than earliest_submit of exam time run after opening;
- time_up seals at the deadline and never before exam time reaches it (wall steps are
  invisible); audit timestamps never run backwards and never lead exam time;
- first logins respect late entry; a device change of an active attempt needs approval;
- the phone that logged in (or was approved) last can resume its session.

`make test` runs a bounded, seeded profile (HALL_MODEL_EXAMPLES x HALL_MODEL_STEPS steps);
`make soak` a long one. The number of steps run is printed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, seed, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factories import make_plan  # noqa: E402
from harness import Harness, mirror, snapshot  # noqa: E402

from hall_server.exam.ops import ACTIVE, FINAL  # noqa: E402

EXAMPLES = int(os.environ.get("HALL_MODEL_EXAMPLES", "40"))
STEPS = int(os.environ.get("HALL_MODEL_STEPS", "100"))
SEED = int(os.environ.get("HALL_MODEL_SEED", "20261130"))

DURATION_MIN, EARLIEST_MIN, LATE_MIN, QUESTIONS = 10, 2, 8, 5
PLAN = make_plan(candidates_per_room=3, rooms=2, questions=QUESTIONS, duration_minutes=DURATION_MIN,
                 earliest_submit_minutes=EARLIEST_MIN, late_entry_minutes=LATE_MIN,
                 planned_start="2030-03-17T09:00:00+08:00")
TICKETS = [c["ticket"] for c in PLAN["candidates"]]
SITTINGS = [s["sitting_id"] for s in PLAN["sittings"]]
SITTING_OF = {c["ticket"]: c["sitting_id"] for c in PLAN["candidates"]}
ID6 = {c["ticket"]: c["id_number"][-6:] for c in PLAN["candidates"]}
OPTIONS = {t: [[o["key"] for o in q["options"]] for q in PLAN["papers"][t]["questions"]] for t in TICKETS}
DEVICES = ["phone-a", "phone-b"]
EPS = 1e-6

OUTCOMES: dict[tuple[str, str], int] = {}


def _jpegs() -> list[bytes]:
    import io

    from PIL import Image

    out = []
    for colour in ((200, 40, 40), (40, 200, 40), (40, 40, 200)):
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), colour).save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


PHOTOS = _jpegs()
STATS = {"steps": 0, "examples": 0, "commits": 0, "batched": 0, "timeouts": 0, "crashes": 0, "acks": 0,
         "missed_prompts": 0}


class Interleavings(RuleBasedStateMachine):
    @initialize(started=st.sampled_from([[], SITTINGS[:1], SITTINGS, SITTINGS, SITTINGS]),
                warm=st.integers(0, len(TICKETS)), minutes=st.sampled_from([0, 0, 1, 3]))
    def setup(self, started, warm, minutes):
        # Exam time starts 5 minutes before the planned start (epoch of 2030-03-17T09:00+08:00).
        self.h = Harness(PLAN, wall_start=1_899_939_600.0 - 300)
        self.sessions: dict[tuple[str, str], str] = {}   # (ticket, device) -> session from an ok ack
        self.last_login: dict[str, tuple[int, str]] = {}  # ticket -> (ack order, device) of the last ok
        self.answer_acks: list[tuple[str, int, str | None, int]] = []
        self.submit_acks: list[tuple[str, dict]] = []
        self.receipts: dict[str, str] = {}
        self.seq: dict[str, int] = {t: 0 for t in TICKETS}
        self.capture_acks: list[tuple[str, str, str]] = []   # (capture id, sha256, ticket)
        self.failure_acks: list[tuple[str, int]] = []
        self.capture_ids: list[tuple[str, str, int]] = []   # (capture id, ticket, photo) sent before
        self.last_audit_id = 0
        self.last_audit_ts = float("-inf")
        STATS["examples"] += 1
        for sitting in started:
            self.h.call("start_sitting", sitting, "chief", None)
        self.h.commit()
        # A warm start: some candidates already answering, `minutes` into their paper.
        for ticket in TICKETS[:warm]:
            if SITTING_OF[ticket] in started:
                for q in range(1, QUESTIONS + 1):
                    self.carry_on(ticket, DEVICES[0], q, q % 3)
        self.h.clock.advance(minutes * 60)

    def teardown(self):
        h = getattr(self, "h", None)
        if h is not None:
            h.destroy()

    # -- helpers ----------------------------------------------------------------------
    def _session_ticket(self, ticket: str, device: str) -> bool:
        """A phone acts only if its session resumes, as after a reconnect."""
        session = self.sessions.get((ticket, device))
        if session is None:
            return False
        try:
            return self.h.svc.resume(session, device) == ticket
        except Exception:
            return False

    def _collect(self) -> None:
        """Record what finished calls acknowledged."""
        for c in sorted(self.h.forget_done(), key=lambda c: c.order):
            assert c.unexpected is None, f"{c!r} raised {c.unexpected!r}"
            OUTCOMES[(c.name, "ok" if c.ok else c.error.code)] = OUTCOMES.get((c.name, "ok" if c.ok else c.error.code), 0) + 1
            if not c.ok:
                if c.name in ("login", "approve_device") and c.error.code == "storage":
                    # It may commit later: which phone holds the attempt is then unknown to
                    # the phones until one of them logs in again.
                    self.last_login.pop(c.args[1] if c.name == "login" else c.args[0], None)
                continue
            STATS["acks"] += 1
            if c.name == "login":
                ticket, session = c.value
                device = c.args[3]
                self.sessions[(ticket, device)] = session
                self.last_login[ticket] = (c.order, device)
            elif c.name == "approve_device":
                ticket = c.args[0]
                device = c.args[2]
                self.sessions[(ticket, device)] = c.value
                self.last_login[ticket] = (c.order, device)
            elif c.name == "answer":
                ticket, q = c.args[0], c.args[1]
                choice, seq = c.value
                self.answer_acks.append((ticket, q, choice, seq))
            elif c.name == "capture_upload":
                row, _ = c.value
                self.capture_acks.append((row["capture_id"], row["sha256"], row["ticket"]))
            elif c.name == "capture_failed":
                self.failure_acks.append((c.args[0], c.args[1]))
            elif c.name == "submit":
                ticket = c.args[0]
                row = c.value.attempt(ticket)
                self.submit_acks.append((ticket, {
                    "receipt": row["receipt"], "answered": row["answered"], "status": row["status"],
                    "answers": dict(c.value.answers.get(ticket, {})), "result": c.value.result}))

    # -- phones -----------------------------------------------------------------------
    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES), q=st.integers(1, QUESTIONS),
          pick=st.integers(0, 3))
    def carry_on(self, ticket, device, q, pick):
        """What a phone does next on its own (log in, confirm, open, answer), committed with
        whatever else is queued: the rules below queue without committing."""
        a = self.h.svc.attempts.get(ticket)
        if ticket in self.last_login and self._session_ticket(ticket, self.last_login[ticket][1]):
            device = self.last_login[ticket][1]  # the phone in the candidate's hand
        if not self._session_ticket(ticket, device):
            self.login(ticket, device, "own", True)
        elif a["status"] == "logged_in":
            self.h.call("confirm", ticket)
        elif a["status"] == "confirmed":
            self.h.call("open", ticket)
        else:
            self.seq[ticket] += 1
            self.h.call("answer", ticket, q, OPTIONS[ticket][q - 1][pick], self.seq[ticket], device)
        self.commit()

    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES),
          room=st.sampled_from(["own", "own", "own", "other"]), right=st.booleans())
    def login(self, ticket, device, room, right):
        sitting = SITTING_OF[ticket] if room == "own" else next(s for s in SITTINGS if s != SITTING_OF[ticket])
        token = self.h.svc.qr_token(sitting)
        id6 = ID6[ticket] if right or room == "other" else "000000"
        addr = "10.0.0.%d" % (DEVICES.index(device) + 1)
        self.h.call("login", token, ticket, id6, device, addr)

    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES))
    def confirm(self, ticket, device):
        if self._session_ticket(ticket, device):
            self.h.call("confirm", ticket)

    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES))
    def open_paper(self, ticket, device):
        if self._session_ticket(ticket, device):
            self.h.call("open", ticket)

    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES),
          q=st.integers(1, QUESTIONS), pick=st.integers(0, 5), seq_mode=st.sampled_from(["next", "next", "same", "old"]))
    def answer(self, ticket, device, q, pick, seq_mode):
        if not self._session_ticket(ticket, device):
            return
        opts = OPTIONS[ticket][q - 1]
        choice = None if pick >= len(opts) else opts[pick]
        if seq_mode == "next":
            self.seq[ticket] += 1
            seq = self.seq[ticket]
        elif seq_mode == "same":
            seq = self.seq[ticket]  # an equal seq with perhaps another choice (a phone that lost its counter)
        else:
            seq = max(0, self.seq[ticket] - 3)
        self.h.call("answer", ticket, q, choice, seq, device)

    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES), with_answers=st.booleans(),
          q=st.integers(1, QUESTIONS), pick=st.integers(0, 3))
    def submit(self, ticket, device, with_answers, q, pick):
        if not self._session_ticket(ticket, device):
            return
        payload = None
        if with_answers:
            self.seq[ticket] += 1
            payload = {str(q): [OPTIONS[ticket][q - 1][pick], self.seq[ticket]]}
            for qq, (c, s) in self.h.svc.answers.get(ticket, {}).items():
                payload.setdefault(str(qq), [c, s])
        self.h.call("submit", ticket, payload, device)

    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES))
    def sync(self, ticket, device):
        if self._session_ticket(ticket, device):
            assert self.h.svc.saved_answers(ticket) == {
                str(q): [c, s] for (t, q), (c, s) in sorted(snapshot(self.h.db())["answers"].items()) if t == ticket}

    # -- the console ------------------------------------------------------------------
    @rule(sitting=st.sampled_from(SITTINGS))
    def start(self, sitting):
        self.h.call("start_sitting", sitting, "chief", None)

    @rule(sitting=st.sampled_from(SITTINGS))
    def pause(self, sitting):
        self.h.call("pause", sitting, "停电", "chief")

    @rule(sitting=st.sampled_from(SITTINGS))
    def resume(self, sitting):
        self.h.call("resume_room", sitting, "chief")

    @rule(sitting=st.sampled_from(SITTINGS), rarely=st.integers(0, 3))
    def end(self, sitting, rarely):
        if rarely == 0:
            self.h.call("end_sitting", sitting, "chief")

    @rule(ticket=st.one_of(st.none(), st.sampled_from(TICKETS)), sitting=st.sampled_from(SITTINGS),
          minutes=st.sampled_from([1, 5]))
    def extra_time(self, ticket, sitting, minutes):
        if ticket is not None:
            sitting = SITTING_OF[ticket]
        self.h.call("extra_time", sitting, ticket, minutes, "系统故障", "chief")

    @rule(ticket=st.sampled_from(TICKETS), level=st.sampled_from(["minor", "cheating", "serious"]))
    def violation(self, ticket, level):
        self.h.call("violation", ticket, level, "夹带", "chief")

    @rule(ticket=st.sampled_from(TICKETS))
    def admit_late(self, ticket):
        self.h.call("admit_late", ticket, "交通管制", "chief")

    @rule(ticket=st.sampled_from(TICKETS), approve=st.booleans())
    def decide_device(self, ticket, approve):
        pending = self.h.svc.pending_devices.get(ticket)
        if pending is None:
            return
        if approve:
            c = self.h.call("approve_device", ticket, "chief")
            c.args = (ticket, "chief", pending["device"])  # which phone the session is for
        else:
            self.h.call("reject_device", ticket, "chief")

    @rule()
    def sweep(self):
        self.h.call("sweep_timeups")
        self.h.call("sweep_absent")

    # -- races ----------------------------------------------------------------------------
    @rule(ops=st.lists(st.tuples(st.sampled_from(["answer", "submit", "submit", "end", "cheating", "timeup", "pause",
                                                  "resume", "extra", "login_b", "open", "approve"]),
                                 st.sampled_from(TICKETS), st.integers(0, 9)), min_size=2, max_size=5))
    def burst(self, ops):
        """Several things land in one writer batch, in this order, around the candidates of
        one room: the ordinary moments the review found broken (a submit with the end of
        the sitting, a time-up, a violation, a second phone)."""
        for kind, ticket, n in ops:
            sitting = SITTING_OF[ticket]
            device = self.last_login.get(ticket, (0, DEVICES[0]))[1]
            if kind == "answer":
                self.answer(ticket, device, 1 + n % QUESTIONS, n % 4, "next" if n < 7 else "same")
            elif kind == "submit":
                self.submit(ticket, device, n % 2 == 0, 1 + n % QUESTIONS, n % 4)
            elif kind == "end":
                self.h.call("end_sitting", sitting, "chief")
            elif kind == "cheating":
                self.h.call("violation", ticket, "cheating" if n % 2 else "serious", "抄袭", "chief")
            elif kind == "timeup":
                a = self.h.svc.attempts.get(ticket)
                if a and a["deadline_at"] and a["deadline_at"] > self.h.clock.now():
                    self.h.clock.advance(a["deadline_at"] - self.h.clock.now() + n % 2)
                self.h.call("sweep_timeups")
            elif kind == "pause":
                self.pause(sitting)
            elif kind == "resume":
                self.resume(sitting)
            elif kind == "extra":
                self.extra_time(ticket if n % 2 else None, sitting, 1)
            elif kind == "login_b":
                other = DEVICES[1 - DEVICES.index(device)]
                self.login(ticket, other if n % 3 else device, "own", True)
            elif kind == "open":
                self.open_paper(ticket, device)
            elif kind == "approve":
                self.decide_device(ticket, n % 3 != 0)
        self.commit()

    # -- the camera (proctor) ----------------------------------------------------------
    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES), slot=st.integers(0, 2),
          photo=st.integers(0, 2), reuse=st.sampled_from(["new", "new", "replay", "other_photo", "other_ticket"]))
    def capture(self, ticket, device, slot, photo, reuse):
        """A phone delivers a photo (a new id, its own id again, its id with another photo,
        another candidate's id): acked only once the row is committed, never overwritten."""
        if not self._session_ticket(ticket, device):
            return
        cid = f"cap{len(self.capture_ids):08d}"
        if reuse != "new" and self.capture_ids:
            old = next((x for x in reversed(self.capture_ids) if (x[1] == ticket) == (reuse != "other_ticket")), None)
            if old is not None:
                cid, photo = old[0], old[2] if reuse == "replay" else (old[2] + 1) % len(PHOTOS)
        self.capture_ids.append((cid, ticket, photo))
        self.h.call("capture_upload", ticket, cid, slot, "file", None, PHOTOS[photo])

    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES), slot=st.integers(0, 2))
    def capture_failed(self, ticket, device, slot):
        if self._session_ticket(ticket, device):
            self.h.call("capture_failed", ticket, slot, "denied")

    @rule()
    def sweep_captures(self):
        self.h.call("sweep_captures")

    @rule(data=st.data(), sealer=st.sampled_from(["end", "cheating", "serious", "timeup"]),
          order=st.sampled_from(["seal_first", "submit_first", "answers_between"]), n=st.integers(1, 3))
    def race_submit(self, data, sealer, order, n):
        """The review's case: a phone's submit (carrying answers not yet saved) in the same
        writer batch as the end of the sitting, a time-up or a terminating violation."""
        answering = sorted(t for t, a in self.h.svc.attempts.items()
                           if a["status"] == "answering" and t in self.last_login)
        if not answering:
            return
        ticket = data.draw(st.sampled_from(answering))
        device = self.last_login[ticket][1]
        a = self.h.svc.attempts[ticket]

        def seal():
            if sealer == "end":
                self.h.call("end_sitting", a["sitting_id"], "chief")
            elif sealer in ("cheating", "serious"):
                self.h.call("violation", ticket, sealer, "抄袭", "chief")
            else:
                if a["deadline_at"] > self.h.clock.now():
                    self.h.clock.advance(a["deadline_at"] - self.h.clock.now())
                self.h.call("sweep_timeups")

        def submit():
            payload = {str(q): [c, s] for q, (c, s) in self.h.svc.answers.get(ticket, {}).items()}
            for q in range(1, n + 1):
                self.seq[ticket] += 1
                payload[str(q)] = [OPTIONS[ticket][q - 1][(self.seq[ticket]) % 2], self.seq[ticket]]
            self.h.call("submit", ticket, payload, device)

        if order == "seal_first":
            seal()
            submit()
        elif order == "submit_first":
            submit()
            seal()
        else:
            self.answer(ticket, device, 1, 0, "next")
            seal()
            self.answer(ticket, device, 2, 1, "next")
            submit()
        self.commit()

    @rule(ticket=st.sampled_from(TICKETS), second=st.sampled_from(DEVICES), rooms=st.booleans())
    def race_logins(self, ticket, second, rooms):
        """Two phones log in to one ticket within the same batch."""
        self.login(ticket, DEVICES[0], "own", True)
        self.login(ticket, second, "own" if rooms else "other", True)
        self.commit()

    # -- the machine ------------------------------------------------------------------
    @rule()
    def commit(self):
        STATS["commits"] += 1
        n = self.h.commit()
        if n > 1:
            STATS["batched"] += 1
        self._collect()

    @rule(seconds=st.sampled_from([1, 1, 5, 5, 20, 20, 61, 150, 320, 700]))
    def advance(self, seconds):
        self.h.clock.advance(seconds)

    @rule(hours=st.sampled_from([-1, 1, 24]))
    def step_wall(self, hours):
        self.h.clock.step_wall(hours * 3600)

    # Hypothesis picks rules uniformly: aliases make the common things common.
    @rule()
    def commit_too(self):
        self.commit()

    @rule()
    def commit_again(self):
        self.commit()

    @rule(ticket=st.sampled_from(TICKETS), device=st.sampled_from(DEVICES), q=st.integers(1, QUESTIONS),
          pick=st.integers(0, 3))
    def carry_on_too(self, **kw):
        self.carry_on(**kw)

    @precondition(lambda self: self.h.in_flight())
    @rule(rarely=st.integers(0, 3))
    def timeout_waits(self, rarely):
        if rarely == 0:
            STATS["timeouts"] += self.h.timeout_waits()
            self._collect()

    @rule(crash=st.booleans(), rarely=st.integers(0, 2))
    def restart(self, crash, rarely):
        if rarely:
            return
        self._collect()
        lost, before = self.h.restart(crash)
        self._collect()
        if crash:
            STATS["crashes"] += 1
        assert mirror(self.h.svc) == before, "the database holds something else than the service did"

    # -- invariants -------------------------------------------------------------------
    @invariant()
    def holds(self):
        STATS["steps"] += 1
        self._collect()
        conn = self.h.db()
        try:
            self._check(conn)
        finally:
            conn.close()

    def _check(self, conn):
        db = snapshot(conn)
        svc = self.h.svc
        # The mirror is the database.
        assert mirror(svc) == db, _diff(mirror(svc), db)
        # Every acknowledged answer is there, unless a higher seq replaced it.
        for ticket, q, choice, seq in self.answer_acks:
            stored = db["answers"].get((ticket, q))
            assert stored is not None, f"acked answer {ticket} q{q} {choice}@{seq} missing"
            assert stored[1] > seq or stored == (choice, seq), f"acked {choice}@{seq}, stored {stored}"
        # Every acknowledged submit is what was sealed.
        for ticket, ack in self.submit_acks:
            a = db["attempts"][ticket]
            assert a["status"] in FINAL and a["receipt"] == ack["receipt"], (ack, a)
            assert a["answered"] == ack["answered"], (ack, a)
            stored = {q: v for (t, q), v in db["answers"].items() if t == ticket}
            assert stored == ack["answers"], (ack, stored)
            assert ack["answered"] == sum(1 for c, _ in stored.values() if c is not None)
        # Every acknowledged photo is stored as acknowledged, for its candidate; a failure
        # acknowledged is recorded; a missed prompt only after its grace.
        import hashlib

        for cid, sha, ticket in self.capture_acks:
            row = db["captures"].get(cid)
            assert row is not None and row[0] == ticket and row[3] == sha and row[2] == "ok", (cid, row)
        for ticket, slot in self.failure_acks:
            assert f"refused:{ticket}:{slot}" in db["captures"], (ticket, slot)
        for cid, (ticket, slot, status, sha, taken, received) in db["captures"].items():
            if status == "ok":
                assert sha in {hashlib.sha256(p).hexdigest() for p in PHOTOS}
            if status == "missed":
                STATS["missed_prompts"] = max(STATS["missed_prompts"], sum(
                    1 for x in db["captures"].values() if x[2] == "missed"))
                assert received >= taken + 60 - EPS and slot >= 1, (cid, taken, received)
        # Receipts never change.
        for ticket, a in db["attempts"].items():
            if a["receipt"]:
                assert self.receipts.setdefault(ticket, a["receipt"]) == a["receipt"], "receipt changed"
        now = self.h.clock.now()
        pauses = conn.execute("SELECT sitting_id, started_at, ended_at FROM time_adjustments WHERE kind = 'pause'"
                              ).fetchall()
        for ticket, a in db["attempts"].items():
            s = db["sittings"][a["sitting_id"]]
            if a["opened_at"] is None:
                continue
            end = a["submitted_at"] if a["status"] in FINAL else float("inf")
            mine = [p for p in pauses if p["sitting_id"] == a["sitting_id"] and p["ended_at"] is not None
                    and p["started_at"] >= a["opened_at"] - EPS and p["ended_at"] <= end + EPS]
            # A pause that ended at the very instant the attempt was sealed may have ended
            # before or after it in commit order: either total is right.
            totals = {sum(p["ended_at"] - p["started_at"] for p in mine),
                      sum(p["ended_at"] - p["started_at"] for p in mine if p["ended_at"] < end - EPS)}
            base = a["opened_at"] + s["duration_s"] + a["extra_s"]
            paused = a["deadline_at"] - base
            assert any(abs(paused - t) < 1e-3 for t in totals), (ticket, a, totals)
            assert abs(a["paused_s"] - paused) < 1e-3, (ticket, a, paused)
            if a["submit_reason"] == "candidate":
                assert a["submitted_at"] >= a["opened_at"] + s["earliest_submit_s"] + paused - EPS, (
                    "handed in before earliest submit", a, paused)
            if a["submit_reason"] == "time_up":
                assert a["submitted_at"] == a["deadline_at"] and a["deadline_at"] <= now + EPS, a
        # Exam time never runs backwards and nothing is stamped in its future (a time-up is
        # stamped with its deadline, which may lie before the sweep that sealed it).
        for r in conn.execute("SELECT id, ts, action, sitting_id, ticket, data FROM audit_log WHERE id > ? ORDER BY id",
                              (self.last_audit_id,)):
            assert r["ts"] <= now + EPS, dict(r)
            self.last_audit_id = r["id"]
            if '"time_up"' not in r["data"]:
                assert r["ts"] >= self.last_audit_ts - EPS, dict(r)
                self.last_audit_ts = r["ts"]
            if r["action"] == "login" and '"late":false' in r["data"]:
                s = db["sittings"][r["sitting_id"]]
                if s["started_at"] is not None and r["ts"] > s["started_at"]:
                    assert r["ts"] <= s["started_at"] + s["late_entry_s"] + s["paused_total_s"] + EPS, dict(r)
            if r["action"] == "device_change":
                assert '"approved_by"' in r["data"] or _status_in(r["data"]) not in ACTIVE, dict(r)
        # The phone that logged in (or was approved) last can carry on.
        for ticket, (_, device) in self.last_login.items():
            session = self.sessions[(ticket, device)]
            assert svc.resume(session, device) == ticket


def _status_in(data: str) -> str | None:
    import json

    return json.loads(data).get("status")


def _diff(a: dict, b: dict) -> str:
    out = []
    for part in a:
        for k in sorted(set(a[part]) | set(b[part]), key=str):
            if a[part].get(k) != b[part].get(k):
                out.append(f"{part}[{k}]: mirror={a[part].get(k)} db={b[part].get(k)}")
    return "mirror != database:\n" + "\n".join(out[:10])


# HALL_MODEL_NO_SHRINK=1 reports the first failing program as found (quick checks of a
# deliberately broken build); by default hypothesis shrinks it to the shortest one.
PHASES = [Phase.explicit, Phase.generate] if os.environ.get("HALL_MODEL_NO_SHRINK") else list(Phase)
SETTINGS = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, phases=PHASES,
                    suppress_health_check=list(HealthCheck), database=None, print_blob=True)


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print(f"\nmodel-based test: {STATS['steps']} steps in {STATS['examples']} programs, "
          f"{STATS['commits']} commits ({STATS['batched']} with several operations), {STATS['acks']} acks, "
          f"{STATS['timeouts']} timed-out waits, {STATS['crashes']} crashes, "
          f"up to {STATS['missed_prompts']} missed camera prompts in a program")
    print("outcomes: " + ", ".join(f"{n} {code} {k}" for (n, code), k in sorted(OUTCOMES.items())))


def test_interleavings():
    run_state_machine_as_test(seed(SEED)(Interleavings), settings=SETTINGS)
