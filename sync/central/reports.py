"""Status of all sites and the per-unit spreadsheets (进度统计, 结果统计).

The official system's tables are only shown as screenshots in the manual
(seeds/004_…txt "考核进度统计", "考核结果统计": per 卫生机构, downloadable as Excel);
the columns below are our reading of them, kept in one place so they are easy to adjust.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .store import Store

DEFAULT_SITES_CSV = Path("/work/shared/data/sites.csv")


def load_sites(path: str | Path | None) -> list[dict]:
    p = Path(path) if path else DEFAULT_SITES_CSV
    if not p.exists():
        return []
    with open(p, encoding="utf-8-sig", newline="") as f:
        return [dict(r) for r in csv.DictReader(f)]


def verdict(r: dict, marks: dict) -> str:
    """合格 / 不合格 / 缺考 / 待定 (pass mark not set, score missing or exam unfinished)."""
    if not r.get("in_bundle"):
        return "未上报"
    if r["status"] == "absent":
        return "缺考"
    if r.get("violation") in ("cheating", "serious") or r["status"] == "terminated":
        return "不合格"          # 考试作弊 / 严重违纪: this attempt fails regardless of score
    if r["status"] != "submitted":
        return "待定"
    mark = marks.get((r["category"], r["level"]))
    if mark is None or r.get("centre_score") is None:
        return "待定"
    return "合格" if r["centre_score"] >= mark else "不合格"


def site_status(store: Store, sites_csv: str | Path | None = None) -> dict:
    sites = load_sites(sites_csv)
    results = store.results()
    bundles = store.bundles()
    rejections = store.rejections(limit=1000)
    per: dict[str, dict[str, Any]] = {}
    for s in sites:
        per[str(s["site_no"])] = {"site_no": str(s["site_no"]), "district": s.get("district", ""),
                                  "site_name": s.get("site_name", ""), "exam_dates": s.get("exam_dates", ""),
                                  "bundles": 0, "last_received": None, "generation": None,
                                  "expected": 0, "received": 0, "submitted": 0, "absent": 0,
                                  "problems": []}
    def site(no: str) -> dict:
        return per.setdefault(no, {"site_no": no, "district": "", "site_name": "(不在考点名单)",
                                   "exam_dates": "", "bundles": 0, "last_received": None, "generation": None,
                                   "expected": 0, "received": 0, "submitted": 0, "absent": 0,
                                   "problems": ["考点不在 sites.csv 名单中"]})
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
    no_key = {}
    mismatch = {}
    for r in results:
        s = site(r["site_no"])
        if r["expected"] or not roster_known:
            s["expected"] += 1
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
                s.setdefault("_unfinished", 0)
                s["_unfinished"] = s["_unfinished"] + 1
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
    rows = sorted(per.values(), key=lambda s: (int(s["site_no"]) if s["site_no"].isdigit() else 10**9, s["site_no"]))
    not_synced = [s for s in rows if not s["bundles"]]
    return {"sites": rows, "totals": {
        "sites": len(rows), "synced": len(rows) - len(not_synced), "not_synced": len(not_synced),
        "bundles": len(bundles), "expected": sum(s["expected"] for s in rows),
        "received": sum(s["received"] for s in rows), "rejections": len(rejections),
        "roster_loaded": roster_known},
        "not_synced": [s["site_no"] for s in not_synced],
        "recent_rejections": rejections[:50]}


def _district_of(sites: list[dict]) -> dict[str, str]:
    return {str(s["site_no"]): s.get("district", "") for s in sites}


def progress_table(store: Store, sites_csv=None, unit: str | None = None, district: str | None = None):
    """考核进度统计: per unit."""
    dist = _district_of(load_sites(sites_csv))
    header = ["序号", "单位名称", "所属区县", "应考人数", "已参加测评", "已交卷", "未交卷", "缺考", "未上报", "完成率"]
    agg: dict[tuple, dict] = {}
    for r in store.results():
        d = dist.get(r["site_no"], "")
        if (unit and r["unit"] != unit) or (district and d != district):
            continue
        a = agg.setdefault((r["unit"], d), dict(exp=0, took=0, sub=0, unf=0, absent=0, missing=0))
        a["exp"] += 1
        if not r["in_bundle"]:
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
        rows.append([i, u, d, a["exp"], a["took"], a["sub"], a["unf"], a["absent"], a["missing"],
                     f"{(a['sub'] / a['exp'] * 100) if a['exp'] else 0:.1f}%"])
    return header, rows


def results_table(store: Store, sites_csv=None, unit: str | None = None, district: str | None = None):
    """考核结果统计: per unit, with 合格/不合格/缺考/待定."""
    dist = _district_of(load_sites(sites_csv))
    marks = store.pass_marks()
    header = ["序号", "单位名称", "所属区县", "应考人数", "实考人数", "合格", "不合格", "缺考", "待定", "未上报", "合格率"]
    agg: dict[tuple, dict] = {}
    for r in store.results():
        d = dist.get(r["site_no"], "")
        if (unit and r["unit"] != unit) or (district and d != district):
            continue
        a = agg.setdefault((r["unit"], d), {"应考": 0, "实考": 0, "合格": 0, "不合格": 0, "缺考": 0, "待定": 0, "未上报": 0})
        a["应考"] += 1
        v = verdict(r, marks)
        a[v] += 1
        if v in ("合格", "不合格", "待定"):
            a["实考"] += 1
    rows = []
    for i, ((u, d), a) in enumerate(sorted(agg.items()), 1):
        rate = f"{a['合格'] / a['实考'] * 100:.1f}%" if a["实考"] else ""
        rows.append([i, u, d, a["应考"], a["实考"], a["合格"], a["不合格"], a["缺考"], a["待定"], a["未上报"], rate])
    return header, rows


def candidates_table(store: Store, sites_csv=None, unit: str | None = None, district: str | None = None):
    """Per physician (for 考核结果通知书 and disputes)."""
    dist = _district_of(load_sites(sites_csv))
    marks = store.pass_marks()
    header = ["准考证号", "姓名", "身份证号", "单位名称", "科室", "类别", "级别", "考点编号", "所属区县",
              "状态", "交卷方式", "违纪", "中心评分", "考点分数", "合格分数线", "结果"]
    rows = []
    for r in store.results():
        d = dist.get(r["site_no"], "")
        if (unit and r["unit"] != unit) or (district and d != district):
            continue
        mark = marks.get((r["category"], r["level"]))
        rows.append([r["ticket"], r["name"], r["id_number"], r["unit"], r["department"], r["category"], r["level"],
                     r["site_no"], d, r["status"] or "", r["submit_reason"] or "", r["violation"] or "",
                     r["centre_score"], r["site_score"], mark, verdict(r, marks)])
    return header, rows


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
