"""考生一览表: the sign-in sheet candidates sign at the door, printed per unit."""
from __future__ import annotations

from itertools import groupby
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Table

from . import layout as L
from .data import cn_date, mask_id, planned_hm, reading

COLUMNS = [("序号", 8), ("准考证号", 30), ("姓名", 16), ("性别", 8), ("身份证号", 32),
           ("工作单位", 36), ("执业类别", 15), ("座位号", 11), ("签名", 30)]
ROW_H = 12 * mm  # room for a handwritten signature
NO_UNIT = "（未填写工作单位）"


def sign_in_sheet(db: Any, sitting_id: str, by_unit: bool = True) -> bytes:
    with reading(db) as r:
        s = r.sitting(sitting_id)
        cands = r.candidates(sitting_id)

    if by_unit:
        # Units in order of their first seat, so the door queue follows the room plan.
        keyed = sorted(cands, key=lambda c: (c["unit"] or NO_UNIT))
        groups = [(u, list(g)) for u, g in groupby(keyed, key=lambda c: c["unit"] or NO_UNIT)]
        groups.sort(key=lambda ug: min(_seat_key(c) for c in ug[1]))
    else:
        groups = [(None, list(cands))]

    story: list = []
    for i, (unit, rows) in enumerate(groups):
        if i:
            story.append(PageBreak())
        story.append(_table(unit, rows))
    if not cands:
        story.append(L.para("本场次无考生。", 11))

    w, h = A4
    info = (f"考点：{s.site_name}" + (f"（编号 {s.site_no}）" if s.site_no else "")
            + f"    场次：第 {s.sitting_no} 场    考场：{s.room_name}"
            + f"    日期：{cn_date(s.date)}  {planned_hm(s.planned_start)} 开考")

    def head_foot(c, n, total):
        L.header_lines(c, w, h, f"{s.title}  考生一览表", info)
        c.setFont(L.font(), 9)
        c.drawString(L.MARGIN, L.FOOTER_Y + 5 * mm, "考生核对本人信息无误后在“签名”栏签名。")
        c.drawRightString(w - L.MARGIN, L.FOOTER_Y, "监考签名：____________________")

    return L.build(story, L.standard_decorate(s.demo, extra=head_foot),
                   title=f"考生一览表 {s.room_name} 第{s.sitting_no}场", top=28 * mm, bottom=20 * mm)


def _seat_key(c) -> tuple:
    return (c["seat_no"] is None, c["seat_no"] or 0, c["ticket"])


def _table(unit: str | None, rows: list) -> Table:
    widths = [w * mm for _, w in COLUMNS]
    head = [L.cpara(name, 8.5) for name, _ in COLUMNS]
    data: list[list] = []
    if unit is not None:
        data.append([L.para(f"工作单位：{unit}（共 {len(rows)} 人）", 10)] + [""] * (len(COLUMNS) - 1))
    data.append(head)
    nhead = len(data)
    for n, c in enumerate(rows, 1):
        cells = [str(n), c["ticket"], c["name"], c["gender"], mask_id(c["id_number"]),
                 c["unit"], c["category"], "" if c["seat_no"] is None else str(c["seat_no"]), ""]
        # names and unit names may wrap inside the row; numbers never do (see below)
        cells[2] = L.cpara(cells[2], 9, leading=9)
        cells[5] = L.cpara(cells[5], 7.5, leading=9)
        data.append(cells)
    style = L.grid([
        ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("BACKGROUND", (0, nhead - 1), (-1, nhead - 1), colors.Color(0.9, 0.9, 0.9)),
    ])
    if unit is not None:
        style.add("SPAN", (0, 0), (-1, 0))
        style.add("ALIGN", (0, 0), (-1, 0), "LEFT")
    # Numbers shrink to fit one line rather than wrap.
    for i in range(nhead, len(data)):
        for col in (1, 4):
            text = data[i][col]
            style.add("FONTSIZE", (col, i), (col, i), L.fit_size(text, widths[col] - 4))
    heights = [8 * mm] * nhead + [ROW_H] * len(rows)
    return Table(data, colWidths=widths, rowHeights=heights, repeatRows=nhead, style=style)
