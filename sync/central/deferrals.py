"""延期考核 (deferral): a district office asks for one of its candidates with a reason, the
city approves or refuses. An approved deferral is a status of its own: never 缺考, not on
the make-up list. A candidate who sat the paper cannot be deferred."""
from __future__ import annotations

from typing import Any

from . import accounts
from .cases import CaseError


def _ticket_site(c, ticket: str) -> tuple[str, dict | None]:
    r = c.execute("SELECT site_no, in_bundle, status FROM results WHERE ticket = ?", (ticket,)).fetchone()
    if r is None:
        raise CaseError(404, "unknown_candidate", "中心名单中没有这个准考证号")
    return r["site_no"], dict(r)


def request(store, p: accounts.Principal, ticket: Any, reason: Any) -> dict:
    from .reports import district_of_site
    ticket, reason = str(ticket or "").strip(), str(reason or "").strip()[:2000]
    if not reason:
        raise CaseError(400, "reason_required", "申请延期考核必须填写理由")
    with store.tx() as c:
        site, row = _ticket_site(c, ticket)
        if not p.sees(district_of_site(store, site)):
            raise CaseError(403, "forbidden", "只能为本区县考点的考生申请延期考核")
        if row["in_bundle"] and row["status"] not in ("absent", "not_arrived", "rescheduled", None):
            raise CaseError(409, "already_sat", "该考生已参加测评，不能延期考核")
        now = store.clock()
        c.execute("INSERT INTO deferrals(ticket, site_no, reason, state, requested_by, requested_at)"
                  " VALUES (?,?,?, 'requested', ?,?) ON CONFLICT(ticket) DO UPDATE SET reason = excluded.reason,"
                  " state = 'requested', requested_by = excluded.requested_by, requested_at = excluded.requested_at,"
                  " decided_by = NULL, decided_at = NULL, note = ''", (ticket, site, reason, p.who, now))
        accounts.record(c, now, p.who, p.office, "deferral_request", ticket, {"reason": reason})
    return get(store, ticket)


def decide(store, p: accounts.Principal, ticket: Any, approve: Any, note: Any = "") -> dict:
    if not p.is_city:
        raise CaseError(403, "forbidden", "只有市定考办可以批准延期考核")
    ticket, note = str(ticket or "").strip(), str(note or "").strip()[:2000]
    if not isinstance(approve, bool):
        raise CaseError(400, "bad_request", "需要 approve: true 或 false")
    with store.tx() as c:
        r = c.execute("SELECT state FROM deferrals WHERE ticket = ?" + c.for_update, (ticket,)).fetchone()
        if r is None:
            raise CaseError(404, "unknown_deferral", "没有这个延期考核申请")
        now = store.clock()
        state = "approved" if approve else "refused"
        c.execute("UPDATE deferrals SET state = ?, decided_by = ?, decided_at = ?, note = ? WHERE ticket = ?",
                  (state, p.who, now, note, ticket))
        accounts.record(c, now, p.who, p.office, "deferral_decide", ticket, {"state": state, "note": note})
    return get(store, ticket)


def get(store, ticket: str) -> dict | None:
    rows = store.query("SELECT * FROM deferrals WHERE ticket = ?", (ticket,))
    return dict(rows[0]) if rows else None


def listing(store, p: accounts.Principal) -> list[dict]:
    from .reports import district_of_site
    return [dict(r) for r in store.query("SELECT * FROM deferrals ORDER BY requested_at, ticket")
            if p.sees(district_of_site(store, r["site_no"]))]


def approved(store) -> set[str]:
    return {r[0] for r in store.query("SELECT ticket FROM deferrals WHERE state = 'approved'")}
