"""The one CJK font every printed form uses: WenQuanYi Micro Hei from Debian.

Registered once per process with reportlab. Micro Hei has a single weight, so the
"bold" member of the family is the same face: forms get emphasis from size, not weight.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "WQYMicroHei"
DEBIAN_PACKAGE = "fonts-wqy-microhei"
KNOWN_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/local/share/fonts/wqy-microhei.ttc",
)


class FontMissing(RuntimeError):
    pass


def find_font_file() -> Path:
    for p in KNOWN_PATHS:
        if Path(p).is_file():
            return Path(p)
    # fc-match answers with a fallback face when the font is absent: accept only Micro Hei.
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}", "WenQuanYi Micro Hei"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and "microhei" in out.lower() and Path(out).is_file():
            return Path(out)
    raise FontMissing(
        "找不到文泉驿微米黑字体 (WenQuanYi Micro Hei), needed to print Chinese forms. "
        f"Install the Debian package: sudo apt-get install {DEBIAN_PACKAGE}"
    )


def register_fonts() -> str:
    """Register the CJK font (idempotent) and return its reportlab name."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT
    path = find_font_file()
    # .ttc holds Micro Hei (0) and Micro Hei Mono (1); subset embedding keeps PDFs small.
    pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(FONT, bold, italic, FONT)
    return FONT
