"""Status of all sites and the spreadsheets (进度统计, 结果统计, 结果名单, 补考名单).

The official system's tables are only shown as screenshots in the manual
(seeds/004_…txt 2.2.10 "考核进度统计", "考核结果统计": per 卫生机构, downloadable as Excel);
the columns below are our reading of them, kept in one place so they are easy to adjust.
Every code is written as the Chinese words of the forms (``outcomes.py``). A district
office's account sees its own districts only (``principal``).
"""
from __future__ import annotations

import csv
import io
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import cases, deferrals, photos
from .offices import office_of_district
from .outcomes import (ABSENT, CASE_STATE_ZH, DEFERRED, LEVEL_ZH, MISSING, STATUS_ZH, SUBMIT_REASON_ZH,
                       makeup_reason, verdict)
from .store import Store

from provisioning.packaged import SITES_CSV as DEFAULT_SITES_CSV   # the 343 sites hall ships
from provisioning.sites import read_csv_rows


@lru_cache(maxsize=8)
def _read_sites(path: str, mtime: float) -> tuple[dict, ...]:
    return tuple(read_csv_rows(path))


def load_sites(path: str | Path | None) -> list[dict]:
    p = Path(path) if path else DEFAULT_SITES_CSV
    if not p.exists():
        return []
    return [dict(r) for r in _read_sites(str(p), os.path.getmtime(p))]


def district_map(sites_csv) -> dict[str, str]:
    p = Path(sites_csv) if sites_csv else DEFAULT_SITES_CSV
    return _district_map(str(p), os.path.getmtime(p)) if p.exists() else {}


@lru_cache(maxsize=8)
def _district_map(path: str, mtime: float) -> dict[str, str]:
    return {str(s["site_no"]): s.get("district", "") for s in _read_sites(path, mtime)}


def district_of_site(store: Store, site_no: str) -> str:
    return district_map(getattr(store, "sites_csv", None)).get(str(site_no), "")


class Outcomes:
    """Everything a verdict needs, read once per page or export."""

    def __init__(self, store: Store):
        self.marks = store.pass_marks()
        makeup_sites = {r[0] for r in store._q("SELECT DISTINCT site_no FROM makeup_roster")}
        self.cases_first, self.cases_makeup = cases.outcome_by_ticket(store, makeup_sites)
        self.deferred = deferrals.approved(store)
        self.makeup_rows = {r["ticket"]: r for r in store.results(table="makeup_results") if r["in_bundle"]}
        self.photo = photos.decisions(store)   # photo review (photos.py): the latest decision

    def photo_effect(self, ticket: str) -> str | None:
        d = self.photo.get(ticket)
        return d["effect"] if d else None

    def first(self, r: dict) -> str:
        return verdict(r, self.marks, self.cases_first.get(r["ticket"]), r["ticket"] in self.deferred,
                       self.photo_effect(r["ticket"]))

    def makeup(self, ticket: str) -> str:
        m = self.makeup_rows.get(ticket)
        return verdict(m, self.marks, self.cases_makeup.get(ticket)) if m else ""

    def final(self, r: dict) -> str:
        return self.makeup(r["ticket"]) or self.first(r)

    def makeup_reason(self, r: dict) -> str | None:
        return makeup_reason(self.first(r), self.cases_first.get(r["ticket"]), self.photo_effect(r["ticket"]))


def _visible(principal, district: str) -> bool:
    return principal is None or principal.sees(district)


def _own_sites(principal, sites_csv) -> list[str] | None:
    """The site numbers a district account owns (None: every site); read only those rows."""
    if principal is None or principal.districts is None:
        return None
    return [no for no, d in district_map(sites_csv).items() if principal.sees(d)]


