"""The district assessment offices (区县定考办) and their phone numbers, and which one a
site reports to (printed on the chief examiner's checklist)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .sites import read_csv_rows


@dataclass(frozen=True)
class Office:
    name: str
    phones: tuple[str, ...]
    site_districts: tuple[str, ...]     # how sites.csv names this office's district, if not `name`


def _split_phones(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in re.split(r"[、,，;；/ ]+", text) if p.strip())


def load_offices(path: str | Path | None = None) -> list[Office]:
    if path is None:
        from .packaged import DISTRICT_OFFICES_CSV as path
    offices = [Office(name=row["office"].strip(), phones=_split_phones(row["phones"]),
                      site_districts=_split_phones(row.get("site_districts") or ""))
               for row in read_csv_rows(path)]
    if not offices:
        raise ValueError(f"定考办联系表为空: {path}")
    return offices


def office_for_district(district: str, offices: list[Office] | None = None) -> Office | None:
    """The office a site of ``district`` (as sites.csv names it) reports to; None if unknown."""
    for o in offices if offices is not None else load_offices():
        if district == o.name or district in o.site_districts:
            return o
    return None


def office_by_name(name: str, offices: list[Office] | None = None) -> Office | None:
    return next((o for o in (offices if offices is not None else load_offices()) if o.name == name), None)
