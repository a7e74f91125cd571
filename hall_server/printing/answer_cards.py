"""答题卡: the paper fallback, one card per candidate, keyed back in by hand afterwards.

Questions appear in the candidate's own paper order with that question's own option keys,
so the person keying a card in reads it against the same paper the phone would have shown.
"""
from __future__ import annotations

import io
import math
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Table

from . import layout as L
from .data import cn_date, reading

COLS = 4
ROWS = 25            # per column: 100 questions fit one page
GROUP = 5            # a shaded band every five rows guides the eye while keying in
ROW_PITCH = 7.4 * mm
GROUP_GAP = 1.6 * mm
BUBBLE_R = 2.25 * mm
BUBBLE_PITCH = 6.9 * mm
NUM_W = 10 * mm
DEFAULT_KEYS = "ABCDE"


def answer_cards(db: Any, sitting_id: str, tickets: list[str] | None = None) -> bytes:
    with reading(db) as r:
        s = r.sitting(sitting_id)
        cands = r.candidates(sitting_id)
        if tickets is not None:
            wanted = list(dict.fromkeys(tickets))
            by_ticket = {c["ticket"]: c for c in cands}
            missing = [t for t in wanted if t not in by_ticket]
            if missing:
                raise LookupError(f"tickets not in sitting {sitting_id}: {', '.join(missing)}")
            cands = [by_ticket[t] for t in wanted]
        papers = {c["ticket"]: r.paper(c["ticket"]) for c in cands}

    w, h = A4
    buf = io.BytesIO()
    # Page count known up front, so a plain canvas (bookmarks need real page breaks).
    per_page = COLS * ROWS
    plan = [(cand, _questions(papers[cand["ticket"]], s.question_count)) for cand in cands]
    total_pages = sum(max(1, math.ceil(len(q) / per_page)) for _, q in plan) or 1
    c = Canvas(buf, pagesize=A4)
    c.setTitle(f"答题卡 {s.room_name} 第{s.sitting_no}场")
    c.setAuthor("hall 考点服务器")
    decorate = L.standard_decorate(s.demo)
    page = 0
    for cand, questions in plan:
        sheets = max(1, math.ceil(len(questions) / per_page))
        # a bookmark per candidate: find a card in the PDF viewer by seat, ticket or name
        key = f"card-{cand['ticket']}"
        c.bookmarkPage(key)
        c.addOutlineEntry(f"{cand['seat_no'] or '-'}  {cand['ticket']}  {cand['name']}", key, level=0)
        for sheet in range(sheets):
            _card(c, s, cand, papers[cand["ticket"]], questions[sheet * per_page:(sheet + 1) * per_page],
                  sheet + 1, sheets, len(questions))
            page += 1
            decorate(c, page, total_pages)
            c.showPage()
    if not cands:
        c.setFont(L.font(), 12)
        c.drawString(L.MARGIN, h - 30 * mm, "本场次无考生。")
        decorate(c, 1, 1)
        c.showPage()
    c.save()
    return buf.getvalue()


def _questions(paper: dict | None, count: int) -> list[tuple[int, str]]:
    """(question number, option keys) in paper order."""
    if not paper or not paper.get("questions"):
        return [(i, DEFAULT_KEYS) for i in range(1, count + 1)]
    out = []
    for i, q in enumerate(paper["questions"], 1):
        keys = "".join(o["key"] for o in q.get("options") or []) or DEFAULT_KEYS
        out.append((q.get("no", i), keys))
    return out


