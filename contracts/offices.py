"""The district assessment offices (区县定考办, seeds 000_… 附件6): their phone numbers, which
office a site reports to (the chief's checklist), and each office's centre account.

One reading of contracts/data/district_offices.csv (no, office, phones, site_districts): a
site belongs to the office whose name is its ``district`` in sites.csv, or one of the
office's ``site_districts`` (万盛区 for 万盛经开区; 市直属 sites report to the city office).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .shipped import DISTRICT_OFFICES_CSV, read_csv_rows

CITY_OFFICE = "市定考办"
NOT_OFFICES = {CITY_OFFICE, "系统客服"}     # rows of the list that are no district office


@dataclass(frozen=True)
class Office:
    name: str
    phones: tuple[str, ...]
    site_districts: tuple[str, ...]     # how sites.csv names this office's district, if not `name`
    no: int = 0
    phones_text: str = ""               # the phone numbers as printed in the notice

    @property
    def account(self) -> str:
        """The office's login at the centre."""
        return f"office-{self.no}"

    @property
    def districts(self) -> tuple[str, ...]:
        """Every sites.csv district this office owns (市直属 belongs to the city office)."""
        return (self.name, *[d for d in self.site_districts if d != "市直属"])


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in re.split(r"[、,，;；/ ]+", text) if p.strip())


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[Office, ...]:
    offices = tuple(Office(name=row["office"].strip(), phones=_split(row["phones"]),
                           site_districts=_split(row.get("site_districts") or ""), no=int(row["no"]),
                           phones_text=row["phones"])
                    for row in read_csv_rows(path))
    if not offices:
        raise ValueError(f"定考办联系表为空: {path}")
    return offices


def load_offices(path: str | Path | None = None) -> list[Office]:
    """Every row of the list: the district offices, the city office and the helpdesk."""
    return list(_load(str(path or DISTRICT_OFFICES_CSV)))


def district_offices(path: str | Path | None = None) -> list[Office]:
    """The district offices only (each gets a centre account)."""
    return [o for o in load_offices(path) if o.name not in NOT_OFFICES]


def office_for_district(district: str, offices: list[Office] | None = None) -> Office | None:
    """The office a site of ``district`` (as sites.csv names it) reports to; None if unknown."""
    for o in offices if offices is not None else load_offices():
        if district == o.name or district in o.site_districts:
            return o
    return None


def office_by_name(name: str, offices: list[Office] | None = None) -> Office | None:
    return next((o for o in (offices if offices is not None else load_offices()) if o.name == name), None)
