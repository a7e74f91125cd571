"""考场情况记录表: the room record the invigilators and the chief examiner sign.

Exactly the official fields (000_…txt 六(二)). The form is paginated by hand rather than
left to reportlab's table splitting: every page repeats the identity rows and ends with
the signature row, continuation pages say 续表, and a section that spills says （续）, so
no page can be read or swapped out of context.
"""
from __future__ import annotations

from datetime import date as Date
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Spacer, Table

from contracts.exam import INCIDENT_KINDS, VIOLATION_LEVELS

from . import exception_lines
from . import layout as L
from .data import duration_zh, envelope_text, hm, reading

W = [30 * mm, 50 * mm, 22 * mm, 30 * mm, 24 * mm, 30 * mm]   # 186 mm, the A4 text width
CONTENT_W = sum(W[1:]) - 6  # less the cell padding (3 pt a side)
ABSENT_PER_LINE = 3
VIOL_W = [x * mm for x in (30, 15, 28, 17, 50, 13)]  # 153 mm, inside CONTENT_W
MAX_FACTS = 300  # longer statements go on an attached sheet, the form keeps its shape
# Blank room for handwriting where a section ends (on its last page).
MIN_H = {"absent": 16 * mm, "viol": 30 * mm, "other": 30 * mm}
LABELS = {"absent": ("缺考记录", "（缺考考生准考证号及姓名）"),
          "viol": ("违纪记录", "（违纪考生准考证号及姓名及违纪情况）"),
          "other": ("其他", "")}
SIGN_H = 20 * mm
SHARE = {"absent": 0.2, "viol": 0.4, "other": 0.4}  # of spare height, for handwriting


def room_record(db: Any, sitting_id: str) -> bytes:
    with reading(db) as r:
        s = r.sitting(sitting_id)
        cands = r.candidates(sitting_id)
        viols = r.violations(sitting_id)
        incidents = r.incidents(sitting_id)
        adjustments = r.time_adjustments(sitting_id)
        envelope = r.release_envelope(sitting_id)
        exceptions = exception_lines.events(exception_lines.rows_for(r, sitting_id), sitting_id)

    # 应到/实到/缺考 as hall_server/exam/counts.py defines them (the console's numbers).
    absent = [c for c in cands if c["attendance"] == "absent"]
    present = [c for c in cands if c["present"]]
    pending = sum(1 for c in cands if c["attendance"] == "pending")
    sections = {
        "absent": _absent_rows(absent, pending),
        "viol": _violation_rows(viols),
        "other": _other_rows(s, present, incidents, adjustments, envelope, exceptions,
                             sum(1 for c in cands if c["attendance"] == "rescheduled")),
    }
    ident = _identity_rows(s, len(cands), len(present))
    pages = _paginate(s, ident, sections)

    story: list = []
    for i, page in enumerate(pages):
        if i:
            story.append(PageBreak())
        story += _title(s, continued=i > 0)
        story.append(page)
    return L.build(story, L.standard_decorate(s.demo),
                   title=f"考场情况记录表 {s.room_name} 第{s.sitting_no}场")


def _title(s, continued: bool) -> list:
    try:
        d = Date.fromisoformat(s.date[:10])
        day = f"考试日：{d.year} 年 {d.month} 月 {d.day} 日"
    except ValueError:
        day = f"考试日：{s.date}"
    name = "考场情况记录表（续表）" if continued else "考场情况记录表"
    return [L.cpara(s.title, 10), L.cpara(name, 17, spaceBefore=2, spaceAfter=5),
            L.para(day, 11, spaceAfter=4)]


def _title_height(s) -> float:
    return sum(f.wrap(sum(W), 1000)[1] + f.getSpaceBefore() + f.getSpaceAfter()
               for f in _title(s, True))


def _identity_rows(s, expected: int, present: int) -> list[list]:
    lab = lambda t: L.cpara(t, 11)
    val = lambda t: L.cpara(t, 12)
    site = s.site_name + (f"（考点编号 {s.site_no}）" if s.site_no else "")
    return [
        [lab("考点名称"), L.para(site, 12), "", "", lab("场次"), val(f"第 {s.sitting_no} 场")],
        [lab("考场"), val(s.room_name), lab("应到人数"), val(expected), lab("实到人数"), val(present)],
    ]


