"""试题册: a candidate's own paper on paper, for the fallback without phones (000_…txt 五(六)
采用答题卡答题，统一判卷). Printed beside that candidate's answer card (答题卡), in the same
question and option order, only once the sitting's papers are released (the console checks
and audits it: exam/fallback_ops.py).

Reads the paper (table ``papers``, what the phone would show) and never the key (table
``paper_keys``): nothing here can print an answer. Every page names the candidate in its
header and footer, so loose pages cannot be swapped between candidates.
"""
from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import Image, KeepTogether, PageBreak, Paragraph, Spacer

from . import layout as L
from .data import cn_date, reading

IMAGE_MAX_W = 120 * mm
IMAGE_MAX_H = 80 * mm
SHARED_MARK = "（共用题干）"
INLINE_OPTIONS = 40       # characters: options this short go on one line


class NotReleased(LookupError):
    """A requested candidate's paper is not in the database (still sealed)."""


def question_booklet(db: Any, sitting_id: str, tickets: list[str]) -> bytes:
    with reading(db) as r:
        s = r.sitting(sitting_id)
        by_ticket = {c["ticket"]: c for c in r.candidates(sitting_id)}
        missing = [t for t in tickets if t not in by_ticket]
        if missing:
            raise LookupError(f"tickets not in sitting {sitting_id}: {', '.join(missing)}")
        cands = [by_ticket[t] for t in dict.fromkeys(tickets)]
        papers = {c["ticket"]: r.paper(c["ticket"]) for c in cands}
        sealed = [t for t, p in papers.items() if p is None]
        if sealed:
            raise NotReleased(", ".join(sealed))
        names = {q["image"] for p in papers.values() for q in p["questions"] if q.get("image")}
        media = {row["name"]: bytes(row["data"]) for row in r.rows(
            f"SELECT name, data FROM media WHERE name IN ({','.join('?' * len(names))})", tuple(names))} if names else {}

    owners = _Owners()
    story: list = []
    for i, cand in enumerate(cands):
        if i:
            story.append(PageBreak())
        story.append(owners.marker(cand))
        story += _cover(s, cand, len(papers[cand["ticket"]]["questions"]))
        for n, q in enumerate(papers[cand["ticket"]]["questions"], 1):
            story.append(_question(q, n, media))

    def head(c, n: int, total: int) -> None:
        cand = owners.on_page(n)
        if cand is None:
            return
        c.setFont(L.font(), 8.5)
        w, h = c._pagesize
        c.drawString(L.MARGIN, h - 8 * mm, f"试题册 · {cand['ticket']} {cand['name']} · 座位 {cand['seat_no'] or '-'}")
        c.drawRightString(w - L.MARGIN, L.FOOTER_Y, f"{cand['ticket']} {cand['name']}（本试题册不含答案）")

    return L.build(story, L.standard_decorate(s.demo, extra=head), f"试题册 {s.room_name} 第{s.sitting_no}场",
                   top=L.MARGIN + 4 * mm)


class _Owners:
    """Which candidate each page belongs to: a zero-size flowable at the start of each
    candidate's part records the page it lands on."""

    def __init__(self):
        self.starts: list[tuple[int, dict]] = []

    def marker(self, cand):
        owners = self

        class Mark(Spacer):
            def __init__(self):
                super().__init__(0, 0)

            def draw(self):
                owners.starts.append((self.canv.getPageNumber(), cand))

        return Mark()

    def on_page(self, n: int):
        owner = None
        for page, cand in sorted(self.starts, key=lambda x: x[0]):
            if page <= n:
                owner = cand
        return owner


def _cover(s, cand, count: int) -> list:
    return [
        L.cpara(f"{s.title}　试题册", 17, spaceAfter=3),
        L.cpara(f"{s.site_name}　{s.room_name}　第 {s.sitting_no} 场　{cn_date(s.date)}", 10, spaceAfter=4),
        L.para(f"姓名：{cand['name']}　　准考证号：{cand['ticket']}　　座位号：{cand['seat_no'] or ''}"
               f"　　执业类别：{cand['category']}　　共 {count} 题", 11, spaceAfter=3),
        L.para("本试题册为本人专用试卷（题目与选项顺序与本人答题卡一致）。请在答题卡上填涂答案，在本册上作答无效。"
               "考试结束后试题册与答题卡一并交回监考员。", 9.5, spaceAfter=6),
    ]


def _question(q: dict, n: int, media: dict[str, bytes]) -> KeepTogether:
    stem = q.get("stem") or ""
    parts: list = []
    cut = stem.find("\n")
    if cut >= 0:   # an A3/A4 group: the shared case first, set apart, then the question
        parts.append(L.para(stem[:cut].replace(SHARED_MARK, ""), 10, leftIndent=3 * mm, spaceAfter=2,
                            backColor="#eeeeee", borderPadding=2))
        stem = stem[cut + 1:]
    no = q.get("no", n)
    parts.append(Paragraph(f"<b>{no}.</b> {escape(stem)}", L.style(11, leading=15, spaceBefore=4)))
    if q.get("image") and q["image"] in media:
        parts.append(_image(media[q["image"]]))
    opts = [f"{o['key']}. {o['text']}" for o in q.get("options") or []]
    if sum(len(o) for o in opts) <= INLINE_OPTIONS:   # short options share one line: fewer pages
        parts.append(L.para("　　".join(opts), 10.5, leftIndent=6 * mm, leading=14))
    else:
        parts += [L.para(o, 10.5, leftIndent=6 * mm, leading=14) for o in opts]
    parts.append(Spacer(1, 2 * mm))
    return KeepTogether(parts)


def _image(data: bytes) -> Image:
    from reportlab.lib.utils import ImageReader

    iw, ih = ImageReader(io.BytesIO(data)).getSize()
    scale = min(IMAGE_MAX_W / iw, IMAGE_MAX_H / ih, 1.0 * mm * 0.3)  # at most ~0.3 mm per pixel
    return Image(io.BytesIO(data), width=iw * scale, height=ih * scale)