def site_status(store: Store, sites_csv: str | Path | None = None, principal=None) -> dict:
    sites = load_sites(sites_csv)
    results = store.results(site_nos=_own_sites(principal, sites_csv))
    bundles = store.bundles()
    rejections = store.rejections(limit=1000)
    out = Outcomes(store)
    per: dict[str, dict[str, Any]] = {}

    def blank(no, district, name, dates, problems):
        return {"site_no": no, "district": district, "site_name": name, "exam_dates": dates, "bundles": 0,
                "last_received": None, "generation": None, "expected": 0, "received": 0, "submitted": 0,
                "absent": 0, "pending_cases": 0, "makeup": 0, "deferred": 0, "problems": problems}
    for s in sites:
        per[str(s["site_no"])] = blank(str(s["site_no"]), s.get("district", ""), s.get("site_name", ""),
                                       s.get("exam_dates", ""), [])

    def site(no: str) -> dict:
        return per.setdefault(no, blank(no, "", "(不在考点名单)", "", ["考点不在 sites.csv 名单中"]))
    for b in bundles:
        s = site(b["site_no"])
        s["bundles"] += 1
        s["last_received"] = max(s["last_received"] or 0, b["received_at"])
        s["generation"] = max(s["generation"] or 0, b["generation"])
        info = json.loads(b["counts"])
        if info.get("demo") and "成绩包为演示数据（DEMO）" not in s["problems"]:
            s["problems"].append("成绩包为演示数据（DEMO）")
        issued = store.plan_ids.get(b["site_no"])
        msg = "考点导入的考试数据包与中心为其签发的不同"
        if issued and info.get("plan_bundle_id") != issued and msg not in s["problems"]:
            s["problems"].append(msg)
    roster_known = any(r["expected"] for r in results)
    no_key: dict[str, int] = {}
    mismatch: dict[str, int] = {}
    for r in results:
        s = site(r["site_no"])
        if r["expected"] or not roster_known:
            s["expected"] += 1
        if r["ticket"] in out.deferred:
            s["deferred"] += 1
        elif out.makeup_reason(r):
            s["makeup"] += 1
        if r["in_bundle"]:
            s["received"] += 1
            if r["status"] == "absent":
                s["absent"] += 1
            elif r["status"] in ("submitted", "terminated"):
                s["submitted"] += 1
            if r["score_note"] == "no_key":
                no_key[r["site_no"]] = no_key.get(r["site_no"], 0) + 1
            if r["site_score"] is not None and r["centre_score"] is not None and \
                    abs(r["site_score"] - r["centre_score"]) > 1e-9:
                mismatch[r["site_no"]] = mismatch.get(r["site_no"], 0) + 1
            if r["status"] in ("logged_in", "confirmed", "answering"):
                s["_unfinished"] = s.get("_unfinished", 0) + 1
    for site_no, state in store._q("SELECT site_no, state FROM cases"):
        if state != "approved":
            site(site_no)["pending_cases"] += 1
    unconfirmed: dict[str, int] = {}
    for site_no, received_at, in_bundle in store._q("SELECT site_no, received_at, in_bundle FROM site_reports"):
        s = site(site_no)
        s["reports"] = s.get("reports", 0) + 1
        if not in_bundle and s["last_received"] and s["last_received"] > received_at:
            unconfirmed[site_no] = unconfirmed.get(site_no, 0) + 1
    for no, n in unconfirmed.items():
        site(no)["problems"].append(f"{n} 条当日速报未见于之后收到的成绩包")
    for no, n in no_key.items():
        site(no)["problems"].append(f"{n} 名考生中心无答案（无法评分）")
    for no, n in mismatch.items():
        site(no)["problems"].append(f"{n} 名考生考点分数与中心复核分数不一致（以中心为准）")
    for s in per.values():
        n = s.pop("_unfinished", 0)
        if n:
            s["problems"].append(f"{n} 名考生未交卷（成绩包导出时考试未结束？）")
        if roster_known and s["bundles"] and s["received"] < s["expected"]:
            s["problems"].append(f"名单 {s['expected']} 人，成绩包只含 {s['received']} 人")
    seen = set()
    for rj in rejections:
        s = per.get(rj["site_no"] or "")
        if s is None or (s["site_no"], rj["code"]) in seen:
            continue
        # a refusal followed by an accepted bundle is settled; a replayed old bundle is harmless
        if rj["code"] == "stale" or (s["last_received"] and rj["ts"] < s["last_received"]):
            continue
        seen.add((s["site_no"], rj["code"]))
        s["problems"].append(f"被拒收: {rj['code']} {rj['message']}")
    rows = sorted((s for s in per.values() if _visible(principal, s["district"])),
                  key=lambda s: (int(s["site_no"]) if s["site_no"].isdigit() else 10**9, s["site_no"]))
    not_synced = [s for s in rows if not s["bundles"]]
    districts: dict[str, dict] = {}
    for s in rows:
        d = districts.setdefault(s["district"], {"district": s["district"], "office": office_of_district(s["district"]),
                                                 "sites": 0, "not_synced": 0, "pending_cases": 0, "makeup": 0,
                                                 "deferred": 0, "expected": 0, "received": 0})
        d["sites"] += 1
        d["not_synced"] += 0 if s["bundles"] else 1
        for k in ("pending_cases", "makeup", "deferred", "expected", "received"):
            d[k] += s[k]
    visible_rej = [r for r in rejections if _visible(principal, per.get(r["site_no"] or "", {}).get("district", ""))]
    return {"sites": rows, "districts": sorted(districts.values(), key=lambda d: d["district"]), "totals": {
        "sites": len(rows), "synced": len(rows) - len(not_synced), "not_synced": len(not_synced),
        "bundles": sum(s["bundles"] for s in rows), "expected": sum(s["expected"] for s in rows),
        "received": sum(s["received"] for s in rows), "rejections": len(visible_rej),
        "pending_cases": sum(s["pending_cases"] for s in rows), "makeup": sum(s["makeup"] for s in rows),
        "deferred": sum(s["deferred"] for s in rows), "roster_loaded": roster_known},
        "not_synced": [s["site_no"] for s in not_synced],
        "recent_rejections": visible_rej[:50]}


