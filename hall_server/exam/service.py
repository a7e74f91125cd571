"""The exam service: what a phone or a console may do, decided in one place.

It keeps a mirror of the database in memory (loaded once at start) so that reads never
touch SQLite on the event loop, and sends every change through the single writer, updating
the mirror only after the change is committed. The mirror is touched only from the event
loop's thread, so it needs no locks.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import secrets
import time
from typing import Callable

from ..auth import qr_tokens
from ..auth.ratelimit import LoginLimiter
from ..db import schema
from ..db.writer import StorageError, Writer
from . import ops, rules
from .room_service import RoomActions
from .errors import ExamError

MAX_STR = 64
_OPTION_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _hash_session(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


class ExamService(RoomActions):
    def __init__(self, cfg, writer: Writer, clock: Callable[[], float] = time.time):
        self.cfg = cfg
        self.writer = writer
        self.clock = clock
        sec = cfg["security"]
        self.limiter = LoginLimiter(sec["login_max_failures"], sec["login_lockout_seconds"])
        self.on_attempt: Callable[[str], None] = lambda ticket: None
        # An answer changes only the console's progress column: batched, not pushed per answer.
        self.on_progress: Callable[[str], None] = lambda ticket: None
        self.on_sitting: Callable[[str], None] = lambda sitting_id: None
        self.on_replaced: Callable[[str, str | None], None] = lambda ticket, old_device: None
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
            for r in conn.execute("SELECT ticket, level, facts, ts FROM violations ORDER BY id"):
                self.violations.setdefault(r["ticket"], []).append(
                    {"level": r["level"], "facts": r["facts"], "ts": r["ts"]})
            for r in conn.execute("SELECT ticket, q, choice, seq FROM answers"):
                self.answers.setdefault(r["ticket"], {})[r["q"]] = (r["choice"], r["seq"])
        finally:
            conn.close()
        for ticket, a in self.attempts.items():
            if a["session_hash"]:
                self.sessions[a["session_hash"]] = ticket
        if "site_key_private" not in self.meta:
            raise RuntimeError("数据库中没有考点密钥：请先导入考点数据包")
        self.site_key = qr_tokens.private_key(self.meta["site_key_private"])
        self.site_public = self.site_key.public_key()
        self.receipt_key = hashlib.sha256(b"hall-receipt|" + self.meta["site_key_private"].encode()).digest()
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
            "earliest_submit": _ms(rules.earliest_submit(opened, st)) if opened else None,
            "late_entry_until": _ms(rules.late_entry_until(st)),
            "question_count": s["question_count"],
            "duration_s": s["duration_s"] + (a.get("extra_s") or 0),
            "answered": self.answered_count(ticket),
            "receipt": a.get("receipt"),
            "submitted_at": _ms(a.get("submitted_at")),
            "submit_reason": a.get("submit_reason"),
            "paper_hash": paper[1] if paper else None,
        }

    def answered_count(self, ticket: str) -> int:
        n = self._answered.get(ticket)
        if n is None:  # counted once, then kept up to date by _mirror_answer
            n = self._answered[ticket] = sum(1 for c, _ in self.answers.get(ticket, {}).values() if c is not None)
        return n

    def replace_answers(self, ticket: str, answers: dict[int, tuple[str | None, int]]) -> None:
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
            "focus": {k: v for k, v in self.focus_stats.get(ticket, {}).items() if k != "hidden_since"}
                     | {"hidden_now": bool(self.focus_stats.get(ticket, {}).get("hidden_since"))},
            "violations": [{"level": v["level"], "facts": v["facts"], "ts": _ms(v["ts"])}
                           for v in self.violations.get(ticket, [])],
        }

    def sitting_view(self, sitting_id: str) -> dict:
        s = self.sittings[sitting_id]
        tickets = self.tickets_in(sitting_id)
        from .counts import attendance  # 应到/实到/缺考: one definition (exam/counts.py)

        seen = attendance(({"ticket": t, **self.attempts.get(t, {})} for t in tickets), s["status"],
                          rules.late_entry_until(ops.sitting_times(s)), self.clock())
        return {
            "sitting_id": sitting_id, "sitting_no": s["sitting_no"], "room_id": s["room_id"],
            "room": self.rooms[s["room_id"]]["name"], "date": s["date"], "planned_start": s["planned_start"],
            "status": s["status"], "started_at": _ms(s["started_at"]), "ended_at": _ms(s["ended_at"]),
            "expected": seen.expected, "present": seen.present, "absent": seen.absent, "pending": seen.pending,
            "absentees": list(seen.absentees),
            "paused_at": _ms(s["paused_at"]), "paused_total_s": s["paused_total_s"],
            "late_entry_until": _ms(rules.late_entry_until(ops.sitting_times(s))),
            "submitted": sum(1 for t in tickets if self.attempts.get(t, {}).get("status") in ("submitted", "terminated")),
            "duration_s": s["duration_s"], "question_count": s["question_count"],
            "sealed": sitting_id in self.sealed,
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
        wait = self.limiter.retry_after("t:" + ticket, "a:" + addr)
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
        if c is None or c["id_number"][-6:].upper() != id6.strip().upper():
            self.limiter.failed("t:" + ticket, "a:" + addr)
            raise ExamError("bad_credentials")
        self.limiter.succeeded("t:" + ticket)
        if c["sitting_id"] != claims.sitting_id:
            raise ExamError("wrong_room")
        old = self.attempts.get(ticket)
        if (old and old["device_id"] and old["device_id"] != device
                and old["status"] in ("logged_in", "confirmed", "answering")
                and sec["device_change_requires_approval"]):
            # A second phone waits for an invigilator's tap; the first keeps working.
            self.pending_devices[ticket] = {"device": device, "since": self.clock()}
            self.on_attempt(ticket)
            raise ExamError("awaiting_approval")
        session = secrets.token_urlsafe(24)
        h = _hash_session(session)
        row = self._write(ops.login, ticket, c["sitting_id"], self.clock(), device, h)
        if old and old["session_hash"]:
            self.sessions.pop(old["session_hash"], None)
            self.retired_sessions[old["session_hash"]] = ticket
        self.attempts[ticket] = row
        self.sessions[h] = ticket
        if old and old["device_id"] != device:
            self.on_replaced(ticket, old["device_id"])
        self.on_attempt(ticket)
        return ticket, session

    def resume(self, session, device) -> str:
        if not isinstance(session, str) or not isinstance(device, str) or len(session) > MAX_STR:
            raise ExamError("bad_request")
        h = _hash_session(session)
        ticket = self.sessions.get(h)
        if ticket is None:
            raise ExamError("replaced" if h in self.retired_sessions else "bad_session")
        if self.attempts[ticket]["device_id"] != device:
            raise ExamError("replaced")
        return ticket

    def ticket_for_session(self, session: str) -> str | None:
        return self.sessions.get(_hash_session(session)) if isinstance(session, str) else None

    def confirm(self, ticket: str) -> None:
        self.attempts[ticket] = self._write(ops.confirm, ticket, self.clock())
        self.on_attempt(ticket)

    def open(self, ticket: str) -> None:
        a = self.attempts[ticket]
        if a["status"] in ("logged_in",):
            raise ExamError("not_confirmed")
        if a["status"] == "confirmed":
            refusal = rules.may_open(self.sitting_times(a["sitting_id"]), self.clock(), bool(a["late_reason"]))
            if refusal:
                raise ExamError(refusal)
        self.attempts[ticket] = self._write(ops.open_paper, ticket, self.clock())
        self.on_attempt(ticket)

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
        q, choice, seq = self._parse_answer(ticket, q, choice, seq)
        now = self.clock()
        a = self.attempts[ticket]
        s = self.sittings[a["sitting_id"]]
        stored = self.answers.get(ticket, {}).get(q)
        settled = self.storage_settled.get((ticket, q, seq))
        if settled is not None and settled == choice:
            return stored  # saved by the time-up sweep after a storage fault: tell the phone
        # An answer the laptop failed to save (disk full) is judged, when the phone retries
        # it, at the moment it first arrived: the fault was ours, not the candidate's.
        first = self.storage_refused.get((ticket, q, seq))
        received = first[1] if first and first[0] == choice else now
        refusal = rules.answer_refusal(a["status"], received, a["deadline_at"], s["status"])
        if refusal:
            raise ExamError(refusal)
        if stored is not None and not rules.newer(seq, stored[1]):
            return stored  # replay: already durable, no write needed
        try:
            choice, seq = self._write(ops.answer, ticket, q, choice, seq, received, device)
        except ExamError as e:
            if e.code == "storage":
                self.storage_refused.setdefault((ticket, q, seq), (choice, received))
            raise
        self.storage_refused.pop((ticket, q, seq), None)
        self._mirror_answer(ticket, q, choice, seq)
        self.presence.setdefault(ticket, {})["last_answer"] = now
        self.on_progress(ticket)
        return choice, seq

    def _mirror_answer(self, ticket: str, q: int, choice, seq: int) -> None:
        cur = self.answers.setdefault(ticket, {}).get(q)
        if cur is None or seq >= cur[1]:
            self.answers[ticket][q] = (choice, seq)
            if ticket in self._answered:
                self._answered[ticket] += (choice is not None) - (cur is not None and cur[0] is not None)

    def submit(self, ticket: str, answers, device: str | None) -> None:
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
        if a["status"] in ("submitted", "terminated"):
            return
        row = self._write(ops.submit, ticket, parsed, self.clock(), device, self.receipt_key)
        for q, choice, seq in parsed:
            self._mirror_answer(ticket, q, choice, seq)
        self.attempts[ticket] = row
        self.on_attempt(ticket)

    def saved_answers(self, ticket: str) -> dict:
        return {str(q): [c, s] for q, (c, s) in sorted(self.answers.get(ticket, {}).items())}

    def focus(self, ticket: str, hidden, ms) -> None:
        if not isinstance(hidden, bool) or type(ms) is not int or not 0 <= ms < 10**9:
            raise ExamError("bad_request")
        self._write(ops.record_focus, ticket, hidden, ms, self.clock())
        st = self.focus_stats.setdefault(ticket, {"count": 0, "hidden_ms": 0, "hidden_since": None})
        if hidden:
            st["count"] += 1
            st["hidden_since"] = self.clock()
        else:
            st["hidden_ms"] += ms
            st["hidden_since"] = None
        self.on_attempt(ticket)

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
        rows = self._write(ops.finalize_due, now, self.receipt_key, late)
        for t, q, c, seq, _ in late:
            self._mirror_answer(t, q, c, seq)
            self.storage_refused.pop((t, q, seq), None)
            self.storage_settled[(t, q, seq)] = c
        for row in rows:
            self.attempts[row["ticket"]] = row
            self.on_attempt(row["ticket"])
        return [r["ticket"] for r in rows]

    # -- staff actions --------------------------------------------------------------
    def start_sitting(self, sitting_id: str, staff: str, release_code=None) -> None:
        if sitting_id not in self.sittings:
            raise ExamError("unknown_sitting")
        released = None
        if sitting_id in self.sealed and self.sittings[sitting_id]["status"] == "planned":
            released = self._open_sealed(sitting_id, release_code)
        self.sittings[sitting_id] = self._write(ops.start_sitting, sitting_id, self.clock(), staff, released)
        if released is not None:
            del self.sealed[sitting_id]
            self.media.update({k: (mimetypes.guess_type(k)[0] or "application/octet-stream", v)
                               for k, v in released["media"].items()})
            from ..importer import paper_hash

            for ticket, paper in released["papers"].items():
                self._load_paper(ticket, json.dumps({"questions": paper["questions"]}, ensure_ascii=False),
                                 paper_hash(paper["questions"]))
        self.on_sitting(sitting_id)

    def _open_sealed(self, sitting_id: str, release_code) -> dict:
        """Decrypt a sitting's papers with its release code (scrypt: off the event loop)."""
        from provisioning.bundle import BundleError, load_sealed, open_sitting

        from ..blocking import run_blocking

        if not isinstance(release_code, str) or not release_code.strip() or len(release_code) > 64:
            raise ExamError("paper_sealed")
        try:
            opened = run_blocking(open_sitting, load_sealed(self.sealed[sitting_id]), release_code)
        except BundleError as e:
            raise ExamError("bad_release_code", str(e)) from None
        expected = set(self.tickets_in(sitting_id))
        if set(opened["papers"]) != expected or set(opened["keys"]) != expected:
            raise ExamError("bad_release_code", "解封的试卷与本场次考生名单不一致")
        return opened

    def end_sitting(self, sitting_id: str, staff: str) -> None:
        if sitting_id not in self.sittings:
            raise ExamError("unknown_sitting")
        s, finished = self._write(ops.end_sitting, sitting_id, self.clock(), staff, self.receipt_key)
        self.sittings[sitting_id] = s
        for row in finished:
            self.attempts[row["ticket"]] = row
        self.on_sitting(sitting_id)

    # -- plumbing -------------------------------------------------------------------
    def _write(self, fn, *args):
        try:
            return self.writer.call(fn, *args)
        except StorageError:
            raise ExamError("storage") from None
