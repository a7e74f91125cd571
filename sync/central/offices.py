"""The district assessment offices (区县定考办, seeds 000_… 附件6) and the sites each one owns.

The list is the one hall ships, read by contracts/offices.py (``contracts/data/district_offices.csv``: no, office,
phones, site_districts); a site belongs to the office whose name is its ``district`` in
sites.csv, or one of the office's ``site_districts`` (万盛区 for 万盛经开区). The city office
(市定考办) is the admin account, and the helpdesk line is not an office.
"""
from __future__ import annotations

from functools import lru_cache

from contracts.offices import CITY_OFFICE, district_offices


@lru_cache(maxsize=4)
def load_offices(path: str | None = None) -> tuple[dict, ...]:
    """The district offices: ({"no", "office", "phones", "account", "districts"}, ...)."""
    return tuple({"no": o.no, "office": o.name, "phones": o.phones_text, "account": o.account,
                  "districts": o.districts} for o in district_offices(path))


def office_by_name(name: str) -> dict | None:
    return next((o for o in load_offices() if o["office"] == name or o["account"] == name), None)


def office_of_district(district: str) -> str:
    """The office that owns a sites.csv district (市直属 sites: the city office itself)."""
    for o in load_offices():
        if district in o["districts"]:
            return o["office"]
    return CITY_OFFICE
