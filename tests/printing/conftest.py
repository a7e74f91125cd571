"""Fixtures for the printing tests (helpers live in printing_helpers.py, a name that
cannot collide with another conftest)."""
import pytest

from printing_helpers import build_site


@pytest.fixture(scope="session")
def site_db(tmp_path_factory):
    db = build_site(tmp_path_factory.mktemp("printing") / "hall.db")
    yield db
    db.conn.close()
