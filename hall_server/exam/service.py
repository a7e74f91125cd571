"""The exam service: what a phone or a console may do, decided in one place.

It keeps a mirror of the database in memory (loaded once at start) so that reads never
touch SQLite on the event loop, and sends every change through the single writer.

The mirror rule: the mirror changes only from what a committed transaction returned (a
`Changes`, or an answer's stored (choice, seq)), applied by the writer's waiters in commit
order on the event loop's thread (`apply`), before the caller wakes and whether or not it
still waits. Acks are built from the same results. So the mirror is the database, whatever
shares a batch, whatever times out; it needs no locks.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import secrets
from typing import Callable

from contracts.ratelimit import LoginLimiter

from ..auth import qr_tokens
from ..db import schema
from ..db.writer import StorageError, Writer
from . import ops, rules
from .changes import Changes
from .clock import ExamClock, boot_id
from .errors import ExamError
from .exception_actions import CandidateExceptions
from .room_service import RoomActions
from ..proctor.service import ProctorActions

MAX_STR = 64
_OPTION_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def session_hash(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


class ExamService(RoomActions, CandidateExceptions, ProctorActions):
    def __init__(self, cfg, writer: Writer, clock: Callable[[], float] | None = None):
        self.cfg = cfg
        self.writer = writer
        self.clock = clock or ExamClock()  # exam time: never steps with the wall (exam/clock.py)
        sec = cfg["security"]
        self.limiter = LoginLimiter(sec["login_max_failures"], sec["login_lockout_seconds"], clock=self.clock,
                                    per_ticket_failures=sec["login_max_failures_per_ticket"])
        # answer_log rows kept per question: the log is for disputes, not for a flooding phone
        self.log_cap = cfg["rules"]["answer_log_max_per_question"]
        self.on_attempt: Callable[[str], None] = lambda ticket: None
        # An answer changes only the console's progress column: batched, not pushed per answer.
        self.on_progress: Callable[[str], None] = lambda ticket: None
        self.on_sitting: Callable[[str], None] = lambda sitting_id: None
        self.on_replaced: Callable[[str, str | None], None] = lambda ticket, old_device: None
        # a candidate left a room (moved): its console drops the row, both rooms recount
        self.on_moved: Callable[[str, str], None] = lambda ticket, from_sitting: None
        self.exceptions: dict[str, list[dict]] = {}  # ticket -> candidate_exceptions rows (stop, move, reschedule)
        self.meta: dict[str, str] = {}
        self.rooms: dict[str, dict] = {}
        self.sittings: dict[str, dict] = {}
        self.candidates: dict[str, dict] = {}
        self.attempts: dict[str, dict] = {}
        self.papers: dict[str, tuple[bytes, str, list[tuple[str, ...]]]] = {}  # ticket -> (gzip body, hash, option keys)
        self.answers: dict[str, dict[int, tuple[str | None, int]]] = {}
        self._answered: dict[str, int] = {}  # ticket -> answered questions, cached for the console
        self._tickets_by_sitting: dict[str, list[str]] | None = None  # built on first use, after load
        self.sessions: dict[str, str] = {}
        self.retired_sessions: dict[str, str] = {}
        self.presence: dict[str, dict] = {}
        self.media: dict[str, tuple[str, bytes]] = {}
        self.sealed: dict[str, str] = {}  # sitting_id -> sealed papers awaiting the release code
        self.envelopes: set[str] = set()  # sittings whose release code is also in a sealed envelope
        self.pending_devices: dict[str, dict] = {}   # ticket -> {"device", "since"}
        self.storage_refused: dict[tuple, tuple] = {}  # (ticket, q, seq) -> (choice, first received_at)
        self.storage_settled: dict[tuple, str | None] = {}  # those the time-up sweep saved -> choice
        self.violations: dict[str, list[dict]] = {}
        self.focus_stats: dict[str, dict] = {}       # ticket -> {"count", "hidden_ms", "hidden_since"}  # ticket -> {"connected": bool, "last_seen": t}

    # -- loading --------------------------------------------------------------------
    def load(self, db_path) -> "ExamService":
        conn = schema.connect(db_path, readonly=True)
        try:
            self.meta = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
            self.rooms = {r["room_id"]: dict(r) for r in conn.execute("SELECT * FROM rooms")}
            self.sittings = {r["sitting_id"]: dict(r) for r in conn.execute("SELECT * FROM sittings")}
            self.candidates = {r["ticket"]: dict(r) for r in conn.execute("SELECT * FROM candidates")}
            self._tickets_by_sitting = None
            self.attempts = {r["ticket"]: dict(r) for r in conn.execute("SELECT * FROM attempts")}
            for r in conn.execute("SELECT ticket, paper_json, paper_hash FROM papers"):
                self._load_paper(r["ticket"], r["paper_json"], r["paper_hash"])
            self.media = {r["name"]: (r["content_type"], bytes(r["data"]))
                          for r in conn.execute("SELECT name, content_type, data FROM media")}
            self.sealed = {r["sitting_id"]: r["sealed"] for r in conn.execute(
                "SELECT sitting_id, sealed FROM sealed_sittings WHERE released_at IS NULL")}
            # sittings with a 放行码信封 (fixed at import): the start form offers to open it
            self.envelopes = {r[0] for r in conn.execute("SELECT sitting_id FROM release_envelopes")}
            for r in conn.execute("SELECT ticket, level, facts, ts FROM violations ORDER BY id"):
                self.violations.setdefault(r["ticket"], []).append(
                    {"level": r["level"], "facts": r["facts"], "ts": r["ts"]})
            for r in conn.execute("SELECT * FROM candidate_exceptions ORDER BY id"):
                self.exceptions.setdefault(r["ticket"], []).append(dict(r))
            for r in conn.execute("SELECT ticket, q, choice, seq FROM answers"):
                self.answers.setdefault(r["ticket"], {})[r["q"]] = (r["choice"], r["seq"])
            if "site_key_private" in self.meta:
                self.receipt_key = hashlib.sha256(b"hall-receipt|" + self.meta["site_key_private"].encode()).digest()
                from pathlib import Path

                self.load_proctor(conn, Path(db_path).parent)  # captures, id checks (proctor/service.py)
        finally:
            conn.close()
        for ticket, a in self.attempts.items():
            if a["session_hash"]:
                self.sessions[a["session_hash"]] = ticket
        if "site_key_private" not in self.meta:
            raise RuntimeError("数据库中没有考点密钥：请先导入考点数据包")
        self.site_key = qr_tokens.private_key(self.meta["site_key_private"])
        self.site_public = self.site_key.public_key()
        self.receipt_key = ops.receipt_key(self.meta["site_key_private"])
        return self

    def _load_paper(self, ticket: str, paper_json: str, paper_hash: str) -> None:
        paper = json.loads(paper_json)
        # One shared tuple per distinct option set ("A".."D", "A".."E"): 100 fresh tuples per
        # candidate were 16 MB of live objects at 2,000 candidates; loading the service alone
        # took RSS 48 -> 181 MB before, 48 -> 166 MB after (docs/benchmarks.md).
        option_keys = [_OPTION_KEYS.setdefault(k, k)
                       for k in (tuple(o["key"] for o in q["options"]) for q in paper["questions"])]
        c = self.candidates.get(ticket, {})
        s = self.sittings.get(c.get("sitting_id"), {})
        public = {
            "paper_hash": paper_hash,
            "ticket": ticket,
            "category": c.get("category"),
            "title": self.meta.get("exam_title", ""),
            "question_count": len(paper["questions"]),
            "duration_s": s.get("duration_s"),
            "questions": paper["questions"],
        }
        body = json.dumps(public, ensure_ascii=False, separators=(",", ":")).encode()
        # Kept only compressed (a quarter of the memory at 2,000 candidates) and compressed
        # once here, not per request: a whole room fetches at the same second.
        self.papers[ticket] = (gzip.compress(body, compresslevel=6, mtime=0), paper_hash, option_keys)

    # -- views ----------------------------------------------------------------------
    def sitting_times(self, sitting_id: str) -> rules.SittingTimes:
        return ops.sitting_times(self.sittings[sitting_id])

    def state(self, ticket: str) -> dict:
        c = self.candidates[ticket]
        s = self.sittings[c["sitting_id"]]
        a = self.attempts.get(ticket) or {}
        st = ops.sitting_times(s)
        opened = a.get("opened_at")
        paper = self.papers.get(ticket)
        return {
            "status": a.get("status", "not_arrived"),
            "sitting": {"status": s["status"], "started_at": _ms(s["started_at"]),
                        "planned_start": s["planned_start"]},
            "opened_at": _ms(opened),
            "deadline": _ms(a.get("deadline_at")),
            "earliest_submit": _ms(rules.earliest_submit(opened, st, a["paused_s"])) if opened else None,
            "late_entry_until": _ms(rules.late_entry_until(st)),
            "question_count": s["question_count"],
            "duration_s": s["duration_s"] + (a.get("extra_s") or 0),
            "answered": self.answered_count(ticket),
            "receipt": a.get("receipt"),
            "submitted_at": _ms(a.get("submitted_at")),
            "submit_reason": a.get("submit_reason"),
            "paper_hash": paper[1] if paper else None,
            "camera": self.camera_state(ticket),  # login photo and the prompt due now (proctor)
        }

    def answered_count(self, ticket: str) -> int:
        n = self._answered.get(ticket)
        if n is None:  # counted once, then kept up to date by _apply_answer
            n = self._answered[ticket] = sum(1 for c, _ in self.answers.get(ticket, {}).values() if c is not None)
        return n

    def replace_answers(self, ticket: str, answers: dict[int, tuple[str | None, int]]) -> None:
        """Only from a committed transaction's Changes (see apply)."""
        self.answers[ticket] = answers
        self._answered.pop(ticket, None)

    def progress_row(self, ticket: str) -> list:
        """What changes on the console with every answer: [ticket, answered, last_answer ms]."""
        return [ticket, self.answered_count(ticket), _ms(self.presence.get(ticket, {}).get("last_answer"))]

    def candidate_view(self, ticket: str) -> dict:
        c = self.candidates[ticket]
        s = self.sittings[c["sitting_id"]]
        return {
            "ticket": ticket, "name": c["name"], "gender": c["gender"], "category": c["category"],
            "level": c["level"], "unit": c["unit"], "seat_no": c["seat_no"],
            "room": self.rooms[s["room_id"]]["name"], "sitting_no": s["sitting_no"],
            "site": self.meta.get("site_name", ""), "demo": self.meta.get("demo") == "1",
            "rehearsal": self.meta.get("rehearsal") == "1",
        }

    def staff_row(self, ticket: str) -> dict:
        c = self.candidates[ticket]
        a = self.attempts.get(ticket)
        p = self.presence.get(ticket, {})
        return {
            "ticket": ticket, "name": c["name"], "seat_no": c["seat_no"], "category": c["category"],
            "unit": c["unit"],
            "status": a["status"] if a else "not_arrived",
            "answered": self.answered_count(ticket),
            "signin_order": a["signin_order"] if a else None,
            "connected": bool(p.get("connected")),
            "last_seen": _ms(p.get("last_seen")),
            "deadline": _ms(a["deadline_at"]) if a else None,
            "device_changes": a["device_changes"] if a else 0,
            "receipt": a["receipt"] if a else None,
            "score": None,  # raw scores stay off the live screen; they are in the site report
            "mode": a["mode"] if a else "phone",
            "late_reason": a["late_reason"] if a else None,
            "extra_s": a["extra_s"] if a else 0,
            "last_answer": _ms(p.get("last_answer")),
            "pending_device": ticket in self.pending_devices,
            "login_locked_s": int(self.limiter.ticket_locked_for(ticket)),
            "focus": {k: v for k, v in self.focus_stats.get(ticket, {}).items() if k != "hidden_since"}
                     | {"hidden_now": bool(self.focus_stats.get(ticket, {}).get("hidden_since"))},
            "violations": [{"level": v["level"], "facts": v["facts"], "ts": _ms(v["ts"])}
                           for v in self.violations.get(ticket, [])],
            "camera": self.camera_summary(ticket),
            "sitting_id": c["sitting_id"],
            "exceptions": [{"kind": e["kind"], "reason": e["reason"], "ts": _ms(e["ts"]), "from": e["sitting_id"],
                            "to": e["to_sitting"]} for e in self.exceptions.get(ticket, [])],
        }

    def sitting_view(self, sitting_id: str) -> dict:
        s = self.sittings[sitting_id]
        tickets = self.tickets_in(sitting_id)
        from .counts import attendance  # 应到/实到/缺考: one definition (exam/counts.py)

        seen = attendance(({"ticket": t, **self.attempts.get(t, {})} for t in tickets), ops.sitting_times(s),
                          self.clock())
        return {
            "sitting_id": sitting_id, "sitting_no": s["sitting_no"], "room_id": s["room_id"],
            "room": self.rooms[s["room_id"]]["name"], "date": s["date"], "planned_start": s["planned_start"],
            "status": s["status"], "started_at": _ms(s["started_at"]), "ended_at": _ms(s["ended_at"]),
            "expected": seen.expected, "present": seen.present, "absent": seen.absent, "pending": seen.pending,
            "rescheduled": seen.rescheduled,
            "absentees": list(seen.absentees),
            "paused_at": _ms(s["paused_at"]), "paused_total_s": s["paused_total_s"],
            "late_entry_until": _ms(rules.late_entry_until(ops.sitting_times(s))),
            "submitted": sum(1 for t in tickets if self.attempts.get(t, {}).get("status") in ("submitted", "terminated")),
            "duration_s": s["duration_s"], "question_count": s["question_count"],
            "sealed": sitting_id in self.sealed, "envelope": sitting_id in self.envelopes,
        }

    def tickets_in(self, sitting_id: str) -> list[str]:
        # The roster is fixed once imported; the sweeper asks every 0.25 s for every room.
        by_sitting = self._tickets_by_sitting
        if by_sitting is None:
            by_sitting = {}
            for t, c in self.candidates.items():
                by_sitting.setdefault(c["sitting_id"], []).append(t)
            for ts in by_sitting.values():
                ts.sort(key=lambda t: (self.candidates[t]["seat_no"] or 0, t))
            self._tickets_by_sitting = by_sitting
        return list(by_sitting.get(sitting_id, ()))

    # -- QR tokens ------------------------------------------------------------------
    def qr_token(self, sitting_id: str) -> str:
        """A fresh room token, valid until the sitting is over (plus slack for pauses)."""
        s = self.sittings[sitting_id]
        now = self.clock()
        slack = self.cfg["security"]["qr_valid_after_end_minutes"] * 60
        start = s["started_at"] or max(_epoch(s["planned_start"]), now)
        exp = start + s["late_entry_s"] + s["duration_s"] + s["paused_total_s"] + slack
        return qr_tokens.issue(self.site_key, self.meta["site_no"], sitting_id, int(now), int(exp))

    # -- candidate actions ----------------------------------------------------------
    def login(self, token, ticket, id6, device, addr: str) -> tuple[str, str]:
        """(ticket, session) for a valid login, else ExamError."""
        if not all(isinstance(v, str) and 0 < len(v) <= MAX_STR for v in (ticket, id6, device)):
            raise ExamError("bad_request")
        ticket = ticket.strip()
        keys = self.limiter.keys(ticket, addr)
        wait = self.limiter.retry_after(*keys)
        if wait > 0:
            raise ExamError("rate_limited", retry_after=int(wait) + 1)
        sec = self.cfg["security"]
        try:
            claims = qr_tokens.verify(self.site_public, token, self.meta["site_no"], self.clock(),
                                      sec["qr_rotate_seconds"], sec["qr_grace_seconds"])
        except qr_tokens.TokenError as e:
            raise ExamError(e.code, e.message) from None
        if claims.sitting_id not in self.sittings:
            raise ExamError("bad_token")
        c = self.candidates.get(ticket)
        # The room first: a phone holding another room's QR must not be able to use up a
        # candidate's tries (it only spends its own address's).
        if c is not None and c["sitting_id"] != claims.sitting_id:
            self.limiter.failed(self.limiter.address_key(addr))
            raise ExamError("wrong_room")
        if c is None or c["id_number"][-6:].upper() != id6.strip().upper():
            locked = self.limiter.failed(*keys)
            if c is not None and locked:
                self.on_attempt(ticket)  # the console shows the lock and offers 解除锁定
            raise ExamError("bad_credentials")
        self.limiter.succeeded(self.limiter.pair_key(ticket, addr))
        approval = sec["device_change_requires_approval"]
        old = self.attempts.get(ticket)
        if (approval and old and old["device_id"] and old["device_id"] != device
                and old["status"] in ops.ACTIVE):
            self._await_approval(ticket, device)
        session = secrets.token_urlsafe(24)
        try:
            self._commit(ops.login, ticket, c["sitting_id"], self.clock(), device, session_hash(session), approval)
        except ExamError as e:
            if e.code == "awaiting_approval":  # another phone's login got in first, same batch
                self._await_approval(ticket, device)
            raise
        return ticket, session

    def _await_approval(self, ticket: str, device: str) -> None:
        # A second phone waits for an invigilator's tap; the first keeps working.
        self.pending_devices[ticket] = {"device": device, "since": self.clock()}
        self.on_attempt(ticket)
        raise ExamError("awaiting_approval")

    def resume(self, session, device) -> str:
        if not isinstance(session, str) or not isinstance(device, str) or len(session) > MAX_STR:
            raise ExamError("bad_request")
        h = session_hash(session)
        ticket = self.sessions.get(h) or self.retired_sessions.get(h)
        if ticket is None:
            raise ExamError("bad_session")
        # A retired session on the attempt's own device is the same phone, whose later
        # login (a retry whose ack was lost) replaced it: not another device.
        if self.attempts[ticket]["device_id"] != device:
            raise ExamError("replaced")
        return ticket

    def ticket_for_session(self, session: str) -> str | None:
        return self.sessions.get(session_hash(session)) if isinstance(session, str) else None

    def confirm(self, ticket: str) -> None:
        self._commit(ops.confirm, ticket, self.clock())

    def open(self, ticket: str) -> None:
        a = self.attempts[ticket]
        if a["status"] in ("logged_in",):
            raise ExamError("not_confirmed")
        if a["status"] == "confirmed":
            refusal = rules.may_open(self.sitting_times(a["sitting_id"]), self.clock(), bool(a["late_reason"]))
            if refusal:
                raise ExamError(refusal)
            if self.login_photo(ticket) == "needed":
                raise ExamError("capture_required")
        self._commit(ops.open_paper, ticket, self.clock(), self.needs_login_photo())

    def _parse_answer(self, ticket: str, q, choice, seq) -> tuple[int, str | None, int]:
        if type(q) is not int or type(seq) is not int or not (0 <= seq < 2**53):
            raise ExamError("bad_request")
        if choice is not None and not isinstance(choice, str):
            raise ExamError("bad_request")
        keys = self.papers[ticket][2] if ticket in self.papers else None
        if keys is None or not 1 <= q <= len(keys):
            raise ExamError("bad_question")
        if not rules.valid_choice(choice, keys[q - 1]):
            raise ExamError("bad_choice")
        return q, choice, seq

    def answer(self, ticket: str, q, choice, seq, device: str | None) -> tuple[str | None, int]:
        """The stored (choice, seq) of q once this answer is settled: the phone's own answer
        if it won under the seq rule, else what the database holds."""
        q, choice, seq = self._parse_answer(ticket, q, choice, seq)
        now = self.clock()
        a = self.attempts[ticket]
        s = self.sittings[a["sitting_id"]]
        stored = self.answers.get(ticket, {}).get(q)
        settled = self.storage_settled.get((ticket, q, seq))
        if settled is not None and settled == choice and stored is not None:
            return stored  # saved by the time-up sweep after a storage fault: tell the phone
        # An answer the laptop failed to save (disk full) is judged, when the phone retries
        # it, at the moment it first arrived: the fault was ours, not the candidate's.
        first = self.storage_refused.get((ticket, q, seq))
        received = first[1] if first and first[0] == choice else now
        refusal = rules.answer_refusal(a["status"], received, a["deadline_at"], s["status"])
        if refusal:
            raise ExamError(refusal)
        if stored is not None and not rules.newer(seq, stored[1]):
            return stored  # replay: the mirror is the database, no write needed
        try:
            return self._write(ops.answer, ticket, q, choice, seq, received, device, self.log_cap,
                               apply=lambda stored: self._apply_answer(ticket, q, seq, stored))
        except ExamError as e:
            if e.code == "storage":
                self.storage_refused.setdefault((ticket, q, seq), (choice, received))
            raise

    def _apply_answer(self, ticket: str, q: int, sent_seq: int, stored: tuple) -> None:
        ans = self.answers.setdefault(ticket, {})
        cur = ans.get(q)
        ans[q] = stored
        if ticket in self._answered:
            self._answered[ticket] += (stored[0] is not None) - (cur is not None and cur[0] is not None)
        self.storage_refused.pop((ticket, q, sent_seq), None)
        self.presence.setdefault(ticket, {})["last_answer"] = self.clock()
        self.on_progress(ticket)

    def submit(self, ticket: str, answers, device: str | None) -> Changes:
        """Hand in. The Changes say what was sealed: `result` is "submitted", or
        "already_final" when the attempt had been sealed before (nothing sent was stored)."""
        parsed = []
        if answers is not None:
            if not isinstance(answers, dict) or len(answers) > 1000:
                raise ExamError("bad_request")
            for k, v in answers.items():
                if (not isinstance(k, str) or not (k.isascii() and k.isdigit()) or len(k) > 4
                        or not isinstance(v, list) or len(v) != 2):
                    raise ExamError("bad_request")
                parsed.append(self._parse_answer(ticket, int(k), v[0], v[1]))
        a = self.attempts[ticket]
        if a["status"] in ops.FINAL:  # the mirror is the database: no write needed
            return Changes(attempts=[a], answers={ticket: dict(self.answers.get(ticket, {}))}, result="already_final")
        return self._commit(ops.submit, ticket, parsed, self.clock(), device, self.receipt_key, self.log_cap)

    def saved_answers(self, ticket: str, answers: dict | None = None) -> dict:
        src = self.answers.get(ticket, {}) if answers is None else answers
        return {str(q): [c, s] for q, (c, s) in sorted(src.items())}

    def focus(self, ticket: str, hidden, ms) -> None:
        if not isinstance(hidden, bool) or type(ms) is not int or not 0 <= ms < 10**9:
            raise ExamError("bad_request")
        self._write(ops.record_focus, ticket, hidden, ms, self.clock(), apply=self._apply_focus)

    def _apply_focus(self, ch: Changes) -> None:
        f = ch.result
        st = self.focus_stats.setdefault(f["ticket"], {"count": 0, "hidden_ms": 0, "hidden_since": None})
        if f["hidden"]:
            st["count"] += 1
            st["hidden_since"] = f["ts"]
        else:
            st["hidden_ms"] += f["ms"]
            st["hidden_since"] = None
        self.on_attempt(f["ticket"])

    def seen(self, ticket: str, connected: bool) -> None:
        self.presence.setdefault(ticket, {}).update(connected=connected, last_seen=self.clock())

    # -- time -----------------------------------------------------------------------
    def sweep_timeups(self) -> list[str]:
        now = self.clock()
        due = [t for t, a in self.attempts.items()
               if a["status"] == "answering" and a["deadline_at"] is not None and a["deadline_at"] <= now
               and self.sittings[a["sitting_id"]]["status"] != "paused"]
        if not due:
            return []
        late = [(t, q, c, seq, at) for (t, q, seq), (c, at) in self.storage_refused.items() if t in due]
        ch = self._write(ops.finalize_due, now, self.receipt_key, late, due, self.log_cap,
                         apply=self._apply_timeups)
        return [r["ticket"] for r in ch.attempts if r["submit_reason"] == "time_up"]

    def _apply_timeups(self, ch: Changes) -> None:
        for t, q, seq, c in ch.result:
            self.storage_refused.pop((t, q, seq), None)
            self.storage_settled[(t, q, seq)] = c
        self.apply(ch)

    def follow_wall_clock(self, limit_s: float) -> bool:
        """Exam time follows a changed wall clock again, but only while no sitting runs
        (a running sitting keeps the clock it started on). True if it moved."""
        clock = self.clock
        if not isinstance(clock, ExamClock) or abs(clock.drift()) <= limit_s:
            return False
        if any(s["status"] in ("started", "paused") for s in self.sittings.values()):
            return False
        step = clock.reanchor()
        self._write(ops.record_clock_anchor, clock.to_meta(boot_id()), clock.now(), step)
        return True

    # -- staff actions --------------------------------------------------------------
    def start_sitting(self, sitting_id: str, staff: str, release_code=None, envelope_seal=None) -> None:
        if sitting_id not in self.sittings:
            raise ExamError("unknown_sitting")
        if envelope_seal is not None:  # the code came from the 放行码信封: which one (ops.start_sitting checks)
            if not isinstance(envelope_seal, str) or len(envelope_seal) > 32:
                raise ExamError("bad_request", "请填写信封上的封条号")
            from contracts.site_bundle import normalize_seal

            envelope_seal = normalize_seal(envelope_seal)
            if not envelope_seal:
                raise ExamError("bad_request", "请填写信封上的封条号")
        released = None
        if sitting_id in self.sealed and self.sittings[sitting_id]["status"] == "planned":
            released = self._open_sealed(sitting_id, release_code)
        # Idempotent: a second console starting the same sitting gets its view, not an error.
        self._commit(ops.start_sitting, sitting_id, self.clock(), staff, released, envelope_seal)

    def _release(self, sitting_id: str, released: dict) -> None:
        """Mirror a sitting's papers once the transaction that released them committed."""
        from ..importer import paper_hash

        self.sealed.pop(sitting_id, None)
        self.media.update({k: (mimetypes.guess_type(k)[0] or "application/octet-stream", v)
                           for k, v in released["media"].items()})
        for ticket, paper in released["papers"].items():
            self._load_paper(ticket, json.dumps({"questions": paper["questions"]}, ensure_ascii=False),
                             paper_hash(paper["questions"]))

    def _open_sealed(self, sitting_id: str, release_code) -> dict:
        """Decrypt a sitting's papers with its release code (scrypt: off the event loop)."""
        from contracts.site_bundle import BundleError, load_sealed, open_sitting

        from ..blocking import run_blocking

        if not isinstance(release_code, str) or not release_code.strip() or len(release_code) > 64:
            raise ExamError("paper_sealed")
        try:
            opened = run_blocking(open_sitting, load_sealed(self.sealed[sitting_id]), release_code)
        except BundleError as e:
            raise ExamError("bad_release_code", str(e)) from None
        expected = self.home_roster(sitting_id)
        if set(opened["papers"]) != expected or set(opened["keys"]) != expected:
            raise ExamError("bad_release_code", "解封的试卷与本场次考生名单不一致")
        return opened

    def end_sitting(self, sitting_id: str, staff: str) -> None:
        if sitting_id not in self.sittings:
            raise ExamError("unknown_sitting")
        self._commit(ops.end_sitting, sitting_id, self.clock(), staff, self.receipt_key)

    def audit_staff(self, staff: str, action: str, data: dict) -> None:
        """A console action that changes no exam state (an upload, an export) in the audit chain."""
        self._write(ops.record_staff_action, staff, action, data, self.clock())

    # -- the mirror -----------------------------------------------------------------
    def apply(self, ch: Changes) -> None:
        """Mirror a committed operation's Changes: the only way the mirror changes (with
        _apply_answer and _apply_focus on the hot paths). Runs in commit order."""
        for s in ch.sittings:
            self.sittings[s["sitting_id"]] = s
            if ch.released is not None:
                self._release(s["sitting_id"], ch.released)
        for ticket, answers in ch.answers.items():
            self.replace_answers(ticket, dict(answers))
        for v in ch.violations:
            self.violations.setdefault(v["ticket"], []).append(
                {"level": v["level"], "facts": v["facts"], "ts": v["ts"]})
        moved = []
        for c in ch.candidates:
            old = self.candidates.get(c["ticket"])
            self.candidates[c["ticket"]] = c
            self._tickets_by_sitting = None
            if old is not None and old["sitting_id"] != c["sitting_id"]:
                moved.append((c["ticket"], old["sitting_id"]))
        for e in ch.exceptions:
            self.exceptions.setdefault(e["ticket"], []).append(e)
        touched = self.apply_proctor(ch.captures, ch.id_checks) if (ch.captures or ch.id_checks) else ()
        replaced = []
        for row in ch.attempts:
            ticket = row["ticket"]
            old = self.attempts.get(ticket)
            self.attempts[ticket] = row
            if old is not None and old["session_hash"] and old["session_hash"] != row["session_hash"]:
                self.sessions.pop(old["session_hash"], None)
                self.retired_sessions[old["session_hash"]] = ticket
                if old["device_id"] != row["device_id"]:
                    replaced.append((ticket, old["device_id"]))
            if row["session_hash"]:
                self.sessions[row["session_hash"]] = ticket
            if row["opened_at"] is not None:
                self._schedule(ticket, row)  # the prompts' moments (proctor/schedule.py)
        for ticket, old_device in replaced:
            self.pending_devices.pop(ticket, None)
            self.on_replaced(ticket, old_device)
        for ticket, from_sitting in moved:
            self.on_moved(ticket, from_sitting)
        pushed = {s["sitting_id"] for s in ch.sittings}
        for ticket in dict.fromkeys([r["ticket"] for r in ch.attempts] + [v["ticket"] for v in ch.violations]
                                    + [c["ticket"] for c in ch.candidates] + [e["ticket"] for e in ch.exceptions]
                                    + list(touched)):
            if self.candidates.get(ticket, {}).get("sitting_id") not in pushed:
                self.on_attempt(ticket)
        for sitting_id in pushed:
            self.on_sitting(sitting_id)

    # -- plumbing -------------------------------------------------------------------
    def _write(self, fn, *args, apply=None):
        try:
            return self.writer.call(fn, *args, apply=apply)
        except StorageError:
            raise ExamError("storage") from None

    def _commit(self, fn, *args) -> Changes:
        """Run an operation that returns Changes and mirror them (self.apply)."""
        return self._write(fn, *args, apply=self.apply)
