"""The printed guides: 监考员操作指南 (one page), 主考检查清单 (before / during / after, with
the district office's number from contracts/data) and the 考生须知 poster. The words
are in guide_texts.py; the numbers (minutes, questions) come from the site's database."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table

from . import guide_texts as T
from . import layout as L
from .data import conn_of


@dataclass
class SiteFacts:
    site: str
    district: str
    demo: str                       # the banner of a demo or a rehearsal (layout.mark)
    duration: str
    late: str
    earliest: str
    questions: str
    office: str
    phones: str
    city: str
    hotline: str

    def fill(self, text: str) -> str:
        return text.format(**self.__dict__)

    lines: tuple = ()      # hall_server.contacts.Contact: office, city, hotline

    def contacts(self, sep: str = "；") -> str:
        return sep.join(c.text for c in self.lines)


def _span(values: list[int], unit: int = 1) -> str:
    vs = sorted({v // unit for v in values})
    return str(vs[0]) if len(vs) == 1 else f"{vs[0]}–{vs[-1]}"


def site_facts(db: Any) -> SiteFacts:
    from ..contacts import Contact, for_district

    conn = conn_of(db)
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    rows = conn.execute("SELECT duration_s, late_entry_s, earliest_submit_s, question_count FROM sittings").fetchall()
    if not rows:
        raise LookupError("数据库中没有场次：请先导入数据包")
    district = meta.get("district", "")
    c = for_district(district)
    return SiteFacts(site=meta.get("site_name", ""), district=district, demo=L.mark(meta.get("demo"), meta.get("rehearsal")),
                     duration=_span([r[0] for r in rows], 60), late=_span([r[1] for r in rows], 60),
                     earliest=_span([r[2] for r in rows], 60), questions=_span([r[3] for r in rows]),
                     office=c.office.label if c.office else "区县定考办",
                     phones="、".join(c.office.phones) if c.office else "（请填写）",
                     city="、".join(c.city.phones) if c.city else "",
                     hotline="、".join(c.hotline.phones) if c.hotline else "",
                     lines=tuple(c.lines()) if c.office else (Contact("区县定考办", ("（请填写）",)), *c.lines()))


def _p(text: str, size: float, bold_prefix: str = "", **kw) -> Paragraph:
    body = escape(text)
    if bold_prefix:
        body = f'<font size="{size + 1}">{escape(bold_prefix)}</font>' + body
    return Paragraph(body, L.style(size, **kw))


def _doc(title: str, facts: SiteFacts, flow: list) -> bytes:
    return L.build(flow, L.standard_decorate(facts.demo), title, top=L.MARGIN + 2 * mm)


def invigilator_guide(db: Any) -> bytes:
    f = site_facts(db)
    flow: list = [_p("监考员操作指南", 20, align=TA_CENTER), _p(f"{f.site}　医师定期考核业务水平测评", 11, align=TA_CENTER),
                  Spacer(1, 4 * mm), _p("一、考试当天（按时间顺序）", 13.5), Spacer(1, 1 * mm)]
    flow += [_p(f.fill(t), 12, f"{i}. ", leading=17) for i, t in enumerate(T.INVIGILATOR_DAY, 1)]
    flow += [Spacer(1, 3 * mm), _p("二、出现问题时", 13.5), Spacer(1, 1 * mm)]
    for head, text in T.INVIGILATOR_PROBLEMS:
        flow.append(KeepTogether([_p(f"■ {head}", 13), _p(f.fill(text), 12, leading=17, leftIndent=5 * mm)]))
    flow += [Spacer(1, 4 * mm), _p(f"有疑问先找主考。{f.contacts()}", 12)]
    return _doc("监考员操作指南", f, flow)


def chief_checklist(db: Any) -> bytes:
    f = site_facts(db)
    flow: list = [_p("主考检查清单", 20, align=TA_CENTER), _p(f"{f.site}（{f.district}）", 11, align=TA_CENTER),
                  Spacer(1, 2 * mm),
                  _p(f.contacts("　　"), 12, align=TA_CENTER),
                  Spacer(1, 3 * mm)]
    width = L.usable_width()
    for head, items in (("考前", T.CHIEF_BEFORE), ("考中", T.CHIEF_DURING), ("考后", T.CHIEF_AFTER)):
        rows = [[_p("□", 14), _p(f.fill(t), 11, leading=15), ""] for t in items]
        table = Table([[_p(head, 13.5), "", _p("时间 / 签名", 9)]] + rows,
                      colWidths=[10 * mm, width - 45 * mm, 35 * mm])
        table.setStyle(L.grid([("SPAN", (0, 0), (1, 0))], size=11, pad=3))
        flow += [table, Spacer(1, 4 * mm)]
    return _doc("主考检查清单", f, flow)


def candidate_notice(db: Any) -> bytes:
    f = site_facts(db)
    flow: list = [_p("考生须知", 30, align=TA_CENTER, leading=36), _p(f"医师定期考核业务水平测评　{f.site}", 12, align=TA_CENTER),
                  Spacer(1, 5 * mm)]

    def section(title: str, items: list[str], size: float = 13.5, numbered: bool = True):
        flow.append(_p(title, 17))
        flow.append(Spacer(1, 1 * mm))
        for i, t in enumerate(items, 1):
            flow.append(_p(f.fill(t), size, f"{i}. " if numbered else "· ", leading=size * 1.4, leftIndent=3 * mm))
        flow.append(Spacer(1, 3 * mm))

    section("一、扫码登录", T.CANDIDATE_LOGIN)
    section("二、答题与交卷", T.CANDIDATE_ANSWER)
    section("三、手机出问题时", T.CANDIDATE_PHONE)
    flow.append(_p("四、以下行为本次成绩不合格", 17))
    flow.append(Spacer(1, 1 * mm))
    from contracts.exam import VIOLATIONS as V

    sub(flow, f"{V['cheating'].name}（{V['cheating'].result}）：", T.CANDIDATE_VOID_CHEATING, f)
    sub(flow, f"{V['serious'].name}（{V['serious'].result}）：", T.CANDIDATE_VOID_SERIOUS, f)
    return _doc("考生须知", f, flow)


def sub(flow: list, title: str, items: list[str], f: SiteFacts) -> None:
    flow.append(_p(title, 14))
    flow += [_p("· " + f.fill(t), 13, leading=18, leftIndent=5 * mm) for t in items]
    flow.append(Spacer(1, 2 * mm))


GUIDES = {"invigilator-guide": ("监考员操作指南", invigilator_guide),
          "chief-checklist": ("主考检查清单", chief_checklist),
          "candidate-notice": ("考生须知", candidate_notice)}
CHIEF_ONLY = {"chief-checklist"}
