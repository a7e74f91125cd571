from pathlib import Path

import pytest

SITES_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "sites.csv"
if not SITES_CSV.exists():
    SITES_CSV = Path("/work/shared/data/sites.csv")


@pytest.fixture(scope="session")
def sites_csv() -> Path:
    return SITES_CSV
