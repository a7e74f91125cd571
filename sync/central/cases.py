"""Violation review chain (seeds 000_… 附件4 第六条, 第七条3): the site records a violation
and its level (判定); the district office reviews it within five working days (复核); the
city approves (核准). A level is final only when approved; until then the verdict is 待核准.
Each step records who, when, the level, a note, and a reason when it changes the level.

A case opens for every 考试作弊 / 严重违纪 the site recorded (a 一般违纪 is only a warning),
from the site's same-day report (``site_reports``) or from its result bundle, whichever
comes first; the bundle is the record of truth and refreshes the facts and evidence.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from . import accounts
from .outcomes import OPENS_CASE, REVIEWED_LEVELS

REVIEW_WORKING_DAYS = 5          # 第七条3: 五个工作日内报市定考办
TZ = dt.timezone(dt.timedelta(hours=8))
RANK = {"none": 0, "minor": 1, "cheating": 2, "serious": 3}


class CaseError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def review_deadline(recorded_at: float | None) -> str:
    """The date the district's review is due: five working days (Mon–Fri) after the day of
    the violation (public holidays are not known here; the office adjusts)."""
    if not recorded_at:
        return ""
    d = dt.datetime.fromtimestamp(recorded_at, TZ).date()
    left = REVIEW_WORKING_DAYS
    while left:
        d += dt.timedelta(days=1)
        if d.weekday() < 5:
            left -= 1
    return d.isoformat()


def _evidence(payload: dict, v: dict) -> dict:
    """What the district sees beside the case: the room record, the sitting's incidents, the
    candidate; camera captures once the site sends them."""
    cand = next((c for c in payload.get("candidates", []) if c.get("ticket") == v.get("ticket")), {})
    rr = next((r for r in payload.get("room_records", []) if r.get("sitting_id") == v.get("sitting_id")), None)
    return {"candidate": {k: cand.get(k, "") for k in ("name", "unit", "department", "category", "level")},
            "room_record": rr,
            "incidents": [{"kind": i.get("kind"), "text": i.get("text"), "ts": i.get("ts")}
                          for i in payload.get("incidents", []) if i.get("sitting_id") == v.get("sitting_id")],
            "captures": []}


def _open(c, site: str, v: dict, evidence: dict, source: str, now: float, in_bundle: int) -> None:
    """Insert the case (and its 'site' step) once; later copies refresh facts and evidence,
    and the site's level while nobody has reviewed it yet."""
    cid = f"{site}:{int(v['id'])}"
    made = c.execute(
        "INSERT INTO cases(case_id, site_no, ticket, sitting_id, site_level, facts, staff, recorded_at, evidence,"
        " state, source, in_bundle, updated_at) VALUES (?,?,?,?,?,?,?,?,?, 'pending_review', ?,?,?)"
        " ON CONFLICT(case_id) DO NOTHING RETURNING case_id",
        (cid, site, v["ticket"], v.get("sitting_id"), v["level"], v.get("facts") or "", v.get("staff") or "",
         v.get("ts"), json.dumps(evidence, ensure_ascii=False), source, in_bundle, now)).fetchone()
    if made:
        c.execute("INSERT INTO case_steps(case_id, step, actor, office, ts, level, note) VALUES (?,?,?,?,?,?,?)",
                  (cid, "site", v.get("staff") or "", f"考点 {site}", v.get("ts") or now, v["level"],
                   v.get("facts") or ""))
        return
    c.execute("UPDATE cases SET facts = ?, evidence = ?, in_bundle = MAX(in_bundle, ?), updated_at = ?,"
              " site_level = CASE WHEN state = 'pending_review' THEN ? ELSE site_level END WHERE case_id = ?"
              .replace("MAX(", "GREATEST(" if c.pg else "MAX("),
              (v.get("facts") or "", json.dumps(evidence, ensure_ascii=False), in_bundle, now, v["level"], cid))


