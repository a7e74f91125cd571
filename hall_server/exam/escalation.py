"""附件4 第四条1: 多次出现违纪行为，警告无效的 → 考试作弊. When a candidate collects their
second minor violation (一般违纪, a warning each), the console is prompted to record
cheating instead of a third warning; the invigilator decides (the seeds leave the judgement
to the staff: 第六条1). Counted in the violation's own transaction."""
from __future__ import annotations

from contracts.exam import VIOLATIONS

CLAUSE = "附件4 第四条第1项：多次出现违纪行为，警告无效的，认定为考试作弊"


def after_violation(conn, ticket: str, level: str, attempt: dict | None, threshold: int) -> dict | None:
    """The prompt, or None: only for a minor violation that brings the count to `threshold`
    or more, while the exam can still be stopped (not handed in, not terminated)."""
    if level != "minor" or threshold < 1:
        return None
    if attempt is not None and attempt["status"] not in ("logged_in", "confirmed", "answering"):
        return None
    n = conn.execute("SELECT COUNT(*) FROM violations WHERE ticket = ? AND level = 'minor'", (ticket,)).fetchone()[0]
    if n < threshold:
        return None
    return {"minor_count": n, "suggest": "cheating", "clause": CLAUSE,
            "consequence": VIOLATIONS["cheating"].consequence}
