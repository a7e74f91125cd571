"""Room QR codes: as a PNG for the console and posters, and as text for the terminal."""
from __future__ import annotations

import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def _make(url: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4, box_size=10)
    qr.add_data(url)
    qr.make(fit=True)
    return qr


def qr_png(url: str, box_size: int = 10) -> bytes:
    qr = _make(url)
    qr.box_size = box_size
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    return buf.getvalue()


def qr_terminal(url: str) -> str:
    """Half-block rendering: two QR rows per text line, dark modules on a light terminal
    would be inverted, so draw light modules as blocks (works on dark terminals)."""
    qr = _make(url)
    m = qr.get_matrix()
    lines = []
    for y in range(0, len(m), 2):
        top, bot = m[y], (m[y + 1] if y + 1 < len(m) else [False] * len(m[y]))
        line = []
        for a, b in zip(top, bot):
            line.append({(False, False): "█", (True, False): "▄", (False, True): "▀", (True, True): " "}[(a, b)])
        lines.append("".join(line))
    return "\n".join(lines)
