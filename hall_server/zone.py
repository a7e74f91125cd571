"""The exam's time zone: the one zone every screen, phone and form shows times in.

A site laptop may be set to UTC or anything else; the exam's clock times (开考 09:00, 入场截止,
交卷时间, the room record) are the exam's local times. The zone comes from the bundle
(plan ``exam.timezone`` or ``site.timezone``, kept in meta ``timezone`` at import), else from
the config key ``site.timezone``. Its name is an IANA zone ("Asia/Shanghai").
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Mapping

from .config import DEFAULTS

DEFAULT = DEFAULTS["site"]["timezone"]
# How a zone is called on screen; others show as "UTC+hh:mm（name）".
NAMES_ZH = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间", "Asia/Urumqi": "乌鲁木齐时间"}


def name_for(meta: Mapping[str, str], cfg=None) -> str:
    """The bundle's zone, else the config's, else the default."""
    return (meta.get("timezone") or (cfg["site"]["timezone"] if cfg is not None else "") or DEFAULT).strip()


def get(name: str) -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:               # no tzdata on the box: China has had no DST since 1991
        return timezone(timedelta(hours=8), "CST") if name in NAMES_ZH else timezone.utc


def offset_minutes(tz: tzinfo, ts: float) -> int:
    return int(datetime.fromtimestamp(ts, tz).utcoffset().total_seconds() // 60)


def today(tz: tzinfo, ts: float) -> str:
    """The calendar date at ``ts`` in the exam's zone, ISO (the sittings' ``date``)."""
    return datetime.fromtimestamp(ts, tz).date().isoformat()


def utc_label(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{sign}{h:02d}:{m:02d}"


def label(name: str, tz: tzinfo, ts: float) -> str:
    """"北京时间（UTC+08:00）" """
    utc = utc_label(offset_minutes(tz, ts))
    return f"{NAMES_ZH[name]}（{utc}）" if name in NAMES_ZH else f"{utc}（{name}）"


def laptop_offset_minutes(ts: float) -> int:
    """The operating system's own zone on this laptop at ``ts``."""
    return int(datetime.fromtimestamp(ts).astimezone().utcoffset().total_seconds() // 60)