def _rows(store: Store, sites_csv, unit, district, principal):
    """(result row, its district) the caller may see, after the ?unit= / ?district= filters."""
    dist = district_map(sites_csv)
    for r in store.results(site_nos=_own_sites(principal, sites_csv)):
        d = dist.get(r["site_no"], "")
        if (unit and r["unit"] != unit) or (district and d != district) or not _visible(principal, d):
            continue
        yield r, d


def progress_table(store: Store, sites_csv=None, unit: str | None = None, district: str | None = None,
                   principal=None):
    """考核进度统计: per unit."""
    header = ["序号", "单位名称", "所属区县", "应考人数", "已参加测评", "已交卷", "未交卷", "缺考", "延期考核", "未上报",
              "完成率"]
    deferred = deferrals.approved(store)
    agg: dict[tuple, dict] = {}
    for r, d in _rows(store, sites_csv, unit, district, principal):
        a = agg.setdefault((r["unit"], d), dict(exp=0, took=0, sub=0, unf=0, absent=0, deferred=0, missing=0))
        a["exp"] += 1
        if r["ticket"] in deferred:
            a["deferred"] += 1
        elif not r["in_bundle"]:
            a["missing"] += 1
        elif r["status"] == "absent":
            a["absent"] += 1
        else:
            a["took"] += 1
            if r["status"] in ("submitted", "terminated"):
                a["sub"] += 1
            else:
                a["unf"] += 1
    rows = []
    for i, ((u, d), a) in enumerate(sorted(agg.items()), 1):
        rows.append([i, u, d, a["exp"], a["took"], a["sub"], a["unf"], a["absent"], a["deferred"], a["missing"],
                     f"{(a['sub'] / a['exp'] * 100) if a['exp'] else 0:.1f}%"])
    return header, rows


def results_table(store: Store, sites_csv=None, unit: str | None = None, district: str | None = None,
                  principal=None):
    """考核结果统计: per unit, the final verdict (after a make-up, the make-up's)."""
    out = Outcomes(store)
    header = ["序号", "单位名称", "所属区县", "应考人数", "实考人数", "合格", "不合格", "缺考", "待核准", "待定",
              "延期考核", "未上报", "合格率"]
    agg: dict[tuple, dict] = {}
    for r, d in _rows(store, sites_csv, unit, district, principal):
        a = agg.setdefault((r["unit"], d), {k: 0 for k in header[3:12]})
        a["应考人数"] += 1
        v = out.final(r)
        a[v] += 1
        if v not in (ABSENT, MISSING, DEFERRED):
            a["实考人数"] += 1
    rows = []
    for i, ((u, d), a) in enumerate(sorted(agg.items()), 1):
        rate = f"{a['合格'] / a['实考人数'] * 100:.1f}%" if a["实考人数"] else ""
        rows.append([i, u, d, *(a[k] for k in header[3:12]), rate])
    return header, rows


def candidates_table(store: Store, sites_csv=None, unit: str | None = None, district: str | None = None,
                     principal=None):
    """Per physician (for 考核结果通知书 and disputes)."""
    out = Outcomes(store)
    case_state = {r[0]: r[1] for r in store._q("SELECT ticket, state FROM cases ORDER BY updated_at")}
    header = ["准考证号", "姓名", "身份证号", "单位名称", "科室", "类别", "级别", "考点编号", "所属区县",
              "状态", "交卷方式", "违纪", "违纪处理", "中心评分", "考点分数", "合格分数线", "首次结果", "补考结果", "结果",
              "照片最低相似度", "照片标记", "照片评定"]
    evidence = {r[0]: (r[1], r[2]) for r in store._q("SELECT ticket, min_similarity, flags FROM photo_evidence")}
    rows = []
    for r, d in _rows(store, sites_csv, unit, district, principal):
        t = r["ticket"]
        approved = out.cases_first.get(t)
        level = approved if approved not in (None, "pending") else r["violation"]
        handling = CASE_STATE_ZH.get(case_state.get(t), "")
        if approved not in (None, "pending"):
            handling = f"已核准：{LEVEL_ZH.get(approved, approved)}"
        status = "延期考核" if t in out.deferred else STATUS_ZH.get(r["status"], r["status"] or "") \
            if r["in_bundle"] else "未上报"
        rows.append([t, r["name"], r["id_number"], r["unit"], r["department"], r["category"], r["level"],
                     r["site_no"], d, status, SUBMIT_REASON_ZH.get(r["submit_reason"], r["submit_reason"] or ""),
                     LEVEL_ZH.get(level, level or ""), handling, r["centre_score"], r["site_score"],
                     out.marks.get((r["category"], r["level"])), out.first(r), out.makeup(t), out.final(r),
                     *_photo_cells(evidence.get(t), out.photo.get(t))])
    return header, rows


