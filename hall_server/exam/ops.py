"""Writer operations: each runs inside the writer's transaction, in its own savepoint.

They re-check every rule against the database (the single source of truth), so a refusal
here rolls back cleanly and a race between two phones or a phone and the time-up sweep is
decided in one place, in commit order. Each returns a `Changes`: every row it changed, read
back inside the transaction; the service mirrors exactly that and builds its acks from it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3

from . import audit, rules
from .changes import Changes
from .errors import ExamError

FINAL = ("submitted", "terminated")
ACTIVE = ("logged_in", "confirmed", "answering")


def attempt_row(conn: sqlite3.Connection, ticket: str) -> dict | None:
    row = conn.execute("SELECT * FROM attempts WHERE ticket = ?", (ticket,)).fetchone()
    return dict(row) if row else None


def sitting_row(conn: sqlite3.Connection, sitting_id: str) -> dict:
    row = conn.execute("SELECT * FROM sittings WHERE sitting_id = ?", (sitting_id,)).fetchone()
    if row is None:
        raise ExamError("unknown_sitting")
    return dict(row)


def answer_set(conn: sqlite3.Connection, ticket: str) -> dict[int, tuple[str | None, int]]:
    return {q: (c, seq) for q, c, seq in conn.execute(
        "SELECT q, choice, seq FROM answers WHERE ticket = ?", (ticket,))}


def sitting_times(s: dict) -> rules.SittingTimes:
    return rules.SittingTimes(s["status"], s["started_at"], s["paused_at"], s["paused_total_s"],
                              s["duration_s"], s["late_entry_s"], s["earliest_submit_s"])


# -- candidates ---------------------------------------------------------------------

def login(conn, ticket: str, sitting_id: str, now: float, device: str, session_hash: str,
          approval_required: bool = True) -> Changes:
    a = attempt_row(conn, ticket)
    s = sitting_row(conn, sitting_id)
    if a is None or a["status"] == "absent":
        admitted = a is not None and bool(a["late_reason"])
        if s["status"] == "ended":
            raise ExamError("sitting_ended")
        until = rules.late_entry_until(sitting_times(s))
        if not admitted and (a is not None or (until is not None and now > until)):
            raise ExamError("late_entry")
        order = conn.execute("SELECT COALESCE(MAX(signin_order), 0) + 1 FROM attempts WHERE sitting_id = ?",
                             (sitting_id,)).fetchone()[0]
        conn.execute(
            "INSERT INTO attempts (ticket, sitting_id, status, signin_order, logged_in_at, device_id, session_hash)"
            " VALUES (?, ?, 'logged_in', ?, ?, ?, ?) ON CONFLICT (ticket) DO UPDATE SET status = 'logged_in',"
            " signin_order = excluded.signin_order, logged_in_at = excluded.logged_in_at,"
            " device_id = excluded.device_id, session_hash = excluded.session_hash",
            (ticket, sitting_id, order, now, device, session_hash))
        audit.append(conn, now, f"candidate:{ticket}", "login", sitting_id, ticket,
                     {"device": device, "signin_order": order, "late": admitted})
    else:
        changed = a["device_id"] != device
        # Decided here, not from the service's view: two phones logging in within the same
        # batch both look like the first login to a check made before the write.
        if changed and approval_required and a["device_id"] and a["status"] in ACTIVE:
            raise ExamError("awaiting_approval")
        conn.execute("UPDATE attempts SET device_id = ?, session_hash = ?, device_changes = device_changes + ?"
                     " WHERE ticket = ?", (device, session_hash, 1 if changed else 0, ticket))
        if changed:
            conn.execute("INSERT INTO device_events (ticket, kind, device_id, data, ts) VALUES (?, 'takeover', ?, ?, ?)",
                         (ticket, device, json.dumps({"from": a["device_id"]}), now))
        audit.append(conn, now, f"candidate:{ticket}", "device_change" if changed else "relogin",
                     sitting_id, ticket, {"device": device, "from": a["device_id"], "status": a["status"]})
    return Changes(attempts=[attempt_row(conn, ticket)])


def confirm(conn, ticket: str, now: float) -> Changes:
    a = attempt_row(conn, ticket)
    if a is None:
        raise ExamError("not_logged_in")
    if a["status"] == "logged_in":
        conn.execute("UPDATE attempts SET status = 'confirmed', confirmed_at = ? WHERE ticket = ?", (now, ticket))
        audit.append(conn, now, f"candidate:{ticket}", "confirm", a["sitting_id"], ticket)
        a = attempt_row(conn, ticket)
    return Changes(attempts=[a])


def open_paper(conn, ticket: str, now: float, need_photo: bool = False) -> Changes:
    a = attempt_row(conn, ticket)
    if a is None:
        raise ExamError("not_logged_in")
    if a["status"] in ("answering", "submitted", "terminated"):
        return Changes(attempts=[a])  # idempotent: the deadline set at first opening stands
    if a["status"] != "confirmed":
        raise ExamError("not_confirmed")
    s = sitting_row(conn, a["sitting_id"])
    st = sitting_times(s)
    refusal = rules.may_open(st, now, admitted_late=bool(a["late_reason"]))
    if refusal:
        raise ExamError(refusal)
    if need_photo and conn.execute(  # the login photo (proctor), or an invigilator's waiver
            "SELECT 1 FROM captures WHERE ticket = ? AND slot = 0 AND status = 'ok' UNION ALL"
            " SELECT 1 FROM id_checks WHERE ticket = ? AND method = 'photo_waived' LIMIT 1",
            (ticket, ticket)).fetchone() is None:
        raise ExamError("capture_required")
    deadline = rules.deadline(now, st, a["extra_s"])
    conn.execute("UPDATE attempts SET status = 'answering', opened_at = ?, deadline_at = ? WHERE ticket = ?",
                 (now, deadline, ticket))
    audit.append(conn, now, f"candidate:{ticket}", "open", a["sitting_id"], ticket, {"deadline": deadline})
    return Changes(attempts=[attempt_row(conn, ticket)])


def _write_answer(conn, ticket: str, q: int, choice, seq: int, now: float, device: str | None,
                  changes: int, log_cap: int) -> None:
    conn.execute(
        "INSERT INTO answers (ticket, q, choice, seq, saved_at, changes) VALUES (?, ?, ?, ?, ?, 1)"
        " ON CONFLICT (ticket, q) DO UPDATE SET choice = excluded.choice, seq = excluded.seq,"
        " saved_at = excluded.saved_at, changes = answers.changes + 1", (ticket, q, choice, seq, now))
    # The log is for disputes; a phone changing one question thousands of times (a flood,
    # not a candidate) must not grow it without bound. `changes` keeps counting.
    if changes < log_cap:
        conn.execute("INSERT INTO answer_log (ticket, q, choice, seq, saved_at, device_id) VALUES (?, ?, ?, ?, ?, ?)",
                     (ticket, q, choice, seq, now, device))


def _store_answer(conn, ticket: str, q: int, choice, seq: int, now: float, device: str | None,
                  log_cap: int) -> tuple:
    """Apply one answer under the seq rule; return the stored (choice, seq)."""
    cur = conn.execute("SELECT choice, seq, changes FROM answers WHERE ticket = ? AND q = ?", (ticket, q)).fetchone()
    if cur is not None and not rules.newer(seq, cur[1]):
        return cur[0], cur[1]
    _write_answer(conn, ticket, q, choice, seq, now, device, cur[2] if cur else 0, log_cap)
    return choice, seq


def answer(conn, ticket: str, q: int, choice, seq: int, received_at: float, device: str | None,
           log_cap: int) -> tuple:
    """Returns the stored (choice, seq) for q after the transaction: the phone's answer if it
    won under the seq rule, else what was there."""
    # The hot path (one per answer): the state it needs in one query, not SELECT * twice.
    # Every statement releases and re-takes the GIL, and while the event loop is busy each
    # re-take can wait a switch interval; fewer statements, shorter group commits.
    row = conn.execute(
        "SELECT a.status, a.deadline_at, s.status, x.choice, x.seq, x.changes FROM attempts a"
        " JOIN sittings s ON s.sitting_id = a.sitting_id"
        " LEFT JOIN answers x ON x.ticket = a.ticket AND x.q = ? WHERE a.ticket = ?", (q, ticket)).fetchone()
    if row is None:
        raise ExamError("not_logged_in")
    refusal = rules.answer_refusal(row[0], received_at, row[1], row[2])
    if refusal:
        raise ExamError(refusal)
    if row[4] is not None and not rules.newer(seq, row[4]):
        return row[3], row[4]
    _write_answer(conn, ticket, q, choice, seq, received_at, device, row[5] or 0, log_cap)
    return choice, seq


def finalize(conn, a: dict, now: float, reason: str, receipt_key: bytes, actor: str, ch: Changes) -> None:
    """Score, seal with a receipt, and log; the row and the answers it sealed go in `ch`.
    The caller has checked the state."""
    ticket = a["ticket"]
    rows = conn.execute("SELECT q, choice, seq FROM answers WHERE ticket = ? ORDER BY q", (ticket,)).fetchall()
    key_row = conn.execute("SELECT key_json, points FROM paper_keys WHERE ticket = ?", (ticket,)).fetchone()
    score = None
    if key_row is not None:
        key = json.loads(key_row[0])
        score = sum(key_row[1] for q, choice, _ in rows if choice is not None and 0 < q <= len(key)
                    and key[q - 1] == choice)
    digest = hashlib.sha256(json.dumps([[q, c] for q, c, _ in rows], separators=(",", ":")).encode()).hexdigest()
    status = "terminated" if reason == "terminated" else "submitted"
    receipt = make_receipt(receipt_key, ticket, now, digest)
    answered = sum(1 for _, c, _ in rows if c is not None)
    conn.execute("UPDATE attempts SET status = ?, submitted_at = ?, submit_reason = ?, receipt = ?, score = ?,"
                 " answered = ? WHERE ticket = ?", (status, now, reason, receipt, score, answered, ticket))
    audit.append(conn, now, actor, "submit", a["sitting_id"], ticket,
                 {"reason": reason, "receipt": receipt, "answers_sha256": digest, "answered": answered})
    ch.attempts.append(attempt_row(conn, ticket))
    ch.answers[ticket] = {q: (c, seq) for q, c, seq in rows}


def make_receipt(key: bytes, ticket: str, ts: float, digest: str) -> str:
    mac = hmac.new(key, f"{ticket}|{ts:.3f}|{digest}".encode(), hashlib.sha256).digest()
    code = base64.b32encode(mac).decode()[:10].replace("O", "8").replace("I", "9")
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def submit(conn, ticket: str, answers: list[tuple[int, object, int]], received_at: float,
           device: str | None, receipt_key: bytes, log_cap: int) -> Changes:
    """The candidate hands in. `result` is "submitted", or "already_final" when the attempt
    was sealed before this submit (end of sitting, time-up, a violation, an earlier submit):
    then nothing the phone sent is stored and the committed state is returned as it is."""
    a = attempt_row(conn, ticket)
    if a is None:
        raise ExamError("not_logged_in")
    if a["status"] in FINAL:
        return Changes(attempts=[a], answers={ticket: answer_set(conn, ticket)}, result="already_final")
    s = sitting_row(conn, a["sitting_id"])
    refusal = rules.answer_refusal(a["status"], received_at, a["deadline_at"], s["status"])
    if refusal:
        raise ExamError(refusal)
    st = sitting_times(s)
    refusal = rules.may_submit(received_at, a["opened_at"], st, a["paused_s"])
    if refusal == "too_early":
        raise ExamError(refusal, earliest_submit=int(rules.earliest_submit(a["opened_at"], st, a["paused_s"]) * 1000))
    if refusal:
        raise ExamError(refusal)
    for q, choice, seq in answers:
        _store_answer(conn, ticket, q, choice, seq, received_at, device, log_cap)
    ch = Changes(result="submitted")
    finalize(conn, a, received_at, "candidate", receipt_key, f"candidate:{ticket}", ch)
    return ch


def finalize_due(conn, now: float, receipt_key: bytes, late: list[tuple] = (), expected: list[str] = (),
                 log_cap: int = 1 << 30) -> Changes:
    """The time-up sweep: submit every attempt whose deadline has passed, first saving the
    answers that reached the laptop before the deadline but could not be saved then
    (`late`: (ticket, q, choice, seq, received_at), from a storage fault). `expected`: the
    tickets the caller believes due; their rows come back whatever the database says, so a
    caller whose view is behind catches up. `result`: the late answers now stored."""
    due = conn.execute(
        "SELECT a.* FROM attempts a JOIN sittings s USING (sitting_id)"
        " WHERE a.status = 'answering' AND a.deadline_at <= ? AND s.status != 'paused'", (now,)).fetchall()
    ch = Changes(result=[])
    for a in due:
        for ticket, q, choice, seq, received_at in late:
            if ticket == a["ticket"] and received_at <= a["deadline_at"]:
                _store_answer(conn, ticket, q, choice, seq, received_at, None, log_cap)
                ch.result.append((ticket, q, seq, choice))
        finalize(conn, dict(a), a["deadline_at"], "time_up", receipt_key, "system", ch)
    done = {a["ticket"] for a in due}
    for ticket in expected:
        if ticket not in done:
            row = attempt_row(conn, ticket)
            if row is not None:
                ch.attempts.append(row)
                ch.answers[ticket] = answer_set(conn, ticket)
    return ch


def record_focus(conn, ticket: str, hidden: bool, ms: int, now: float) -> Changes:
    conn.execute("INSERT INTO device_events (ticket, kind, data, ts) VALUES (?, 'focus', ?, ?)",
                 (ticket, json.dumps({"hidden": hidden, "ms": ms}), now))
    return Changes(result={"ticket": ticket, "hidden": hidden, "ms": ms, "ts": now})


def record_clock_anchor(conn, meta: dict[str, str], now: float, step: float) -> Changes:
    """Exam time follows the wall clock again (no sitting running): keep the new anchor."""
    conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     list(meta.items()))
    audit.append(conn, now, "system", "clock_reanchor", None, None, {"step_s": round(step, 3)})
    return Changes()


# -- staff --------------------------------------------------------------------------

def start_sitting(conn, sitting_id: str, now: float, staff: str, released: dict | None = None) -> Changes:
    """Start a room's sitting; `released` carries its papers when they were sealed. Starting
    a sitting that has started is a no-op (two consoles pressing 宣布开考 at once)."""
    s = sitting_row(conn, sitting_id)
    if s["status"] != "planned":
        return Changes(sittings=[s])
    sealed = conn.execute("SELECT released_at FROM sealed_sittings WHERE sitting_id = ?", (sitting_id,)).fetchone()
    released_now = None
    if sealed is not None and sealed[0] is None:
        if released is None:
            raise ExamError("paper_sealed")
        from ..importer import insert_papers

        points = float(conn.execute("SELECT value FROM meta WHERE key = 'points_per_question'").fetchone()[0])
        insert_papers(conn, released["papers"], released["keys"], released["media"], points)
        conn.execute("UPDATE sealed_sittings SET released_at = ?, released_by = ? WHERE sitting_id = ?",
                     (now, staff, sitting_id))
        audit.append(conn, now, f"staff:{staff}", "release_papers", sitting_id, None,
                     {"papers": len(released["papers"])})
        released_now = released
    conn.execute("UPDATE sittings SET status = 'started', started_at = ?, started_by = ? WHERE sitting_id = ?",
                 (now, staff, sitting_id))
    audit.append(conn, now, f"staff:{staff}", "start_sitting", sitting_id)
    return Changes(sittings=[sitting_row(conn, sitting_id)], released=released_now)


def end_sitting(conn, sitting_id: str, now: float, staff: str, receipt_key: bytes) -> Changes:
    s = sitting_row(conn, sitting_id)
    ch = Changes(result=0)
    if s["status"] != "ended":
        if s["status"] == "planned":
            raise ExamError("bad_state", "本场考试尚未开考")
        open_rows = conn.execute("SELECT * FROM attempts WHERE sitting_id = ? AND status = 'answering'",
                                 (sitting_id,)).fetchall()
        for a in open_rows:
            finalize(conn, dict(a), now, "staff", receipt_key, f"staff:{staff}", ch)
        conn.execute("UPDATE sittings SET status = 'ended', ended_at = ? WHERE sitting_id = ?", (now, sitting_id))
        audit.append(conn, now, f"staff:{staff}", "end_sitting", sitting_id, None, {"finalized": len(open_rows)})
        ch.result = len(open_rows)
    # Every attempt of the room as the database holds it: whatever the caller's view was,
    # it matches the database once this is applied.
    done = {a["ticket"] for a in ch.attempts}
    ch.attempts += [dict(r) for r in conn.execute("SELECT * FROM attempts WHERE sitting_id = ?", (sitting_id,))
                    if r["ticket"] not in done]
    ch.sittings.append(sitting_row(conn, sitting_id))
    return ch
