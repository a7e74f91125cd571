"""Writer operations for running a room: absentees, latecomers, time, violations,
incidents, device approval and the paper fallback. Each is attributed to a staff member
and appended to the audit chain in the same transaction."""
from __future__ import annotations

import json

from contracts.exam import INCIDENT_KINDS, TERMINATING_LEVELS, VIOLATION_LEVELS, VIOLATIONS  # noqa: F401 (re-exported for callers)

from . import audit, rules
from .changes import Changes
from .errors import ExamError
from .ops import ACTIVE, FINAL, attempt_row, finalize, sitting_row, sitting_times


def _staff_actor(staff: str) -> str:
    return f"staff:{staff}"


def mark_absent(conn, sitting_id: str, now: float) -> Changes:
    """Everyone of the sitting who has not logged in by the late-entry limit is 缺考."""
    s = sitting_row(conn, sitting_id)
    if not rules.too_late(sitting_times(s), now):
        return Changes()
    rows = conn.execute("SELECT ticket FROM candidates WHERE sitting_id = ? AND ticket NOT IN"
                        " (SELECT ticket FROM attempts)", (sitting_id,)).fetchall()
    for (ticket,) in rows:
        conn.execute("INSERT INTO attempts (ticket, sitting_id, status) VALUES (?, ?, 'absent')", (ticket, sitting_id))
    if rows:
        audit.append(conn, now, "system", "mark_absent", sitting_id, None, {"tickets": [r[0] for r in rows]})
    return Changes(attempts=[attempt_row(conn, r[0]) for r in rows])


def admit_late(conn, ticket: str, reason: str, now: float, staff: str) -> Changes:
    a = attempt_row(conn, ticket)
    if a is not None and a["status"] not in ("absent",):
        raise ExamError("bad_state", "该考生已签到，无需准许迟到入场")
    c = conn.execute("SELECT sitting_id FROM candidates WHERE ticket = ?", (ticket,)).fetchone()
    if a is None:
        conn.execute("INSERT INTO attempts (ticket, sitting_id, status, late_reason) VALUES (?, ?, 'absent', ?)",
                     (ticket, c[0], reason))
    else:
        conn.execute("UPDATE attempts SET late_reason = ? WHERE ticket = ?", (reason, ticket))
    audit.append(conn, now, _staff_actor(staff), "admit_late", c[0], ticket, {"reason": reason})
    return Changes(attempts=[attempt_row(conn, ticket)])


def extra_time(conn, sitting_id: str, ticket: str | None, seconds: float, reason: str, now: float,
               staff: str) -> Changes:
    """Give time lost to the system back: move the deadline of open attempts forward."""
    if ticket is None:
        tickets = [r[0] for r in conn.execute(
            "SELECT ticket FROM attempts WHERE sitting_id = ? AND status IN ('logged_in','confirmed','answering')",
            (sitting_id,))]
    else:
        a = attempt_row(conn, ticket)
        if a is None or a["status"] not in ACTIVE:
            raise ExamError("bad_state", "只能为正在考试的考生延长时间")
        tickets = [ticket]
    for t in tickets:
        conn.execute("UPDATE attempts SET extra_s = extra_s + ?, deadline_at = deadline_at + ? WHERE ticket = ?",
                     (seconds, seconds, t))
    conn.execute("INSERT INTO time_adjustments (sitting_id, ticket, kind, seconds, reason, started_at, staff)"
                 " VALUES (?, ?, 'extra', ?, ?, ?, ?)", (sitting_id, ticket, seconds, reason, now, staff))
    audit.append(conn, now, _staff_actor(staff), "extra_time", sitting_id, ticket,
                 {"seconds": seconds, "reason": reason, "tickets": tickets})
    return Changes(attempts=[attempt_row(conn, t) for t in tickets])


