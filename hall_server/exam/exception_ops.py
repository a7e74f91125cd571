"""Writer operations for one candidate's exceptions on exam day (issue 17 items 1-3):

- stop (停考/代为交卷): a sick candidate persuaded to stop (附件2 四(八)), or one who leaves
  with consent (附件3 四(五)): the attempt is handed in for them, reason `staff`, and the
  room record says why under 其他. Not a violation.
- move (调换考场): the wrong room, a broken seat: the candidate, the attempt and its answers
  go to another room or sitting of the site; the QR and room checks follow (the roster row
  moves); both rooms' records say so.
- reschedule (待重考): 附件5 三1,4 另择期再考, 附件3 四(八) force majeure: one attempt, or every
  unfinished one of a sitting, becomes `rescheduled`: neither 缺考 nor failed; the result
  bundle carries it so the centre schedules the new exam.

Each decides its rules here, in the transaction, writes a `candidate_exceptions` row and
an audit entry, and returns every row it changed (the mirror rule).
"""
from __future__ import annotations

from . import audit
from .changes import Changes
from .errors import ExamError
from contracts.exam import MOVED_IN
from .ops import FINAL, answer_set, attempt_row, finalize, sitting_row

RESCHEDULED = "rescheduled"
SAME_RULES = ("duration_s", "earliest_submit_s", "question_count")


def candidate_row(conn, ticket: str) -> dict | None:
    row = conn.execute("SELECT * FROM candidates WHERE ticket = ?", (ticket,)).fetchone()
    return dict(row) if row else None


def _record(conn, ticket: str, kind: str, sitting_id: str, reason: str, now: float, staff: str,
            to_sitting: str | None = None) -> dict:
    cur = conn.execute("INSERT INTO candidate_exceptions (ticket, kind, sitting_id, to_sitting, reason, ts, staff)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)", (ticket, kind, sitting_id, to_sitting, reason, now, staff))
    return dict(conn.execute("SELECT * FROM candidate_exceptions WHERE id = ?", (cur.lastrowid,)).fetchone())


def stop_attempt(conn, ticket: str, reason: str, now: float, staff: str, receipt_key: bytes) -> Changes:
    a = attempt_row(conn, ticket)
    if a is None or a["status"] != "answering":
        raise ExamError("bad_state", "只能为正在答题的考生停考并代为交卷（未开始答题的考生可改为待重考）")
    ch = Changes(result="stopped")
    finalize(conn, a, now, "staff", receipt_key, f"staff:{staff}", ch)
    ch.exceptions.append(_record(conn, ticket, "stop", a["sitting_id"], reason, now, staff))
    audit.append(conn, now, f"staff:{staff}", "stop_attempt", a["sitting_id"], ticket,
                 {"reason": reason, "receipt": ch.attempt(ticket)["receipt"]})
    return ch


