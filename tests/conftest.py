import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factories import make_plan  # noqa: E402
from hallproc import HallProcess  # noqa: E402


@pytest.fixture
def plan():
    return make_plan()


@pytest.fixture
def hall(tmp_path, plan):
    h = HallProcess(tmp_path / "hall", plan).start()
    yield h
    h.stop()