def _photo_cells(ev, decision) -> list:
    import json

    from .photos import RULES

    sim, flags = ev if ev else (None, "[]")
    return ["" if sim is None else round(sim, 3), "、".join(json.loads(flags)),
            RULES[decision["rule"]][0] if decision else ""]


def makeup_table(store: Store, sites_csv=None, unit: str | None = None, district: str | None = None,
                 principal=None):
    """补考名单 per district: 成绩不合格, 考试作弊 (approved) and 缺考; never 严重违纪 (no make-up
    this cycle), never an approved 延期考核."""
    out = Outcomes(store)
    header = ["序号", "所属区县", "准考证号", "姓名", "身份证号", "单位名称", "科室", "类别", "级别", "原考点编号",
              "补考原因", "补考结果"]
    picked = []
    for r, d in _rows(store, sites_csv, unit, district, principal):
        why = out.makeup_reason(r)
        if why:
            picked.append((d, r["ticket"], r, why))
    picked.sort(key=lambda x: (x[0], x[1]))
    rows = [[i, d, t, r["name"], r["id_number"], r["unit"], r["department"], r["category"], r["level"], r["site_no"],
             why, out.makeup(t)] for i, (d, t, r, why) in enumerate(picked, 1)]
    return header, rows


def notice_rows(store: Store, sites_csv=None, principal=None, ticket: str | None = None,
                unit: str | None = None, district: str | None = None) -> list[dict]:
    """What a 考核结果通知书 says, per physician the account may see."""
    out = Outcomes(store)
    sites = {str(s["site_no"]): s for s in load_sites(sites_csv)}
    rows = []
    for r, d in _rows(store, sites_csv, unit, district, principal):
        if ticket and r["ticket"] != ticket:
            continue
        approved = out.cases_first.get(r["ticket"])
        s = sites.get(r["site_no"], {})
        rows.append({**{k: r[k] for k in ("ticket", "name", "id_number", "unit", "department", "category", "level",
                                          "site_no")},
                     "site_name": s.get("site_name", ""), "exam_dates": s.get("exam_dates", ""),
                     "score": r["centre_score"], "mark": out.marks.get((r["category"], r["level"])),
                     "violation": approved if approved not in (None, "pending") else None,
                     "result": out.first(r), "makeup": out.makeup(r["ticket"])})
    rows.sort(key=lambda x: x["ticket"])
    return rows


# A text cell starting with one of these is run as a formula by Excel/WPS/LibreOffice
# (=HYPERLINK(...) sends data away, +/-/@ start formulas too, tab/CR hide the lead).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(v) -> bool:
    return isinstance(v, str) and v.startswith(FORMULA_LEADS)


def csv_safe(v):
    """Names and units come from the sites: a leading ' makes a formula-like text plain text."""
    return "'" + v if is_formula_like(v) else v


def to_csv(header, rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows([csv_safe(v) for v in r] for r in rows)
    return buf.getvalue().encode("utf-8-sig")   # BOM: Excel opens it as UTF-8


def _text_cell(ws, v: str):
    """A string cell, never a formula (openpyxl writes "=…" as one), with Excel's quote
    prefix so that editing the cell does not turn it into one either; the text is kept."""
    from openpyxl.cell import WriteOnlyCell
    c = WriteOnlyCell(ws, value=v)
    c.data_type = "s"
    c.quotePrefix = True
    return c


def to_xlsx(title: str, header, rows) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter
    wb = Workbook(write_only=True)          # streaming: 25,000 rows in about a second
    ws = wb.create_sheet(title[:31])
    for i, h in enumerate(header, 1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(h)) * 2 + 4))
    ws.freeze_panes = "A2"
    cells = []
    for h in header:
        c = WriteOnlyCell(ws, value=h)
        c.font = Font(bold=True)
        cells.append(c)
    ws.append(cells)
    for r in rows:
        ws.append([_text_cell(ws, v) if is_formula_like(v) else v for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
