"""放行码信封: the sealed-envelope sheet of a site's release codes, printed at provisioning.

A sitting's papers open only with its release code (放行码), which the county office gives
the chief examiner by phone at the start. When the office cannot be reached, the chief opens
that sitting's sealed envelope instead. One A4 page per sitting, cut in three along the
dashed lines:

1. the envelope's face: site, sitting, room, date, time and the envelope's seal number (封条号);
2. the slip inside: the release code, large;
3. the tear-off stub: the seal number again, with blanks for time and signatures. The chief
   tears it off when opening and hands it back with the forms; the seal number is typed
   into the console at 宣布开考 and checked against the bundle, which carries every
   sitting's seal number (``sittings[].envelope_seal``), so the record names the envelope.
"""
from __future__ import annotations

import io
import secrets

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

SEAL_DIGITS = 8


def new_seal_no() -> str:
    """8 random digits: printed on the envelope, not a secret (the code inside is)."""
    return "".join(secrets.choice("0123456789") for _ in range(SEAL_DIGITS))


from contracts.site_bundle import normalize_seal  # noqa: E402,F401 (the bundle's rule, used by the hall too)


def add_seals(plan: dict) -> dict[str, str]:
    """Give every sitting of ``plan`` a seal number (kept if it has one); {sitting_id: seal}."""
    seen: set[str] = set()
    for s in plan["sittings"]:
        seal = s.get("envelope_seal")
        while not seal or seal in seen:
            seal = new_seal_no()
        s["envelope_seal"] = seal
        seen.add(seal)
    return {s["sitting_id"]: s["envelope_seal"] for s in plan["sittings"]}


def font() -> str:
    from contracts.fonts import register_fonts

    return register_fonts()


def draw_demo_banner(c: Canvas, width: float, height: float) -> None:
    """Synthetic demo data must never pass for a real envelope."""
    from reportlab.lib import colors

    c.saveState()
    c.setFillColor(colors.red)
    c.setFont(font(), 10)
    c.drawCentredString(width / 2, height - 7 * mm, "【演示数据 · 非正式考试记录】")
    c.restoreState()


def _dashed(c: Canvas, y: float, w: float, label: str) -> None:
    c.saveState()
    c.setDash(4, 3)
    c.setLineWidth(0.8)
    c.line(8 * mm, y, w - 8 * mm, y)
    c.setDash()
    c.setFont(font(), 8)
    c.drawString(10 * mm, y + 1.5 * mm, "【剪开线】" + label)
    c.restoreState()


def envelope_sheet(site_no: str, site_name: str, district: str, plan: dict, codes: dict[str, str],
                   demo: bool = False) -> bytes:
    """The printable sheet: one page per sitting of ``plan`` (its sittings carry
    ``envelope_seal``), ``codes``: {sitting_id: release code}."""
    rooms = {r["room_id"]: r["name"] for r in plan["rooms"]}
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    c.setTitle(f"放行码信封 考点{site_no} {site_name}")
    c.setAuthor("hall 考点数据包制作")
    w, h = A4
    f = font()
    sittings = sorted(plan["sittings"], key=lambda s: (s["planned_start"], s["sitting_id"]))
    for n, s in enumerate(sittings, 1):
        sid, seal = s["sitting_id"], s["envelope_seal"]
        room = rooms.get(s["room_id"], s["room_id"])
        when = f"{s['date']}  {s['planned_start'][11:16]}"
        if demo:
            draw_demo_banner(c, w, h)
        # 1. the envelope's face
        top = h - 16 * mm
        c.setFont(f, 18)
        c.drawCentredString(w / 2, top, "放行码信封（机密 · 密封）")
        c.setFont(f, 12)
        c.drawCentredString(w / 2, top - 9 * mm, f"考点 {site_no}　{site_name}（{district}）")
        c.setFont(f, 16)
        c.drawCentredString(w / 2, top - 20 * mm, f"第 {s['sitting_no']} 场　{room}　场次编号 {sid}")
        c.setFont(f, 13)
        c.drawCentredString(w / 2, top - 29 * mm, f"考试日期与开考时间：{when}")
        c.setFont(f, 22)
        c.drawCentredString(w / 2, top - 43 * mm, f"封条号  {seal}")
        c.setFont(f, 10.5)
        for i, line in enumerate((
                "本信封内为该场次试卷的放行码。开考时先电话向区县定考办索取放行码；",
                "仅在联系不上区县定考办时，由主考当众开启本场次信封。",
                "开启时：撕下本页底部的撕下联，在控制台“宣布开考”中选择“开启密封信封”，输入放行码和封条号。")):
            c.drawCentredString(w / 2, top - 54 * mm - i * 5.5 * mm, line)
        _dashed(c, h * 2 / 3 - 8 * mm, w, "沿虚线剪下：以上贴于信封正面；以下内页装入信封")
        # 2. the slip inside
        mid = h * 2 / 3 - 22 * mm
        c.setFont(f, 14)
        c.drawCentredString(w / 2, mid, f"放行码内页　考点 {site_no}　第 {s['sitting_no']} 场　{room}　{sid}")
        c.setFont(f, 12)
        c.drawCentredString(w / 2, mid - 9 * mm, f"{when}　封条号 {seal}")
        c.setFont("Courier-Bold", 34)
        c.drawCentredString(w / 2, mid - 30 * mm, codes[sid])
        c.setFont(f, 10.5)
        c.drawCentredString(w / 2, mid - 42 * mm, "放行码不含 0、O、1、I、L；字母大小写、空格和短横线均可。只用于本场次，请勿外传。")
        _dashed(c, h / 3 - 4 * mm, w, "沿虚线剪下：以下为撕下联，贴于信封封口处，开启时撕下")
        # 3. the tear-off stub
        low = h / 3 - 18 * mm
        c.setFont(f, 14)
        c.drawCentredString(w / 2, low, "撕下联（开启时撕下，随考场情况记录表交回区县定考办）")
        c.setFont(f, 20)
        c.drawCentredString(w / 2, low - 14 * mm, f"封条号  {seal}")
        c.setFont(f, 12)
        c.drawCentredString(w / 2, low - 25 * mm, f"考点 {site_no}　第 {s['sitting_no']} 场　{room}　{sid}　{when}")
        c.drawString(20 * mm, low - 42 * mm, "开启时间：______月____日____时____分")
        c.drawString(110 * mm, low - 42 * mm, "开启人（主考）签名：____________")
        c.drawString(20 * mm, low - 54 * mm, "未能联系区县定考办的原因：__________________________")
        c.drawString(130 * mm, low - 54 * mm, "见证人签名：__________")
        c.setFont(f, 9)
        c.drawCentredString(w / 2, 8 * mm, f"第 {n} 页 共 {len(sittings)} 页")
        c.showPage()
    c.save()
    return buf.getvalue()
