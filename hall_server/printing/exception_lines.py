"""One candidate's exceptions on the room record's 其他 (exam/exception_ops.py): stopped
(停考/代为交卷), moved out of or into this room (调出 / 调入: both rooms say so),
rescheduled (待重考, one line per decision)."""
from __future__ import annotations

from contracts.exam import MOVED_IN
from contracts.exam import EXCEPTIONS

from .data import hm


def rows_for(r, sitting_id: str) -> list:
    if not r.has_table("candidate_exceptions"):
        return []
    return r.rows(
        "SELECT e.*, c.name, a.answered, a.receipt, c.seat_no,"
        " (SELECT ro.name || ' 第' || s.sitting_no || '场' FROM sittings s JOIN rooms ro USING (room_id)"
        "  WHERE s.sitting_id = e.sitting_id) AS from_name,"
        " (SELECT ro.name || ' 第' || s.sitting_no || '场' FROM sittings s JOIN rooms ro USING (room_id)"
        "  WHERE s.sitting_id = e.to_sitting) AS to_name"
        " FROM candidate_exceptions e LEFT JOIN candidates c USING (ticket) LEFT JOIN attempts a USING (ticket)"
        " WHERE e.sitting_id = ? OR e.to_sitting = ? ORDER BY e.ts, e.id", (sitting_id, sitting_id))


def events(rows, sitting_id: str) -> list[tuple[float, str]]:
    """(time, line) for the room record of ``sitting_id``."""
    out: list[tuple[float, str]] = []
    retakes: dict[tuple, list] = {}
    for e in rows:
        who = f"{e['ticket']} {e['name'] or ''}".strip()
        if e["kind"] == "stop":
            out.append((e["ts"], f"{hm(e['ts'])}  【{EXCEPTIONS['stop']}】{who}：{e['reason']}"
                                 f"（已答 {e['answered'] or 0} 题，回执 {e['receipt'] or '—'}）"))
        elif e["kind"] == "move" and e["sitting_id"] == sitting_id:
            out.append((e["ts"], f"{hm(e['ts'])}  【调出】{who} 调至 {e['to_name']}：{e['reason']}"))
        elif e["kind"] == "move":
            out.append((e["ts"], f"{hm(e['ts'])}  【调入】{who} 由 {e['from_name']} 调入"
                                 f"（座位 {e['seat_no'] or '—'}）：{e['reason']}"))
        elif e["kind"] == "reschedule":
            retakes.setdefault((e["ts"], e["reason"]), []).append(who)
    for (ts, reason), who in retakes.items():
        people = "、".join(who) if len(who) <= 6 else f"{'、'.join(who[:6])} 等 {len(who)} 人"
        out.append((ts, f"{hm(ts)}  【{EXCEPTIONS['reschedule']}】{people}：{reason}"))
    return out


def is_move_admission(late_reason: str | None) -> bool:
    """A moved candidate's admission is said by the 调入 line, not again as 准许迟到入场."""
    return bool(late_reason) and late_reason.startswith(MOVED_IN)