def _absent_rows(absent, pending: int = 0) -> list[list]:
    """pending: candidates who may still enter when this is printed (not 缺考 yet)."""
    note = f"（打印时另有 {pending} 人尚未入场，入场时间未截止）" if pending else ""
    if not absent:
        return [[L.para("无" + note, 10)]]
    rows = [[L.para(f"共 {len(absent)} 人{note}：", 10)]]
    for i in range(0, len(absent), ABSENT_PER_LINE):
        rows.append([L.para(f"{c['ticket']}  {c['name']}", 10)
                     for c in absent[i:i + ABSENT_PER_LINE]])
    return rows


def _violation_rows(viols) -> list[list]:
    if not viols:
        return [[L.para("无", 10)]]
    rows = []
    for v in viols:
        facts = v["facts"] if len(v["facts"]) <= MAX_FACTS else v["facts"][:MAX_FACTS] + "…（详见附页）"
        who = "／".join(x for x in (v["unit"], v["department"]) if x)
        rows.append([L.para(v["ticket"], 8.5), L.para(v["name"] or "", 9), L.para(who, 8),
                     L.para(VIOLATION_LEVELS.get(v["level"], v["level"]), 9), L.para(facts, 8.5),
                     L.cpara(hm(v["ts"]), 8.5)])
    return rows


def _other_rows(s, present, incidents, adjustments, envelope=None, exceptions=(), retakes: int = 0) -> list[list]:
    """Incidents, pauses, extra time, late admissions, an opened 放行码信封 and one candidate's
    exceptions (stopped, moved, rescheduled) in time order, then a system line."""
    events = list(exceptions)
    if envelope is not None and envelope["opened_at"]:
        events.append((envelope["opened_at"], envelope_text(envelope)))
    for inc in incidents:
        kind = INCIDENT_KINDS.get(inc["kind"], inc["kind"])
        events.append((inc["ts"], f"{hm(inc['ts'])}  【{kind}】{inc['text']}"))
    for t in adjustments:
        minutes = duration_zh(t["seconds"])
        if t["kind"] == "pause":
            span = minutes if t["ended_at"] else "（打印时仍暂停）"
            events.append((t["started_at"], f"{hm(t['started_at'])}  【暂停考试】{span}：{t['reason']}"))
        else:
            who = f"{t['ticket']} {t['name'] or ''}".strip() if t["ticket"] else "全场在考考生"
            events.append((t["started_at"],
                           f"{hm(t['started_at'])}  【延长时间】{who} 延长 {minutes}：{t['reason']}"))
    for c in present:
        if c["late_reason"] and not exception_lines.is_move_admission(c["late_reason"]):
            at = c["logged_in_at"] or 0
            events.append((at, f"{hm(c['logged_in_at'])}  【准许迟到入场】{c['ticket']} {c['name']}：{c['late_reason']}"))
    events.sort(key=lambda e: e[0] or 0)
    rows = [[L.para(text, 9.5)] for _, text in events]
    submitted = sum(1 for c in present if c["status"] == "submitted")
    terminated = sum(1 for c in present if c["status"] == "terminated")
    unsubmitted = len(present) - submitted - terminated
    changes = sum(c["device_changes"] or 0 for c in present)
    paper = sum(1 for c in present if c["mode"] not in (None, "phone"))
    parts = []
    if s.started_at:
        parts.append(f"开考 {hm(s.started_at, True)}")
    if s.ended_at:
        parts.append(f"结束 {hm(s.ended_at, True)}")
    if s.paused_total_s:
        parts.append(f"暂停累计 {duration_zh(s.paused_total_s)}")
    parts.append(f"已交卷 {submitted} 人，终止考试 {terminated} 人，未交卷 {unsubmitted} 人")
    parts.append(f"更换设备登录 {changes} 人次")
    if retakes:
        parts.append(f"待重考 {retakes} 人")
    if paper:
        parts.append(f"答题卡作答 {paper} 人")
    rows.append([L.para("系统记录：" + "；".join(parts) + "。", 9, textColor=colors.Color(.25, .25, .25))])
    return rows


