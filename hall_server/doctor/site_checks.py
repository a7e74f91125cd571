"""Preflight checks of the site's data: the bundle, the clock against the exam dates, the
release codes the sittings will need."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from .result import FAIL, PASS, WARN, Check


def read_site(db_path: Path) -> dict | None:
    """What the checks need from the database, read-only; None when there is none."""
    if not Path(db_path).exists():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        sittings = [dict(zip(("sitting_id", "date", "planned_start", "status"), r)) for r in
                    conn.execute("SELECT sitting_id, date, planned_start, status FROM sittings ORDER BY planned_start")]
        sealed = {r[0] for r in conn.execute("SELECT sitting_id FROM sealed_sittings")}
        candidates = conn.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]
        conn.row_factory = sqlite3.Row
        audit = [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY id")] if _has_audit(conn) else []
    except sqlite3.DatabaseError:
        return {"meta": {}, "sittings": [], "sealed": set(), "candidates": 0, "audit": [], "broken": True}
    finally:
        conn.close()
    return {"meta": meta, "sittings": sittings, "sealed": sealed, "candidates": candidates, "audit": audit,
            "broken": False}


def _has_audit(conn) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit_log'").fetchone() is not None


def bundle(site: dict | None, audit_ok: tuple[bool, int | None] | None) -> Check:
    if site is None:
        return Check("bundle", "考点数据包", FAIL, "尚未导入考点数据包",
                     "hall import site_XXX.hallbundle --central-key central_ed25519.pub --site-no N")
    meta = site["meta"]
    if site.get("broken") or not meta.get("site_no"):
        return Check("bundle", "考点数据包", FAIL, "数据库损坏或未完成导入", "联系区县定考办重新导入数据包")
    name = f"考点 {meta['site_no']} {meta.get('site_name', '')}，{site['candidates']} 名考生，{len(site['sittings'])} 个场次"
    if audit_ok is not None and not audit_ok[0]:
        return Check("bundle", "考点数据包", FAIL, f"{name}；审计记录在第 {audit_ok[1]} 条断开（被改动）",
                     "停止使用本数据库并报告区县定考办")
    if meta.get("demo") == "1":
        return Check("bundle", "考点数据包", WARN, f"{name}：演示数据，不是正式考试", "正式考试前导入本考点的数据包")
    if not meta.get("bundle_id"):
        return Check("bundle", "考点数据包", WARN, f"{name}：不是经签名校验导入的数据包", "用 hall import 导入市定考办签名的数据包")
    return Check("bundle", "考点数据包", PASS, f"{name}（数据包 {meta['bundle_id'][:12]}，签名已在导入时校验）")


def clock(now: dt.datetime, site: dict | None) -> Check:
    """The laptop's clock is the exam's clock: it must fall on an exam date, and no sitting
    still waiting may lie in the past."""
    stamp = now.strftime("%Y-%m-%d %H:%M")
    if site is None or not site["sittings"]:
        return Check("clock", "系统时间", WARN, f"本机时间 {stamp}；未导入数据包，无法与考试日期核对", "导入数据包后再检查")
    dates = sorted(json.loads(site["meta"].get("exam_dates") or "[]") or {s["date"] for s in site["sittings"]})
    today = now.date().isoformat()
    shown = "、".join(dates)
    stale = [s["sitting_id"] for s in site["sittings"] if s["status"] == "planned" and s["date"] < today]
    if stale:
        return Check("clock", "系统时间", FAIL, f"本机时间 {stamp}，但 {len(stale)} 个未开考场次的日期已过（考试日 {shown}）",
                     "核对电脑时间（设置 → 日期和时间）；时间正确则联系区县定考办")
    if today in dates:
        return Check("clock", "系统时间", PASS, f"本机时间 {stamp}，今天是考试日（{shown}）；请与北京时间核对到分钟")
    if today < dates[0]:
        days = (dt.date.fromisoformat(dates[0]) - now.date()).days
        return Check("clock", "系统时间", WARN, f"本机时间 {stamp}，距第一个考试日 {dates[0]} 还有 {days} 天",
                     "考试当天开考前请再次检查，并与北京时间核对")
    return Check("clock", "系统时间", PASS, f"本机时间 {stamp}，考试日（{shown}）已结束")


def release_codes(site: dict | None, today: str, office: str, verified: dict[str, bool] | None) -> Check:
    """Sealed sittings of today need their 放行码 from the district office at the start;
    ``verified`` ({sitting_id: code opens it}) when the chief tried a codes file."""
    if site is None:
        return Check("codes", "放行码", WARN, "未导入数据包")
    sealed_today = sorted(s["sitting_id"] for s in site["sittings"]
                          if s["sitting_id"] in site["sealed"] and s["date"] == today and s["status"] == "planned")
    if verified:
        bad = sorted(sid for sid, ok in verified.items() if not ok)
        if bad:
            return Check("codes", "放行码", FAIL, f"以下场次的放行码不正确：{'、'.join(bad)}", f"向{office}核对放行码")
        missing = [sid for sid in sealed_today if sid not in verified]
        if not missing:
            return Check("codes", "放行码", PASS, f"今天 {len(sealed_today)} 个场次的放行码均已核对")
        sealed_today = missing
    if not site["sealed"]:
        return Check("codes", "放行码", PASS, "试卷已全部解封（或数据包未加封），开考不需要放行码")
    if not sealed_today:
        return Check("codes", "放行码", PASS, f"今天没有需要放行码的场次（共 {len(site['sealed'])} 个场次仍加封）")
    return Check("codes", "放行码", WARN, f"今天 {len(sealed_today)} 个场次开考时需要放行码：{'、'.join(sealed_today)}",
                 f"开考时向{office}索取（请提前确认联系电话畅通）")