def pause(conn, sitting_id: str, reason: str, now: float, staff: str) -> Changes:
    s = sitting_row(conn, sitting_id)
    if s["status"] != "started":
        raise ExamError("bad_state", "只有考试中的场次可以暂停")
    conn.execute("UPDATE sittings SET status = 'paused', paused_at = ? WHERE sitting_id = ?", (now, sitting_id))
    conn.execute("INSERT INTO time_adjustments (sitting_id, kind, seconds, reason, started_at, staff)"
                 " VALUES (?, 'pause', 0, ?, ?, ?)", (sitting_id, reason, now, staff))
    audit.append(conn, now, _staff_actor(staff), "pause", sitting_id, None, {"reason": reason})
    return Changes(sittings=[sitting_row(conn, sitting_id)])


def resume(conn, sitting_id: str, now: float, staff: str) -> Changes:
    """Every open deadline, and every earliest submit, moves by the length of the pause:
    nobody loses time and nobody gains an earlier hand-in."""
    s = sitting_row(conn, sitting_id)
    if s["status"] != "paused":
        raise ExamError("bad_state", "该场次未暂停")
    length = max(0.0, now - s["paused_at"])
    conn.execute("UPDATE sittings SET status = 'started', paused_at = NULL, paused_total_s = paused_total_s + ?"
                 " WHERE sitting_id = ?", (length, sitting_id))
    tickets = [r[0] for r in conn.execute("SELECT ticket FROM attempts WHERE sitting_id = ? AND status = 'answering'",
                                          (sitting_id,))]
    for t in tickets:
        conn.execute("UPDATE attempts SET deadline_at = deadline_at + ?, paused_s = paused_s + ? WHERE ticket = ?",
                     (length, length, t))
    conn.execute("UPDATE time_adjustments SET seconds = ?, ended_at = ? WHERE sitting_id = ? AND kind = 'pause'"
                 " AND ended_at IS NULL", (length, now, sitting_id))
    audit.append(conn, now, _staff_actor(staff), "resume", sitting_id, None, {"paused_s": length, "tickets": len(tickets)})
    return Changes(sittings=[sitting_row(conn, sitting_id)], attempts=[attempt_row(conn, t) for t in tickets])


def violation(conn, ticket: str, level: str, facts: str, now: float, staff: str, receipt_key: bytes,
              escalate_after: int = 0) -> Changes:
    """`result`: the escalation prompt after repeated minor violations (exam/escalation.py), or None."""
    from .escalation import after_violation

    a = attempt_row(conn, ticket)
    c = conn.execute("SELECT sitting_id FROM candidates WHERE ticket = ?", (ticket,)).fetchone()
    conn.execute("INSERT INTO violations (ticket, sitting_id, level, facts, ts, staff) VALUES (?, ?, ?, ?, ?, ?)",
                 (ticket, c[0], level, facts, now, staff))
    audit.append(conn, now, _staff_actor(staff), "violation", c[0], ticket, {"level": level, "facts": facts})
    ch = Changes(violations=[{"ticket": ticket, "level": level, "facts": facts, "ts": now}])
    if level in TERMINATING_LEVELS and a is not None and a["status"] in ACTIVE:
        if a["status"] != "answering":  # terminated before opening: nothing to score
            conn.execute("UPDATE attempts SET status = 'terminated', submitted_at = ?, submit_reason = 'terminated'"
                         " WHERE ticket = ?", (now, ticket))
            audit.append(conn, now, _staff_actor(staff), "terminate", c[0], ticket, {"level": level})
        else:
            finalize(conn, a, now, "terminated", receipt_key, _staff_actor(staff), ch)
    row = attempt_row(conn, ticket)
    if row is not None:
        ch.attempts.append(row)
    ch.result = after_violation(conn, ticket, level, row, escalate_after)
    return ch


def incident(conn, sitting_id: str | None, kind: str, text: str, now: float, staff: str) -> Changes:
    cur = conn.execute("INSERT INTO incidents (sitting_id, kind, text, ts, staff) VALUES (?, ?, ?, ?, ?)",
                       (sitting_id, kind, text, now, staff))
    audit.append(conn, now, _staff_actor(staff), "incident", sitting_id, None, {"kind": kind, "text": text})
    return Changes(result=cur.lastrowid)


