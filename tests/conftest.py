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


def fast_plan(**kw):
    """Durations short enough to reach every rule within a test."""
    args = dict(duration_minutes=0.1, earliest_submit_minutes=0.02, late_entry_minutes=10)
    args.update(kw)
    return make_plan(**args)
