"""The paper fallback's printing, as a writer operation: a candidate's question booklet
(试题册, printing/booklet.py) may be printed only once the sitting's papers are released,
and who printed whose booklet is on the audit chain. Decided in the transaction, like
every rule: the sitting has started and each candidate's paper is in the database."""
from __future__ import annotations

from . import audit
from .changes import Changes
from .errors import ExamError
from .ops import sitting_row


def print_booklets(conn, sitting_id: str, tickets: list[str], now: float, staff: str) -> Changes:
    s = sitting_row(conn, sitting_id)
    if s["status"] == "planned":
        raise ExamError("bad_state", "本场次尚未开考：宣布开考（试卷解封）后才能打印试题册")
    for t in tickets:
        row = conn.execute("SELECT c.sitting_id, p.ticket FROM candidates c LEFT JOIN papers p USING (ticket)"
                           " WHERE c.ticket = ?", (t,)).fetchone()
        if row is None or row[0] != sitting_id:
            raise ExamError("bad_request", "考生不在本场次")
        if row[1] is None:
            raise ExamError("paper_sealed", "该考生的试卷尚未解封，不能打印试题册")
    audit.append(conn, now, f"staff:{staff}", "print_booklet", sitting_id, tickets[0] if len(tickets) == 1 else None,
                 {"tickets": tickets})
    return Changes(result=len(tickets))