def move_candidate(conn, ticket: str, to_sitting: str, seat_no: int | None, reason: str, now: float,
                   staff: str) -> Changes:
    c = candidate_row(conn, ticket)
    if c is None:
        raise ExamError("bad_request", "考生不存在")
    src = c["sitting_id"]
    if to_sitting == src:
        raise ExamError("bad_request", "考生已在该考场场次")
    target = sitting_row(conn, to_sitting)
    if target["status"] == "ended":
        raise ExamError("bad_state", "目标场次已结束")
    a = attempt_row(conn, ticket)
    if a is not None and a["status"] in FINAL + (RESCHEDULED,):
        raise ExamError("bad_state", "已交卷、终止考试或待重考的考生不能调换考场")
    if a is not None and a["status"] == "answering":
        # Timing is personal and goes with the attempt; the rooms must be running on the
        # same rules, neither paused (a pause moves only its own room's deadlines).
        source = sitting_row(conn, src)
        if source["status"] != "started" or target["status"] != "started":
            raise ExamError("bad_state", "答题中的考生只能在两个都正在考试（未暂停）的场次之间调换")
        if any(source[k] != target[k] for k in SAME_RULES):
            raise ExamError("bad_state", "两个场次的考试时长或题量不同，答题中的考生不能调换")
    taken = {r[0] for r in conn.execute("SELECT seat_no FROM candidates WHERE sitting_id = ? AND seat_no IS NOT NULL",
                                        (to_sitting,))}
    if seat_no is None:
        seat_no = max(taken, default=0) + 1
    elif seat_no in taken:
        raise ExamError("bad_request", f"目标考场的 {seat_no} 号座位已有考生")
    conn.execute("UPDATE candidates SET sitting_id = ?, seat_no = ?, home_sitting = COALESCE(home_sitting, ?)"
                 " WHERE ticket = ?", (to_sitting, seat_no, src, ticket))
    if a is not None:
        order = a["signin_order"]
        if order is not None:   # signed in: last in the new room's order
            order = conn.execute("SELECT COALESCE(MAX(signin_order), 0) + 1 FROM attempts WHERE sitting_id = ?",
                                 (to_sitting,)).fetchone()[0]
        late = a["late_reason"]
        if a["status"] != "answering" and not late:
            late = MOVED_IN + reason   # admitted to the new room whatever its late-entry limit
        conn.execute("UPDATE attempts SET sitting_id = ?, signin_order = ?, late_reason = ? WHERE ticket = ?",
                     (to_sitting, order, late, ticket))
    elif target["status"] in ("started", "paused"):
        conn.execute("INSERT INTO attempts (ticket, sitting_id, status, late_reason) VALUES (?, ?, 'absent', ?)",
                     (ticket, to_sitting, MOVED_IN + reason))
    ex = _record(conn, ticket, "move", src, reason, now, staff, to_sitting)
    audit.append(conn, now, f"staff:{staff}", "move_candidate", src, ticket,
                 {"to": to_sitting, "seat_no": seat_no, "reason": reason})
    row = attempt_row(conn, ticket)
    return Changes(candidates=[candidate_row(conn, ticket)], attempts=[row] if row else [], exceptions=[ex],
                   result={"from": src, "to": to_sitting, "seat_no": seat_no})


def reschedule(conn, sitting_id: str, tickets: list[str] | None, reason: str, now: float, staff: str) -> Changes:
    """`tickets` None: the whole sitting (every candidate not yet handed in), which then ends."""
    s = sitting_row(conn, sitting_id)
    whole = tickets is None
    if whole:
        tickets = [r[0] for r in conn.execute("SELECT ticket FROM candidates WHERE sitting_id = ? ORDER BY ticket",
                                              (sitting_id,))]
    ch = Changes(result=[])
    for t in tickets:
        c = candidate_row(conn, t)
        if c is None or c["sitting_id"] != sitting_id:
            raise ExamError("bad_request", "考生不在本场次")
        a = attempt_row(conn, t)
        if a is not None and a["status"] in FINAL + (RESCHEDULED,):
            if whole:
                continue   # handed in before: their result stands
            raise ExamError("bad_state", "已交卷、终止考试或已待重考的考生不能改为待重考")
        if a is None:
            conn.execute("INSERT INTO attempts (ticket, sitting_id, status, submitted_at, submit_reason)"
                         " VALUES (?, ?, ?, ?, ?)", (t, sitting_id, RESCHEDULED, now, RESCHEDULED))
        else:
            answered = conn.execute("SELECT COUNT(*) FROM answers WHERE ticket = ? AND choice IS NOT NULL",
                                    (t,)).fetchone()[0]
            conn.execute("UPDATE attempts SET status = ?, submitted_at = ?, submit_reason = ?, answered = ?"
                         " WHERE ticket = ?", (RESCHEDULED, now, RESCHEDULED, answered, t))
        ch.exceptions.append(_record(conn, t, "reschedule", sitting_id, reason, now, staff))
        ch.attempts.append(attempt_row(conn, t))
        ch.answers[t] = answer_set(conn, t)
        ch.result.append(t)
    if not ch.result and not (whole and s["status"] != "ended"):
        raise ExamError("bad_state", "本场次没有可改为待重考的考生")
    if whole and s["status"] != "ended":
        conn.execute("UPDATE sittings SET status = 'ended', ended_at = ? WHERE sitting_id = ?", (now, sitting_id))
        conn.execute("UPDATE time_adjustments SET seconds = ? - started_at, ended_at = ? WHERE sitting_id = ?"
                     " AND kind = 'pause' AND ended_at IS NULL", (now, now, sitting_id))
        ch.sittings.append(sitting_row(conn, sitting_id))
    audit.append(conn, now, f"staff:{staff}", "reschedule", sitting_id, None if whole else tickets[0],
                 {"tickets": ch.result, "reason": reason, "whole_sitting": whole})
    return ch