def from_bundle(c, payload: dict, now: float) -> None:
    """Inside the ingest transaction: open or refresh the bundle's cases; mark the site's
    same-day reports that the bundle confirms."""
    site = payload["site"]["site_no"]
    for v in payload.get("violations", []):
        if v.get("level") in OPENS_CASE and isinstance(v.get("id"), int):
            _open(c, site, v, _evidence(payload, v), "bundle", now, 1)
    for kind, rows in (("violation", payload.get("violations", [])), ("incident", payload.get("incidents", []))):
        ids = [r["id"] for r in rows if isinstance(r.get("id"), int)]
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            c.execute(f"UPDATE site_reports SET in_bundle = 1 WHERE site_no = ? AND kind = ?"
                      f" AND report_id IN ({','.join('?' * len(part))})", [site, kind, *part])


def from_report(c, site: str, v: dict, now: float) -> None:
    """A violation the site pushed the same day (before its bundle)."""
    if v.get("level") in OPENS_CASE:
        _open(c, site, v, {"candidate": {}, "room_record": None, "incidents": [], "captures": []}, "report", now, 0)


def _get(c, case_id: str) -> dict:
    r = c.execute("SELECT * FROM cases WHERE case_id = ?" + c.for_update, (case_id,)).fetchone()
    if r is None:
        raise CaseError(404, "unknown_case", "没有这个违纪记录")
    return dict(r)


def _check(level: Any, note: Any, reason: Any, before: str) -> tuple[str, str, str]:
    if level not in REVIEWED_LEVELS:
        raise CaseError(400, "bad_level", "认定结果必须是 严重违纪 / 考试作弊 / 一般违纪 / 不构成违纪 之一")
    note = str(note or "").strip()[:2000]
    reason = str(reason or "").strip()[:2000]
    if level != before and not reason:
        raise CaseError(400, "reason_required", "改变认定等级时必须填写理由")
    return level, note, reason


def review(store, p: accounts.Principal, case_id: str, level: Any, note: Any = "", reason: Any = "") -> dict:
    """区县复核: the office that owns the site (the city for its own 市直属 sites)."""
    from .reports import district_of_site
    with store.tx() as c:
        case = _get(c, case_id)
        if not p.sees(district_of_site(store, case["site_no"])) or \
                (p.is_city and district_of_site(store, case["site_no"]) != "市直属"):
            raise CaseError(403, "forbidden", "只有该考点所属区县定考办可以复核")
        if case["state"] == "approved":
            raise CaseError(409, "already_approved", "市定考办已核准，不能再复核")
        level, note, reason = _check(level, note, reason, case["review_level"] or case["site_level"])
        now = store.clock()
        c.execute("UPDATE cases SET state = 'pending_approval', review_level = ?, updated_at = ? WHERE case_id = ?",
                  (level, now, case_id))
        c.execute("INSERT INTO case_steps(case_id, step, actor, office, ts, level, note, reason)"
                  " VALUES (?, 'review', ?,?,?,?,?,?)", (case_id, p.who, p.office, now, level, note, reason))
        accounts.record(c, now, p.who, p.office, "case_review", case_id, {"level": level, "reason": reason})
    return get(store, case_id)


def approve(store, p: accounts.Principal, case_id: str, level: Any, note: Any = "", reason: Any = "") -> dict:
    """市核准: the city, after the district's review; the level becomes final."""
    if not p.is_city:
        raise CaseError(403, "forbidden", "只有市定考办可以核准")
    with store.tx() as c:
        case = _get(c, case_id)
        if case["state"] == "pending_review":
            raise CaseError(409, "not_reviewed", "区县定考办尚未复核，不能核准")
        before = case["final_level"] if case["state"] == "approved" else case["review_level"]
        level, note, reason = _check(level, note, reason, before)
        if case["state"] == "approved" and not reason:
            raise CaseError(400, "reason_required", "已核准的认定再次核准时必须填写理由")
        now = store.clock()
        c.execute("UPDATE cases SET state = 'approved', final_level = ?, updated_at = ? WHERE case_id = ?",
                  (level, now, case_id))
        c.execute("INSERT INTO case_steps(case_id, step, actor, office, ts, level, note, reason)"
                  " VALUES (?, 'approve', ?,?,?,?,?,?)", (case_id, p.who, p.office, now, level, note, reason))
        accounts.record(c, now, p.who, p.office, "case_approve", case_id, {"level": level, "reason": reason})
    return get(store, case_id)


