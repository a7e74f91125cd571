"""The district assessment offices (区县定考办, seeds 000_… 附件6) and the sites each one owns.

The list is package data (``data/district_offices.csv``: no, office, phones); a site belongs
to the office whose name is its ``district`` in sites.csv, except the spellings below. The
city office (市定考办) is the admin account, and the helpdesk line is not an office.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

OFFICES_CSV = Path(__file__).with_name("data") / "district_offices.csv"
CITY_OFFICE = "市定考办"
NOT_OFFICES = {CITY_OFFICE, "系统客服"}
# sites.csv spells a few districts unlike the office list: office -> its sites' district names.
SITE_DISTRICTS = {"万盛经开区": ("万盛区",)}


@lru_cache(maxsize=4)
def load_offices(path: str | None = None) -> tuple[dict, ...]:
    """The district offices: ({"no", "office", "phones", "account", "districts"}, ...)."""
    with open(path or OFFICES_CSV, encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["office"] not in NOT_OFFICES]
    return tuple({"no": int(r["no"]), "office": r["office"], "phones": r["phones"],
                  "account": f"office-{int(r['no'])}",
                  "districts": SITE_DISTRICTS.get(r["office"], (r["office"],))} for r in rows)


def office_by_account(account: str) -> dict | None:
    return next((o for o in load_offices() if o["account"] == account), None)


def office_by_name(name: str) -> dict | None:
    return next((o for o in load_offices() if o["office"] == name or o["account"] == name), None)


def office_of_district(district: str) -> str:
    """The office that owns a sites.csv district (市直属 sites: the city office itself)."""
    for o in load_offices():
        if district in o["districts"]:
            return o["office"]
    return CITY_OFFICE