def approve_device(conn, ticket: str, device: str, session_hash: str, now: float, staff: str) -> Changes:
    a = attempt_row(conn, ticket)
    if a is None:
        raise ExamError("bad_state")
    conn.execute("UPDATE attempts SET device_id = ?, session_hash = ?, device_changes = device_changes + 1"
                 " WHERE ticket = ?", (device, session_hash, ticket))
    conn.execute("INSERT INTO device_events (ticket, kind, device_id, data, ts) VALUES (?, 'takeover', ?, ?, ?)",
                 (ticket, device, json.dumps({"from": a["device_id"], "approved_by": staff}), now))
    audit.append(conn, now, _staff_actor(staff), "approve_device", a["sitting_id"], ticket,
                 {"device": device, "from": a["device_id"]})
    return Changes(attempts=[attempt_row(conn, ticket)])


def unlock_login(conn, ticket: str, now: float, staff: str) -> Changes:
    """Audit an invigilator lifting a candidate's login lock (the lock itself is in memory)."""
    c = conn.execute("SELECT sitting_id FROM candidates WHERE ticket = ?", (ticket,)).fetchone()
    audit.append(conn, now, _staff_actor(staff), "unlock_login", c[0], ticket)
    return Changes()


def paper_entry(conn, ticket: str, pass_no: int, answers: str, now: float, staff: str,
                receipt_key: bytes) -> Changes:
    """Store one keying of an answer card; when both passes agree, score it as paper mode."""
    a = attempt_row(conn, ticket)
    if a is not None and a["status"] in FINAL:
        raise ExamError("bad_state", "该考生已交卷")
    if a is not None and a["status"] == "rescheduled":
        raise ExamError("bad_state", "该考生已改为待重考")
    c = conn.execute("SELECT sitting_id FROM candidates WHERE ticket = ?", (ticket,)).fetchone()
    conn.execute("INSERT INTO paper_entries (ticket, pass_no, answers, staff, ts) VALUES (?, ?, ?, ?, ?)"
                 " ON CONFLICT (ticket, pass_no) DO UPDATE SET answers = excluded.answers, staff = excluded.staff,"
                 " ts = excluded.ts", (ticket, pass_no, answers, staff, now))
    audit.append(conn, now, _staff_actor(staff), "paper_entry", c[0], ticket, {"pass": pass_no, "answers": answers})
    entries = dict(conn.execute("SELECT pass_no, answers FROM paper_entries WHERE ticket = ?", (ticket,)).fetchall())
    result = {"mismatches": [], "complete": False}
    if 1 in entries and 2 in entries:
        mism = [i + 1 for i, (x, y) in enumerate(zip(entries[1], entries[2])) if x != y]
        result["mismatches"] = mism
        if not mism:
            if a is None:
                conn.execute("INSERT INTO attempts (ticket, sitting_id, status, mode) VALUES (?, ?, 'answering', 'paper')",
                             (ticket, c[0]))
            else:
                conn.execute("UPDATE attempts SET status = 'answering', mode = 'paper' WHERE ticket = ?", (ticket,))
            conn.execute("DELETE FROM answers WHERE ticket = ?", (ticket,))
            for q, ch in enumerate(entries[1], start=1):
                choice = None if ch == "-" else ch
                conn.execute("INSERT INTO answers (ticket, q, choice, seq, saved_at) VALUES (?, ?, ?, 0, ?)",
                             (ticket, q, choice, now))
            ch = Changes(result=result)
            finalize(conn, attempt_row(conn, ticket), now, "paper", receipt_key, _staff_actor(staff), ch)
            result["complete"] = True
            return ch
    row = attempt_row(conn, ticket)
    return Changes(attempts=[row] if row else [], result=result)
