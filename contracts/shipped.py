"""The data hall ships in contracts/data/ (package data, so an installed copy has it too),
read by provisioning (sites for bundles), the hall (its demo site, the district office on
the chief's checklist) and the centre (every site's status, the district offices' accounts).

- sites.csv: the 343 exam sites and their dates (source notice 000_682d729caf8fcbab.txt 附件7)
- district_offices.csv: the district offices and their phone numbers (the same notice, 附件6)
Both cite their source in '#' comment lines, which `read_csv_rows` skips.
"""
from __future__ import annotations

import csv
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SITES_CSV = DATA_DIR / "sites.csv"
DISTRICT_OFFICES_CSV = DATA_DIR / "district_offices.csv"


def read_csv_rows(path: str | Path) -> list[dict]:
    """Rows of a CSV file whose leading '#' lines (the source citation) are comments."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))
