"""考点成绩汇总: counts and raw scores per room and category, for the district office.

Raw scores only: the pass mark is set centrally after every site has tested, so nothing
here says 合格 or 不合格.
"""
from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, KeepTogether, Spacer, Table

from contracts.exam import CATEGORIES, STATUS_LABELS

from . import layout as L
from .data import cn_date, hm, local_dt, reading

STATEMENT = "合格分数线由市级统一划定，本表仅列原始分"
BIN = 10


def site_report(db: Any) -> bytes:
    with reading(db) as r:
        site_name, site_no, demo = r.site()
        title = r.meta("exam_title", "") or "医师定期考核业务水平测评"
        cands = r.candidates()
        dates = sorted({row["date"] for row in r.sittings()})
        full = r.max_points()

    story: list = [
        L.cpara(title, 11),
        L.cpara("考点成绩汇总表（原始分）", 17, spaceBefore=2, spaceAfter=4),
        L.cpara(f"考点：{site_name}" + (f"（编号 {site_no}）" if site_no else "")
                + f"    考试日期：{'、'.join(cn_date(d) for d in dates) or '—'}"
                + f"    打印时间：{local_dt(time.time()):%Y-%m-%d %H:%M}", 9.5, spaceAfter=5),
        _statement(),
        Spacer(1, 4 * mm),
        L.para("一、各考场各类别人数", 12, spaceAfter=3),
        _summary(cands),
        Spacer(1, 5 * mm),
        L.para(f"二、原始分分布（每 {BIN} 分一段；仅计已交卷考生，终止考试者不计入）", 12, spaceAfter=3),
        *_charts(cands, full),
        CondPageBreak(60 * mm),
        L.para("三、考生成绩明细（按考场）", 12, spaceBefore=4, spaceAfter=3),
        *_lists(cands),
        # the closing statement and the signature stay on one page
        KeepTogether([Spacer(1, 5 * mm), _statement(), Spacer(1, 10 * mm),
                      L.para("主考签名：____________________        日期：______年____月____日", 11)]),
    ]
    return L.build(story, L.standard_decorate(demo), title=f"考点成绩汇总 {site_name}")


def _statement() -> Table:
    t = Table([[L.cpara(STATEMENT, 12)]], colWidths=[L.usable_width()])
    t.setStyle(L.grid([("BOX", (0, 0), (-1, -1), 1.2, colors.black),
                       ("BACKGROUND", (0, 0), (-1, -1), colors.Color(.95, .95, .95))], pad=5))
    return t


def _cat_order(cat: str) -> tuple:
    return (CATEGORIES.index(cat) if cat in CATEGORIES else len(CATEGORIES), cat)


def _counts(rows) -> list:
    expected = len(rows)
    present = sum(1 for c in rows if c["present"])
    absent = sum(1 for c in rows if c["attendance"] == "absent")   # exam/counts.py
    submitted = [c for c in rows if c["status"] == "submitted"]
    terminated = sum(1 for c in rows if c["status"] == "terminated")
    scores = [c["score"] for c in submitted if c["score"] is not None]
    avg = fmt(sum(scores) / len(scores)) if scores else "—"
    unsubmitted = present - len(submitted) - terminated  # still answering when printed
    return [expected, present, absent, len(submitted), terminated, unsubmitted, avg,
            fmt(max(scores)) if scores else "—", fmt(min(scores)) if scores else "—"]


