"""The data hall ships in provisioning/data/ (package data, so an installed copy has it too).

- sites.csv: the 343 exam sites and their dates (source notice 000_682d729caf8fcbab.txt 附件7)
- district_offices.csv: the district offices and their phone numbers (the same notice, 附件6)
Both cite their source in '#' comment lines, which every reader here skips.
"""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SITES_CSV = DATA_DIR / "sites.csv"
DISTRICT_OFFICES_CSV = DATA_DIR / "district_offices.csv"
