"""考场二维码 poster: what candidates scan at the door, with the room WiFi beside it."""
from __future__ import annotations

import io
from typing import Any

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from ..auth import room_codes
from . import layout as L
from .data import cn_date, planned_hm, reading

QR_SIZE = 112 * mm        # leaves room for the typed fallback and the notes below it
NETWORK_ADVICE = ("考试中请不要刷新或关闭考试页面，断网时尤其不要刷新（答案会自动保存）。请关闭手机的“WLAN+”、"
                  "“Wi-Fi 助理”等自动切换移动数据的功能。")


def qr_poster(db: Any, sitting_id: str, url: str, wifi_ssid: str, wifi_password: str,
              room_code: bool = True) -> bytes:
    """``room_code``: print the laptop's short address and the sitting's 4-character code as
    the typed fallback (off when the QR rotates: /k refuses codes then); else the QR URL."""
    with reading(db) as r:
        s = r.sitting(sitting_id)
        key = r.meta("site_key_private")
        code = (room_codes.codes_for(room_codes.secret_of(key), [x["sitting_id"] for x in r.sittings()])[sitting_id]
                if room_code and key else None)
    f = L.font()
    w, h = A4
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    c.setTitle(f"考场二维码 {s.room_name} 第{s.sitting_no}场")
    c.setAuthor("hall 考点服务器")
    if s.demo:
        L.draw_demo_banner(c, w, h, s.demo)

    y = h - 20 * mm
    c.setFont(f, 14)
    c.drawCentredString(w / 2, y, f"{s.title} · {s.site_name}")
    y -= 19 * mm
    c.setFont(f, 40)
    c.drawCentredString(w / 2, y, s.room_name)
    y -= 11 * mm
    c.setFont(f, 16)
    c.drawCentredString(w / 2, y, f"第 {s.sitting_no} 场   {cn_date(s.date)} {planned_hm(s.planned_start)} 开考")

    # WiFi box: the password is read off the wall, so big type and a frame.
    y -= 8 * mm
    box_h = 24 * mm
    c.setLineWidth(1.2)
    c.roundRect(L.MARGIN + 10 * mm, y - box_h, w - 2 * L.MARGIN - 20 * mm, box_h, 3 * mm)
    c.setFont(f, 18)
    c.drawString(L.MARGIN + 16 * mm, y - 10 * mm, "考场WiFi：" + wifi_ssid)
    c.drawString(L.MARGIN + 16 * mm, y - 19 * mm, "WiFi密码：" + (wifi_password or "（无密码）"))
    y -= box_h + 6 * mm

    c.setFont(f, 13)
    c.drawCentredString(w / 2, y, "考场二维码（连接上方WiFi后扫码）")
    y -= 3 * mm
    _draw_qr(c, url, (w - QR_SIZE) / 2, y - QR_SIZE, QR_SIZE)
    y -= QR_SIZE + 6 * mm

    text_w = w - 2 * L.MARGIN - 16 * mm
    if code:
        # Typed by hand: the laptop's address (a dozen characters), then the room code.
        address = origin(url)
        c.setFont(f, 12)
        c.drawCentredString(w / 2, y, "无法扫码时：① 在手机浏览器地址栏输入")
        y -= 9 * mm
        c.setFont(f, L.fit_size(address, text_w, 24, 14))
        c.drawCentredString(w / 2, y, address)
        y -= 8 * mm
        c.setFont(f, 12)
        c.drawCentredString(w / 2, y, "② 在打开的页面输入考场码")
        y -= 11 * mm
        c.setFont(f, 32)
        c.drawCentredString(w / 2, y, " ".join(code))
        y -= 8 * mm
    else:
        c.setFont(f, 10)
        c.drawCentredString(w / 2, y, "无法扫码时，在手机浏览器地址栏输入：")
        y -= 6 * mm
        size = L.fit_size(url, text_w, 14, 8)
        for line in simpleSplit(url, f, size, text_w):
            c.setFont(f, size)
            c.drawCentredString(w / 2, y, line)
            y -= size * 1.3
        y -= 4 * mm

    steps = [
        "① 连接考场WiFi（名称和密码见上方）",
        "② 用手机扫描二维码，打开考试页面",
        "③ 输入准考证号和身份证号后6位登录",
        "④ 核对姓名和试卷类别，按监考人员指示开始答题",
    ]
    rules = (f"请按《考生一览表》签到顺序扫码。试卷打开即开始计时；开考 {s.late_entry_s // 60} 分钟后不得入场，"
             f"打开试卷答题满 {s.earliest_submit_s // 60} 分钟后方可交卷（全场暂停的时间不计），时间到系统自动交卷。")
    c.setFont(f, 13)
    for line in steps:
        c.drawString(L.MARGIN + 14 * mm, y, line)
        y -= 7 * mm
    c.setFont(f, 10)
    c.setFillColor(colors.Color(.2, .2, .2))
    for line in wrap_cjk(rules, f, 10, w - 2 * L.MARGIN - 28 * mm):
        c.drawString(L.MARGIN + 14 * mm, y, line)
        y -= 5 * mm
    # A reload without WiFi shows the phone browser's own error page; a phone that slips onto
    # mobile data leaves the room's network. Both are avoidable if said before the exam.
    c.setFont(f, 11)
    c.setFillColor(colors.black)
    for line in wrap_cjk(NETWORK_ADVICE, f, 11, w - 2 * L.MARGIN - 28 * mm):
        c.drawString(L.MARGIN + 14 * mm, y, line)
        y -= 5.5 * mm
    c.showPage()
    c.save()
    return buf.getvalue()


def wrap_cjk(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines no wider than ``width``: Chinese has no spaces to break at (reportlab's
    simpleSplit would leave a sentence as one line running off the page)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, cur = [], ""
    for ch in text:
        if cur and stringWidth(cur + ch, font, size) > width:
            lines.append(cur)
            cur = ch.lstrip()
        else:
            cur += ch
    return lines + ([cur] if cur else [])


def origin(url: str) -> str:
    """http://192.168.1.23:8080/r/… -> http://192.168.1.23:8080"""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}" if u.scheme and u.netloc else url


def _draw_qr(c: Canvas, data: str, x: float, y: float, size: float) -> None:
    """Vector QR (crisp at any printer resolution), quiet zone included."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    m = qr.get_matrix()
    n = len(m)
    cell = size / n
    c.saveState()
    c.setFillColor(colors.black)
    for row, bits in enumerate(m):
        col = 0
        while col < n:  # one rectangle per horizontal run of dark modules
            if bits[col]:
                start = col
                while col < n and bits[col]:
                    col += 1
                c.rect(x + start * cell, y + (n - 1 - row) * cell, (col - start) * cell, cell,
                       stroke=0, fill=1)
            else:
                col += 1
    c.restoreState()
