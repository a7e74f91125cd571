"""Page furniture shared by every form: styles, grid tables, page numbers, demo banner."""
from __future__ import annotations

import io
from typing import Callable, Iterable
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, TableStyle

from contracts.fonts import register_fonts

MARGIN = 12 * mm
FOOTER_Y = 7 * mm
# Decorations get (canvas, page number, page count) once the page count is known.
Decorate = Callable[[Canvas, int, int], None]


def font() -> str:
    return register_fonts()


def style(size: float = 10, align: int = TA_LEFT, leading: float | None = None, **kw) -> ParagraphStyle:
    return ParagraphStyle(f"s{size}{align}", fontName=font(), fontSize=size,
                          leading=leading or size * 1.3, alignment=align,
                          wordWrap="CJK", **kw)


def para(text, size: float = 10, align: int = TA_LEFT, **kw) -> Paragraph:
    """A wrapped cell of plain text: database values are escaped, never parsed as markup."""
    return Paragraph(escape("" if text is None else str(text)).replace("\n", "<br/>"),
                     style(size, align, **kw))


def cpara(text, size: float = 10, **kw) -> Paragraph:
    return para(text, size, TA_CENTER, **kw)


def grid(extra: Iterable[tuple] = (), size: float = 9, pad: float = 2) -> TableStyle:
    return TableStyle([
        ("FONT", (0, 0), (-1, -1), font(), size),
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), pad),
        ("RIGHTPADDING", (0, 0), (-1, -1), pad),
        ("TOPPADDING", (0, 0), (-1, -1), pad),
        ("BOTTOMPADDING", (0, 0), (-1, -1), pad),
        *extra,
    ])


def page_number_text(n: int, total: int) -> str:
    return f"第 {n} 页 共 {total} 页"


def draw_page_number(c: Canvas, n: int, total: int, width: float) -> None:
    c.setFont(font(), 9)
    c.drawCentredString(width / 2, FOOTER_Y, page_number_text(n, total))


DEMO_MARK = "【演示数据 · 非正式考试记录】"
REHEARSAL_MARK = "【模拟演练 · 练习题，不计成绩 · 非正式考试记录】"


def mark(demo: str | None, rehearsal: str | None) -> str:
    """The banner every page of a form carries ('' for a real exam), from the meta flags."""
    if (rehearsal or "").strip() == "1":
        return REHEARSAL_MARK
    return DEMO_MARK if (demo or "").strip().lower() in ("1", "true", "yes") else ""


def draw_demo_banner(c: Canvas, width: float, height: float, text: str | bool = DEMO_MARK) -> None:
    """Synthetic demo data, or a rehearsal, must never pass for a real exam record."""
    text = text if isinstance(text, str) else DEMO_MARK
    c.saveState()
    c.setFillColor(colors.red)
    c.setFont(font(), 10)
    c.drawCentredString(width / 2, height - 7 * mm, text)
    if text == REHEARSAL_MARK:          # and across the page, where a cut-off header cannot hide it
        c.setFillColor(colors.Color(0.85, 0.3, 0, alpha=0.12))
        c.setFont(font(), 72)
        c.translate(width / 2, height / 2)
        c.rotate(35)
        c.drawCentredString(0, 0, "模拟演练")
    c.restoreState()


def numbered_canvas(decorate: Decorate) -> type[Canvas]:
    """A canvas that holds pages back until the end so each can print '共 N 页'."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for i, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                decorate(self, i, total)
                Canvas.showPage(self)
            Canvas.save(self)

    return NumberedCanvas


def standard_decorate(demo: bool | str, pagesize=A4, extra: Decorate | None = None) -> Decorate:
    """``demo``: the banner text (printing/layout.mark), or True for the demo's."""
    w, h = pagesize

    def decorate(c: Canvas, n: int, total: int) -> None:
        draw_page_number(c, n, total, w)
        if demo:
            draw_demo_banner(c, w, h, demo)
        if extra:
            extra(c, n, total)

    return decorate


def build(flowables: list, decorate: Decorate, title: str, pagesize=A4,
          top: float = MARGIN, bottom: float = MARGIN + 4 * mm) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=pagesize, leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=top, bottomMargin=bottom, title=title,
                            author="hall 考点服务器", creator="hall_server.printing")
    doc.build(flowables, canvasmaker=numbered_canvas(decorate))
    return buf.getvalue()


def usable_width(pagesize=A4) -> float:
    return pagesize[0] - 2 * MARGIN


def fit_size(text: str, width: float, size: float = 9, smallest: float = 6) -> float:
    """Largest font size <= size at which text fits on one line: numbers must never wrap."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    while size > smallest and stringWidth(text, font(), size) > width:
        size -= 0.25
    return size


def header_lines(c: Canvas, width: float, height: float, title: str, info: str,
                 top: float = 12 * mm) -> None:
    """Title and one information line at the head of a page."""
    c.setFont(font(), 15)
    c.drawCentredString(width / 2, height - top - 4 * mm, title)
    c.setFont(font(), 9.5)
    c.drawCentredString(width / 2, height - top - 11 * mm, info)
