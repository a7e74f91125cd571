"""Photo review at the centre (seed 004_… 监考管理, 三): reviewers open each candidate's
captured photos, filter by the lowest similarity first, and decide by the manual's four
rules; each decision is recorded (who, office, when, rule, note) and flows into the
verdict and the exports. The photos and their verdicts arrive in the signed result bundle
(hall_server/proctor/bundle.py)."""
from __future__ import annotations

import json
from typing import Any

from . import accounts

# The manual's four rules (004_… 三 1-4), plus "nothing to object to".
RULES = {
    "ok": ("照片无异常", None),
    "multi_no_comm": ("多人但无相互沟通嫌疑：正常通过", None),
    "multi_comm": ("多人且有相互沟通嫌疑：不合格", "fail"),
    "blocked": ("故意遮挡摄像头防止抓拍，情节严重：不合格", "fail"),
    "cheating": ("照片中有作弊行为：本周期考核不合格并向社会公布", "fail_cycle"),
}


class PhotoError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def from_bundle(c, payload: dict, now: float) -> None:
    """Inside the ingest transaction: the bundle's photo evidence replaces the site's older
    copy (a later bundle of the site knows at least as much); decisions stay."""
    site = payload["site"]["site_no"]
    pr = payload.get("proctoring") or {}
    for cand in pr.get("candidates", []):
        c.execute("DELETE FROM photo_evidence WHERE site_no = ? AND ticket = ?", (site, cand["ticket"]))
        c.execute("INSERT INTO photo_evidence(site_no, ticket, min_similarity, flags, data, received_at)"
                  " VALUES (?,?,?,?,?,?)", (site, cand["ticket"], cand.get("min_similarity"),
                                            json.dumps(cand.get("flags", []), ensure_ascii=False),
                                            json.dumps(cand, ensure_ascii=False), now))


def decide(store, p: accounts.Principal, site: str, ticket: str, rule: Any, note: Any = "") -> dict:
    from .reports import district_of_site

    if rule not in RULES:
        raise PhotoError(400, "bad_rule", "请选择评定规则（四条规则之一，或照片无异常）")
    note = str(note or "").strip()[:2000]
    with store.tx() as c:
        if c.execute("SELECT 1 FROM photo_evidence WHERE site_no = ? AND ticket = ?", (site, ticket)).fetchone() is None:
            raise PhotoError(404, "unknown", "没有这名考生的照片")
        if not p.sees(district_of_site(store, site)):
            raise PhotoError(403, "forbidden", "只能评定本区县考点的照片")
        now = store.clock()
        c.execute("INSERT INTO photo_reviews(site_no, ticket, rule, note, actor, office, ts) VALUES (?,?,?,?,?,?,?)",
                  (site, ticket, rule, note, p.who, p.office, now))
        accounts.record(c, now, p.who, p.office, "photo_review", f"{site}:{ticket}", {"rule": rule, "note": note})
    return {"site_no": site, "ticket": ticket, "rule": rule, "rule_zh": RULES[rule][0], "ts": now, "by": p.office}


def decisions(store) -> dict[str, dict]:
    """ticket -> its latest decision {rule, effect, ...} (a later decision replaces it)."""
    out: dict[str, dict] = {}
    for r in store._q("SELECT site_no, ticket, rule, note, actor, office, ts FROM photo_reviews ORDER BY ts, id"):
        d = dict(r)
        d["effect"] = RULES.get(d["rule"], ("", None))[1]
        out[d["ticket"]] = d
    return out


def listing(store, p: accounts.Principal, site: str | None = None, max_similarity: float | None = None,
            flagged: bool = False) -> list[dict]:
    """Candidates with photos the account may see, the lowest similarity first."""
    from .reports import district_of_site

    dec = decisions(store)
    rows = []
    for r in store._q("SELECT site_no, ticket, min_similarity, flags, data FROM photo_evidence"):
        if site and r["site_no"] != site:
            continue
        if not p.sees(district_of_site(store, r["site_no"])):
            continue
        flags = json.loads(r["flags"])
        if flagged and not flags:
            continue
        if max_similarity is not None and (r["min_similarity"] is None or r["min_similarity"] > max_similarity):
            continue
        d = json.loads(r["data"])
        rows.append({"site_no": r["site_no"], "district": district_of_site(store, r["site_no"]), "ticket": r["ticket"],
                     "min_similarity": r["min_similarity"], "flags": flags, "captures": d.get("captures", []),
                     "id_checks": d.get("id_checks", []), "decision": dec.get(r["ticket"])})
    rows.sort(key=lambda x: (0 if "拍照失败" in x["flags"] else 1,
                             x["min_similarity"] if x["min_similarity"] is not None else 2.0, x["ticket"]))
    return rows
