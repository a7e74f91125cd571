"""The district assessment offices (区县定考办, seeds 000_… 附件6) and the sites each one owns.

The list is the one hall ships (``provisioning/data/district_offices.csv``: no, office,
phones, site_districts); a site belongs to the office whose name is its ``district`` in
sites.csv, or one of the office's ``site_districts`` (万盛区 for 万盛经开区). The city office
(市定考办) is the admin account, and the helpdesk line is not an office.
"""
from __future__ import annotations

from functools import lru_cache

from provisioning.packaged import DISTRICT_OFFICES_CSV as OFFICES_CSV
from provisioning.sites import read_csv_rows

CITY_OFFICE = "市定考办"
NOT_OFFICES = {CITY_OFFICE, "系统客服"}


@lru_cache(maxsize=4)
def load_offices(path: str | None = None) -> tuple[dict, ...]:
    """The district offices: ({"no", "office", "phones", "account", "districts"}, ...)."""
    rows = [r for r in read_csv_rows(path or OFFICES_CSV) if r["office"] not in NOT_OFFICES]
    return tuple({"no": int(r["no"]), "office": r["office"], "phones": r["phones"],
                  "account": f"office-{int(r['no'])}",
                  "districts": (r["office"], *[d.strip() for d in (r.get("site_districts") or "").split("、")
                                               if d.strip() and d.strip() != "市直属"])} for r in rows)


def office_by_name(name: str) -> dict | None:
    return next((o for o in load_offices() if o["office"] == name or o["account"] == name), None)


def office_of_district(district: str) -> str:
    """The office that owns a sites.csv district (市直属 sites: the city office itself)."""
    for o in load_offices():
        if district in o["districts"]:
            return o["office"]
    return CITY_OFFICE
