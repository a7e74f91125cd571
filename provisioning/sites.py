"""The site list (考点): the format of sites.csv (the shipped copy: contracts/data/sites.csv)."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from contracts.shipped import SITES_CSV, read_csv_rows


@dataclass(frozen=True)
class Site:
    site_no: str
    district: str
    name: str
    exam_dates: tuple[str, ...]

    def as_plan(self) -> dict:
        return {"site_no": self.site_no, "name": self.name, "district": self.district,
                "exam_dates": list(self.exam_dates)}


def parse_dates(text: str) -> tuple[str, ...]:
    """'2023-09-04/2023-09-06' is an inclusive range (2-3 consecutive days);
    a ';' or '、' separated list is taken as is."""
    text = text.strip()
    for sep in (";", "、", "；"):
        if sep in text:
            return tuple(_dt.date.fromisoformat(p.strip()).isoformat() for p in text.split(sep) if p.strip())
    if "/" in text:
        a, b = (_dt.date.fromisoformat(p.strip()) for p in text.split("/", 1))
        if b < a:
            raise ValueError(f"日期范围颠倒: {text}")
        return tuple((a + _dt.timedelta(days=i)).isoformat() for i in range((b - a).days + 1))
    return (_dt.date.fromisoformat(text).isoformat(),)


def load_sites(path: str | Path | None = None) -> list[Site]:
    """The sites of ``path``; by default the 343 sites hall ships (contracts/data)."""
    if path is None:
        path = SITES_CSV
    sites = [Site(site_no=row["site_no"].strip(), district=row["district"].strip(),
                  name=row["site_name"].strip(), exam_dates=parse_dates(row["exam_dates"]))
             for row in read_csv_rows(path)]
    if not sites:
        raise ValueError(f"考点表为空: {path}")
    nos = [s.site_no for s in sites]
    if len(set(nos)) != len(nos):
        raise ValueError("考点表中考点编号重复")
    return sites
