from pathlib import Path

import pytest

from contracts.shipped import SITES_CSV   # the copy the repo ships


@pytest.fixture(scope="session")
def sites_csv() -> Path:
    return SITES_CSV