def fmt(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _summary(cands) -> Table:
    head = ["考场", "执业类别", "应考", "实考", "缺考", "已交卷", "终止考试", "未交卷", "平均分", "最高分", "最低分"]
    by_room: dict[str, list] = defaultdict(list)
    for c in cands:
        by_room[c["room_name"]].append(c)
    data = [[L.cpara(h, 9) for h in head]]
    style = [("ALIGN", (0, 0), (-1, -1), "CENTER")]
    for room in sorted(by_room):
        rows = by_room[room]
        cats = sorted({c["category"] for c in rows}, key=_cat_order)
        first = len(data)
        for cat in cats:
            data.append([room, cat] + _counts([c for c in rows if c["category"] == cat]))
        data.append([room, "小计"] + _counts(rows))
        style += [("SPAN", (0, first), (0, len(data) - 1)),
                  ("BACKGROUND", (1, len(data) - 1), (-1, len(data) - 1), colors.Color(.93, .93, .93))]
    data.append(["全考点", "合计"] + _counts(cands))
    style.append(("BACKGROUND", (0, len(data) - 1), (-1, len(data) - 1), colors.Color(.85, .85, .85)))
    widths = [x * mm for x in (27, 20, 15, 15, 15, 16, 17, 16, 15, 15, 15)]
    return Table(data, colWidths=widths, repeatRows=1, style=L.grid(style, size=9.5))


def _bins(full: float) -> list[tuple[float, float]]:
    top = max(BIN, math.ceil(full / BIN) * BIN)
    return [(lo, lo + BIN) for lo in range(0, int(top), BIN)]


def _charts(cands, full) -> list:
    cats = sorted({c["category"] for c in cands}, key=_cat_order)
    bins = _bins(full)
    cells = []
    for cat in cats:
        scores = [c["score"] for c in cands
                  if c["category"] == cat and c["status"] == "submitted" and c["score"] is not None]
        counts = [0] * len(bins)
        for sc in scores:
            i = min(int(sc // BIN), len(bins) - 1)  # full marks join the top band
            counts[i] += 1
        cells.append(_chart(cat, bins, counts, len(scores)))
    rows = [cells[i:i + 2] + [""] * (2 - len(cells[i:i + 2])) for i in range(0, len(cells), 2)]
    if not rows:
        return [L.para("暂无成绩。", 10)]
    t = Table(rows, colWidths=[L.usable_width() / 2] * 2)
    t.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    return [t]


def _chart(cat: str, bins, counts, n: int) -> Drawing:
    f = L.font()
    d = Drawing(88 * mm, 58 * mm)
    d.add(String(44 * mm, 54 * mm, f"{cat}（{n} 人）", fontName=f, fontSize=10, textAnchor="middle"))
    ch = VerticalBarChart()
    ch.x, ch.y, ch.width, ch.height = 10 * mm, 12 * mm, 75 * mm, 38 * mm
    ch.data = [counts]
    ch.bars[0].fillColor = colors.Color(.45, .45, .45)
    ch.barLabels.fontName = f
    ch.barLabels.fontSize = 6.5
    ch.barLabelFormat = lambda v: str(int(v)) if v else ""
    ch.barLabels.nudge = 5
    ch.categoryAxis.categoryNames = [f"{lo}-{hi - 1}" if hi < bins[-1][1] else f"{lo}-{hi}"
                                     for lo, hi in bins]
    ch.categoryAxis.labels.fontName = f
    ch.categoryAxis.labels.fontSize = 6
    ch.categoryAxis.labels.angle = 35
    ch.categoryAxis.labels.boxAnchor = "ne"
    ch.valueAxis.labels.fontName = f
    ch.valueAxis.labels.fontSize = 7
    ch.valueAxis.valueMin = 0
    top = max(counts + [1])
    step = max(1, math.ceil(top / 5))
    ch.valueAxis.valueMax = step * math.ceil((top + 1) / step)
    ch.valueAxis.valueStep = step
    d.add(ch)
    return d


def _lists(cands) -> list:
    out = []
    head = ["序号", "准考证号", "姓名", "执业类别", "场次", "状态", "原始分", "交卷时间", "回执码"]
    widths = [x * mm for x in (10, 32, 18, 17, 12, 17, 15, 18, 47)]
    by_room: dict[str, list] = defaultdict(list)
    for c in cands:
        if c["present"]:  # attempts only; absentees are on the room records
            by_room[c["room_name"]].append(c)
    for room in sorted(by_room):
        rows = sorted(by_room[room], key=lambda c: (c["date"], c["sitting_no"], c["ticket"]))
        data = [[L.cpara(h, 9) for h in head]]
        for i, c in enumerate(rows, 1):
            data.append([i, c["ticket"], L.cpara(c["name"], 9), c["category"], f"第{c['sitting_no']}场",
                         STATUS_LABELS.get(c["status"] or "not_arrived", c["status"]), fmt(c["score"]),
                         hm(c["submitted_at"]), c["receipt"] or ""])
        t = Table(data, colWidths=widths, repeatRows=1,
                  style=L.grid([("ALIGN", (0, 0), (-1, -1), "CENTER")], size=9, pad=1.5))
        # never strand a room's heading and a row or two at the foot of a page
        out += [CondPageBreak(45 * mm), L.para(f"{room}（{len(rows)} 人）", 11, spaceBefore=4, spaceAfter=2), t]
    return out