def _section_table(key: str, rows: list[list]) -> Table:
    if key == "viol" and len(rows[0]) > 1:
        head = [L.para(t, 8.5) for t in ("准考证号", "姓名", "单位／科室", "类别", "违纪情况及处理", "时间")]
        t = Table([head] + rows, colWidths=VIOL_W, repeatRows=0)
        t.setStyle(L.grid([("BACKGROUND", (0, 0), (-1, 0), colors.Color(.92, .92, .92))], pad=1.5))
        return t
    if key == "absent":
        width = [CONTENT_W / ABSENT_PER_LINE] * ABSENT_PER_LINE
        data = [r + [""] * (ABSENT_PER_LINE - len(r)) for r in rows]
        t = Table(data, colWidths=width)
        t.setStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")])
        return t
    t = Table(rows, colWidths=[CONTENT_W])
    t.setStyle([("LEFTPADDING", (0, 0), (-1, -1), 0)])
    return t


def _page_table(ident, parts: list[tuple[str, list, bool, bool]], extra: dict | None = None) -> Table:
    """parts: (section key, its rows on this page, continued from before, ends here);
    extra: blank height to add under a section, for handwritten entries."""
    data = [list(r) for r in ident]
    style = [("SPAN", (1, 0), (3, 0)), ("ALIGN", (0, 0), (-1, -1), "CENTER")]
    for key, rows, cont, ends in parts:
        name, hint = LABELS[key]
        label = L.cpara(name + ("（续）" if cont else "") + (f"\n{hint}" if hint else ""), 11)
        body = [_section_table(key, rows)]
        if ends:
            h = body[0].wrap(CONTENT_W, 10_000)[1]
            pad = max(MIN_H[key] - h, 0) + (extra or {}).get(key, 0)
            if pad > 0:
                body.append(Spacer(1, pad))
        i = len(data)
        data.append([label, body, "", "", "", ""])
        style += [("SPAN", (1, i), (5, i)), ("VALIGN", (1, i), (1, i), "TOP")]
    i = len(data)
    data.append([L.cpara("监考签名", 11), "", "", L.cpara("主考签名", 11), "", ""])
    style += [("SPAN", (1, i), (2, i)), ("SPAN", (4, i), (5, i))]
    heights = [12 * mm] * len(ident) + [None] * len(parts) + [SIGN_H]
    return Table(data, colWidths=W, rowHeights=heights, style=L.grid(style, pad=3))


def _paginate(s, ident, sections: dict[str, list]) -> list[Table]:
    """Fill each page with as many section rows as fit, in the official order."""
    frame = A4[1] - L.MARGIN - (L.MARGIN + 4 * mm) - 12  # minus SimpleDocTemplate's frame padding
    avail = frame - _title_height(s)  # 续表 pages have the same title block height
    order = ("absent", "viol", "other")
    queue = [(k, row) for k in order for row in sections[k]]
    last = {k: max(i for i, (kk, _) in enumerate(queue) if kk == k) for k in order}
    pages: list[Table] = []
    started: set[str] = set()
    pos = 0
    while pos < len(queue):
        best, end = None, pos
        while end < len(queue):
            t = _page_table(ident, _parts(queue, pos, end + 1, started, last))
            if best is not None and t.wrap(sum(W), 100_000)[1] > avail:
                break  # at least one row per page, however long
            best, end = t, end + 1
        parts = _parts(queue, pos, end, started, last)
        started.update(k for k, _ in queue[pos:end])
        # Stretch the form to the foot of the page, like the paper original: the spare
        # height is writing room under the sections that end on this page.
        spare = avail - best.wrap(sum(W), 100_000)[1] - 2
        share = {k: SHARE[k] for k, _, _, ends in parts if ends}
        if spare > 0 and share:
            total = sum(share.values())
            best = _page_table(ident, parts, {k: spare * v / total for k, v in share.items()})
        pages.append(best)
        pos = end
    return pages


def _parts(queue, start, stop, started, last) -> list[tuple[str, list, bool, bool]]:
    parts = []
    for k in ("absent", "viol", "other"):
        rows = [row for kk, row in queue[start:stop] if kk == k]
        if rows:
            parts.append((k, rows, k in started, last[k] < stop))
    return parts
