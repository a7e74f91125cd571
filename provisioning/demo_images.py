"""Large synthetic question images for the demo bank, drawn with Pillow: a 12-lead ECG
(line art, PNG), a chest radiograph and a dental panoramic film (photographic, JPEG), an
epidemic curve (chart, PNG). Real A2/A3 items carry such images at these sizes; the phone's
layout and the WiFi load are only tested honestly with them. Every image is marked DEMO and
is deterministic for its seed (same bytes, same content hash, on every run)."""
from __future__ import annotations

import bisect
import io
import math
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ECG_SIZE = (1800, 760)        # 10 mm = 40 px: a 25 mm/s strip of 10 s on paper-like scale
XRAY_SIZE = (1100, 1300)
PANO_SIZE = (1700, 820)
CHART_SIZE = (1400, 820)
JPEG_QUALITY = 82


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:                 # an older Pillow: bitmap font, fixed size
        return ImageFont.load_default()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buf.getvalue()


def _noise(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Film grain from the seeded generator (Image.effect_noise is not reproducible)."""
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1])).filter(ImageFilter.GaussianBlur(1))


def _beat(t: float, st: float) -> float:
    """One PQRST complex, t in seconds from the R peak; millivolts."""
    def g(mu, sigma, a):
        return a * math.exp(-((t - mu) ** 2) / (2 * sigma ** 2))
    return (g(-0.2, 0.025, 0.15) + g(-0.04, 0.01, -0.12) + g(0, 0.012, 1.1) + g(0.035, 0.012, -0.3)
            + (st if 0.06 < t < 0.22 else 0) + g(0.3, 0.05, 0.3 + st))


def ecg(seed: int, label: str, irregular: bool = True, st_mv: float = 0.0) -> tuple[bytes, str]:
    """A 12-lead ECG on pink grid paper (3 rows of 4 leads + a lead II rhythm strip)."""
    rng = random.Random(seed)
    w, h = ECG_SIZE
    img = Image.new("RGB", (w, h), (255, 246, 246))
    d = ImageDraw.Draw(img)
    for x in range(0, w, 8):
        d.line((x, 0, x, h), fill=(250, 205, 205) if x % 40 else (235, 150, 150), width=1)
    for y in range(0, h, 8):
        d.line((0, y, w, y), fill=(250, 205, 205) if y % 40 else (235, 150, 150), width=1)
    px_s, px_mv = 160, 80             # 40 px per 10 mm: 25 mm/s = 100 px/s drawn at 1.6x, 10 mm/mV = 80 px
    beats, t = [], 0.2
    while t < w / px_s + 1:
        beats.append(t)
        t += rng.uniform(0.38, 0.95) if irregular else 0.75
    leads = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    rows = [leads[i::3] for i in range(3)]      # I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6
    font = _font(22)
    row_h = (h - 60) / 4
    span = int(0.5 * px_s)            # a complex is drawn from 0.5 s before to 0.5 s after its R peak
    for r in range(4):
        base = 40 + row_h * (r + 0.6)
        names = rows[r] if r < 3 else ("II",)
        seg = w / len(names)
        for k, name in enumerate(names):
            gain = {"aVR": -0.7, "III": 0.6, "V1": -0.5, "V2": 0.4}.get(name, 1.0)
            st = st_mv if name in ("II", "III", "aVF") else 0.0
            shape = [gain * _beat(i / px_s, st) for i in range(-span, span + 1)]
            pts = []
            for x in range(int(k * seg), int((k + 1) * seg)):
                tt = x / px_s
                i = bisect.bisect(beats, tt)
                near = beats[i - 1] if i and (i == len(beats) or tt - beats[i - 1] < beats[i] - tt) \
                    else beats[min(i, len(beats) - 1)]
                off = round((tt - near) * px_s)
                v = shape[off + span] if -span <= off <= span else 0.0
                if irregular:
                    v += 0.05 * math.sin(tt * 37 + rng.random())    # fibrillatory baseline
                pts.append((x, base - v * px_mv))
            d.line(pts, fill=(20, 20, 20), width=3)
            d.text((k * seg + 10, base - row_h * 0.55), name, fill=(0, 0, 0), font=font)
    d.text((w - 420, h - 40), f"25 mm/s  10 mm/mV   DEMO {label}", fill=(90, 0, 0), font=font)
    return _png(img.quantize(colors=16, method=Image.Quantize.FASTOCTREE)), "png"


def chest_xray(seed: int, label: str, lesion: bool = True) -> tuple[bytes, str]:
    """A posteroanterior chest radiograph: lung fields, ribs, heart shadow, spine."""
    rng = random.Random(seed)
    w, h = XRAY_SIZE
    img = Image.new("L", (w, h), 18)
    d = ImageDraw.Draw(img)
    d.ellipse((60, 40, w - 60, h + 200), fill=150)                         # soft tissue
    for side in (-1, 1):                                                   # lung fields
        cx = w / 2 + side * 230
        d.ellipse((cx - 210, 180, cx + 210, h - 180), fill=55)
    d.rectangle((w / 2 - 45, 60, w / 2 + 45, h), fill=185)                 # spine
    d.ellipse((w / 2 - 150, h / 2 - 40, w / 2 + 290, h / 2 + 330), fill=165)  # heart shadow
    for i in range(10):                                                    # ribs
        y = 210 + i * 82
        for side in (-1, 1):
            box = (w / 2 - 440 if side < 0 else w / 2 - 30, y - 60, w / 2 + 30 if side < 0 else w / 2 + 440, y + 140)
            d.arc(box, 190 if side < 0 else 250, 290 if side < 0 else 350, fill=140, width=14)
    if lesion:
        x, y = w / 2 + 260 + rng.randint(-40, 40), h / 2 - 180 + rng.randint(-40, 40)
        d.ellipse((x - 70, y - 60, x + 70, y + 60), fill=120)
    img = img.filter(ImageFilter.GaussianBlur(9))
    img = Image.blend(img, _noise(rng, (w, h)), 0.12)
    ImageDraw.Draw(img).text((30, h - 50), f"DEMO {label}  PA", fill=235, font=_font(30))
    return _jpeg(img), "jpg"


def dental_panoramic(seed: int, label: str) -> tuple[bytes, str]:
    """A dental panoramic film: both arches of teeth on the jaw bone, one carious tooth."""
    rng = random.Random(seed)
    w, h = PANO_SIZE
    img = Image.new("L", (w, h), 25)
    d = ImageDraw.Draw(img)
    d.ellipse((80, 60, w - 80, h + 260), fill=95)                          # mandible
    bad = rng.randrange(16)
    for arch, y0, sign in (("upper", h / 2 - 40, -1), ("lower", h / 2 + 40, 1)):
        for i in range(16):
            x = 230 + i * (w - 460) / 15
            tw, th = 62, 170 - abs(i - 7.5) * 6
            top = y0 if sign > 0 else y0 - th
            d.rounded_rectangle((x - tw / 2, top, x + tw / 2, top + th), 18, fill=215)
            root = (x - 14, top + th, x + 14, top + th + 110) if sign > 0 else (x - 14, top - 110, x + 14, top)
            d.rectangle(root, fill=175)
            if arch == "lower" and i == bad:
                d.ellipse((x - 20, top + 10, x + 20, top + 50), fill=70)   # the lesion the item asks about
    img = img.filter(ImageFilter.GaussianBlur(5))
    img = Image.blend(img, _noise(rng, (w, h)), 0.1)
    ImageDraw.Draw(img).text((30, h - 50), f"DEMO {label}  PANORAMIC", fill=230, font=_font(28))
    return _jpeg(img), "jpg"


def epidemic_curve(seed: int, label: str) -> tuple[bytes, str]:
    """Cases per day of onset: a point-source outbreak followed by secondary cases."""
    rng = random.Random(seed)
    w, h = CHART_SIZE
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    font = _font(26)
    left, bottom, top, right = 120, h - 110, 60, w - 40
    d.line((left, top, left, bottom), fill="black", width=3)
    d.line((left, bottom, right, bottom), fill="black", width=3)
    days = 28
    counts = [max(0, round(40 * math.exp(-((k - 6) ** 2) / 6) + 9 * math.exp(-((k - 17) ** 2) / 10)
                          + rng.uniform(-1.5, 2))) for k in range(days)]
    peak = max(counts) or 1
    bw = (right - left) / days
    for k, n in enumerate(counts):
        x = left + k * bw
        d.rectangle((x + 3, bottom - (bottom - top) * n / peak, x + bw - 3, bottom), fill=(60, 90, 160))
        if k % 2 == 0:
            d.text((x + 4, bottom + 12), str(k + 1), fill="black", font=font)
    for v in range(0, peak + 1, 10):
        y = bottom - (bottom - top) * v / peak
        d.line((left - 10, y, left, y), fill="black", width=2)
        d.text((left - 70, y - 14), str(v), fill="black", font=font)
    d.text((right - 520, h - 50), f"day of onset   (cases)   DEMO {label}", fill="black", font=font)
    return _png(img.quantize(colors=16, method=Image.Quantize.FASTOCTREE)), "png"
