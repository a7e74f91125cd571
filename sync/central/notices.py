"""考核结果通知书 (seeds 004_… 2.2.10: 为医师个人打印考核结果通知书): one A4 page per
physician, for one physician or a whole unit, in the WenQuanYi Micro Hei TrueType font
(embedded; the hall's printing finds it the same way)."""
from __future__ import annotations

import io
import time
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from contracts.fonts import register_fonts

from .outcomes import LEVEL_ZH


def _fmt(v) -> str:
    if v is None or v == "":
        return "—"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def notice_pdf(rows: list[dict], issuer: str, cycle: str) -> bytes:
    """rows: reports.notice_rows(); one page each."""
    font = register_fonts()
    title = ParagraphStyle("t", fontName=font, fontSize=22, leading=30, alignment=1, spaceAfter=8 * mm)
    body = ParagraphStyle("b", fontName=font, fontSize=13, leading=22, firstLineIndent=26)
    plain = ParagraphStyle("p", fontName=font, fontSize=13, leading=22)
    right = ParagraphStyle("r", fontName=font, fontSize=13, leading=22, alignment=2)
    today = time.strftime("%Y年%m月%d日")
    story: list = []
    for i, r in enumerate(rows):
        if i:
            story.append(PageBreak())
        story.append(Paragraph("医师定期考核结果通知书", title))
        story.append(Paragraph(f"{escape(r['name'])} 医师：", plain))
        story.append(Paragraph(
            f"您参加的{escape(cycle)}医师定期考核业务水平测评（{escape(r['category'])}类别 {escape(r['level'])}）"
            f"结果如下。", body))
        story.append(Spacer(1, 5 * mm))
        cells = [["准考证号", r["ticket"]], ["身份证号", r["id_number"]], ["单位名称", r["unit"]],
                 ["科室", r["department"]], ["考点", f"{r['site_no']} {r['site_name']}"],
                 ["考试日期", r["exam_dates"]], ["测评成绩", _fmt(r["score"])], ["合格分数线", _fmt(r["mark"])],
                 ["违纪认定", LEVEL_ZH.get(r["violation"], "") or "无"], ["考核结果", r["result"]]]
        if r.get("makeup"):
            cells.insert(-1, ["补考结果", r["makeup"]])
        t = Table([[Paragraph(escape(str(a)), plain), Paragraph(escape(str(b)), plain)] for a, b in cells],
                  colWidths=[35 * mm, 125 * mm])
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.6, "#333333"),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("BACKGROUND", (0, 0), (0, -1), "#eeeeee")]))
        story.append(t)
        story.append(Spacer(1, 12 * mm))
        story.append(Paragraph(escape(issuer), right))
        story.append(Paragraph(today, right))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm, topMargin=30 * mm,
                            bottomMargin=25 * mm, title="医师定期考核结果通知书", author=issuer)
    doc.build(story)
    return buf.getvalue()