def _card(c: Canvas, s, cand, paper, questions, sheet: int, sheets: int, total: int) -> None:
    f = L.font()
    w, h = A4
    y = h - L.MARGIN - 6 * mm
    c.setFont(f, 17)
    title = f"{s.title}  答题卡" + (f"（第 {sheet}/{sheets} 张）" if sheets > 1 else "")
    c.drawCentredString(w / 2, y, title)
    y -= 7 * mm
    c.setFont(f, 9.5)
    c.drawCentredString(w / 2, y, f"{s.site_name}    第 {s.sitting_no} 场    {cn_date(s.date)}")
    y -= 4 * mm

    paper_cat = (paper or {}).get("category") or cand["category"]
    lab = lambda t: L.cpara(t, 10)
    val = lambda t, size=12: L.cpara(t, size)
    ident = Table([
        [lab("姓名"), val(cand["name"]), lab("准考证号"), val(cand["ticket"], 13), lab("座位号"),
         val(cand["seat_no"] if cand["seat_no"] is not None else "")],
        [lab("执业类别"), val(cand["category"]), lab("试卷类别"), val(paper_cat), lab("考场"),
         val(cand["room_name"])],
    ], colWidths=[18 * mm, 34 * mm, 20 * mm, 58 * mm, 18 * mm, 38 * mm], rowHeights=[9 * mm] * 2,
        style=L.grid([("BACKGROUND", (0, 0), (0, -1), colors.Color(.93, .93, .93)),
                      ("BACKGROUND", (2, 0), (2, -1), colors.Color(.93, .93, .93)),
                      ("BACKGROUND", (4, 0), (4, -1), colors.Color(.93, .93, .93))]))
    _, th = ident.wrapOn(c, w - 2 * L.MARGIN, h)
    y -= th
    ident.drawOn(c, L.MARGIN, y)

    y -= 6 * mm
    c.setFont(f, 9)
    c.drawString(L.MARGIN, y, "填涂说明：用黑色签字笔将所选选项涂黑（●），每题只选一项；改答时在原选项上打“×”，再涂新选项。"
                 "未作答的题目留空。")
    y -= 5 * mm
    c.setFont(f, 9)
    c.setFillColor(colors.Color(.3, .3, .3))
    c.drawString(L.MARGIN, y, f"本卷共 {total} 题，题号与选项顺序以本人试卷为准。")
    c.setFillColor(colors.black)
    y -= 4 * mm
    _grid(c, questions, L.MARGIN, y)

    c.setFont(f, 11)
    c.drawString(L.MARGIN, 20 * mm, "考生签名：____________________")
    c.drawString(w / 2 + 10 * mm, 20 * mm, "监考签名：____________________")
    c.setFont(f, 8)
    c.drawRightString(w - L.MARGIN, L.FOOTER_Y, f"{cand['ticket']} {cand['name']}")


def _grid(c: Canvas, questions, x0: float, top: float) -> None:
    f = L.font()
    col_w = (A4[0] - 2 * L.MARGIN) / COLS
    band_h = GROUP * ROW_PITCH
    # Always 25 to a column: a short paper's card looks like the first columns of a full one.
    for i, (no, keys) in enumerate(questions):
        col, row = divmod(i, ROWS)
        x = x0 + col * col_w
        y = top - row * ROW_PITCH - (row // GROUP) * GROUP_GAP - ROW_PITCH / 2 - 1 * mm
        if row % GROUP == 0 and (row // GROUP) % 2 == 0:
            c.setFillColor(colors.Color(.93, .93, .93))
            c.rect(x + 0.5 * mm, y - band_h + ROW_PITCH / 2, col_w - 1 * mm, band_h, stroke=0, fill=1)
        c.setFillColor(colors.black)
        c.setFont(f, 10)
        c.drawRightString(x + NUM_W - 1.5 * mm, y - 1.3 * mm, str(no))
        for k, key in enumerate(keys):
            cx = x + NUM_W + BUBBLE_R + 0.5 * mm + k * BUBBLE_PITCH
            c.setStrokeColor(colors.Color(.15, .15, .15))
            c.setLineWidth(0.7)
            c.setFillColor(colors.white)
            c.circle(cx, y, BUBBLE_R, stroke=1, fill=1)
            c.setFillColor(colors.Color(.35, .35, .35))
            c.setFont(f, 7)
            c.drawCentredString(cx, y - 1.2 * mm, key)
    c.setFillColor(colors.black)
