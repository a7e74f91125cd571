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


@pytest.fixture
def exam_site(tmp_path, plan):
    """The exam service in-process on a manual clock (tests/inproc.py): for rule tests."""
    from inproc import Site

    s = Site(tmp_path / "site", plan)
    yield s
    s.close()