def get(store, case_id: str) -> dict | None:
    rows = store.query("SELECT * FROM cases WHERE case_id = ?", (case_id,))
    if not rows:
        return None
    case = _shape(dict(rows[0]))
    case["steps"] = [dict(r) for r in store.query("SELECT * FROM case_steps WHERE case_id = ? ORDER BY id", (case_id,))]
    return case


def _shape(case: dict) -> dict:
    case["evidence"] = json.loads(case["evidence"] or "{}")
    case["review_due"] = review_deadline(case["recorded_at"])
    return case


def listing(store, p: accounts.Principal, state: str | None = None) -> list[dict]:
    """The cases an account may see, oldest first."""
    from .reports import district_of_site
    rows = store.query("SELECT * FROM cases" + (" WHERE state = ?" if state else ""), (state,) if state else ())
    out = [_shape(dict(r)) for r in rows if p.sees(district_of_site(store, r["site_no"]))]
    return sorted(out, key=lambda x: (x["recorded_at"] or 0, x["case_id"]))


def outcome_by_ticket(store, makeup_sites: set[str] = frozenset()) -> tuple[dict[str, str], dict[str, str]]:
    """({ticket: 'pending' | approved level} of first sittings, the same of make-up sittings):
    the worst approved level over a ticket's cases, 'pending' while any is not approved."""
    first: dict[str, str] = {}
    makeup: dict[str, str] = {}
    for t, site, state, final in store.query("SELECT ticket, site_no, state, final_level FROM cases"):
        out = makeup if site in makeup_sites else first
        if out.get(t) == "pending":
            continue
        if state != "approved":
            out[t] = "pending"
        elif t not in out or RANK.get(final, 0) > RANK.get(out[t], 0):
            out[t] = final
    return first, makeup


def store_report(store, site: str, kind: str, record: dict) -> dict:
    """A site's same-day report (already verified): stored once per (site, kind, id); a
    violation opens its case. The same record again is harmless; a different one under
    the same id is refused (the site's rows never change)."""
    rec = json.dumps(record, ensure_ascii=False, sort_keys=True)
    with store.tx() as c:
        if kind == "violation":
            owner = c.execute("SELECT site_no FROM results WHERE ticket = ?", (record["ticket"],)).fetchone()
            roster = c.execute("SELECT 1 FROM results WHERE expected = 1 LIMIT 1").fetchone()
            if (owner and owner[0] != site) or (owner is None and roster):
                raise CaseError(403, "foreign_candidate", f"考生 {record['ticket']} 不是考点 {site} 的考生")
        now = store.clock()
        made = c.execute("INSERT INTO site_reports(site_no, kind, report_id, record, received_at) VALUES (?,?,?,?,?)"
                         " ON CONFLICT(site_no, kind, report_id) DO NOTHING RETURNING report_id",
                         (site, kind, record["id"], rec, now)).fetchone()
        if not made:
            old = c.execute("SELECT record FROM site_reports WHERE site_no = ? AND kind = ? AND report_id = ?",
                            (site, kind, record["id"])).fetchone()[0]
            if old != rec:
                raise CaseError(409, "conflict", "同一编号的速报内容不同，已拒收")
            return {"status": "duplicate"}
        if kind == "violation":
            from_report(c, site, record, now)
        accounts.record(c, now, f"site:{site}", f"考点 {site}", f"report_{kind}", f"{site}:{record['id']}")
    return {"status": "accepted"}


def reports_listing(store, p: accounts.Principal) -> list[dict]:
    from .reports import district_of_site
    out = []
    for r in store.query("SELECT * FROM site_reports ORDER BY received_at, site_no, report_id"):
        if p.sees(district_of_site(store, r["site_no"])):
            out.append({**dict(r), "record": json.loads(r["record"])})
    return out
